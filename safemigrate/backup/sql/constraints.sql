-- The table constraints of one table (primary key, unique, check, exclusion, foreign key; the
-- NOT NULL constraints of PostgreSQL 18 are left out: columns carry not_null), by name.
-- Columns: name, kind (p|u|c|x|f), definition (pg_get_constraintdef), referenced_schema,
--   referenced_table (foreign keys only, else NULL).
-- Parameters: %(schema)s text, %(table)s text.
-- Oldest supported version: PostgreSQL 12.
SELECT con.conname AS name,
       con.contype::text AS kind,
       pg_get_constraintdef(con.oid) AS definition,
       rn.nspname AS referenced_schema,
       rc.relname AS referenced_table
  FROM pg_constraint con
  JOIN pg_class c ON c.oid = con.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_class rc ON rc.oid = con.confrelid
  LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
 WHERE n.nspname = %(schema)s AND c.relname = %(table)s AND con.contype IN ('p', 'u', 'c', 'x', 'f')
   AND con.conparentid = 0
 ORDER BY con.contype = 'f', con.conname COLLATE "C"
