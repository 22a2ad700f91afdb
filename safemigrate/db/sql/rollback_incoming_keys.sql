-- Foreign keys of other tables (in any schema) that reference one of the tables: DROP TABLE needs
-- them gone first; they are added back once the tables are recreated.
-- Columns: child_schema, child_table, constraint_name, definition (pg_get_constraintdef).
-- Parameters: %(schema)s text, %(tables)s text[].
-- Oldest supported version: PostgreSQL 12.
SELECT cn.nspname::text AS child_schema,
       child.relname::text AS child_table,
       c.conname::text AS constraint_name,
       pg_get_constraintdef(c.oid) AS definition
  FROM pg_constraint AS c
  JOIN pg_class AS child ON child.oid = c.conrelid
  JOIN pg_namespace AS cn ON cn.oid = child.relnamespace
  JOIN pg_class AS parent ON parent.oid = c.confrelid
  JOIN pg_namespace AS n ON n.oid = parent.relnamespace
 WHERE c.contype = 'f'
   AND n.nspname = %(schema)s
   AND parent.relname = ANY(%(tables)s)
   AND NOT (child.relname = ANY(%(tables)s) AND child.relnamespace = parent.relnamespace)
 ORDER BY cn.nspname COLLATE "C", child.relname COLLATE "C", c.conname COLLATE "C"
