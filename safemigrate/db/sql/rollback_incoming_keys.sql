-- Foreign keys of other tables that reference one of the tables (DROP TABLE ... CASCADE removes them).
SELECT child.relname, c.conname, pg_get_constraintdef(c.oid)
  FROM pg_constraint AS c
  JOIN pg_class AS child ON child.oid = c.conrelid
  JOIN pg_class AS parent ON parent.oid = c.confrelid
  JOIN pg_namespace AS n ON n.oid = parent.relnamespace
 WHERE c.contype = 'f'
   AND n.nspname = %(schema)s
   AND parent.relname = ANY(%(tables)s)
   AND NOT (child.relname = ANY(%(tables)s) AND child.relnamespace = parent.relnamespace)
