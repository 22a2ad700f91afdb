-- The columns of the relations to fingerprint, in their table's column order (attnum): dropped and
-- system columns left out. Generated columns are included (stored ones hold data; PostgreSQL 18's
-- virtual ones are computed when read, and a change of their expression shows in their hash).
-- Columns: relation, name.
-- Parameters: %(schema)s text, %(tables)s text[] (the relations' names).
-- Oldest supported version: PostgreSQL 12.
SELECT c.relname AS relation,
       a.attname AS name
  FROM pg_catalog.pg_attribute AS a
  JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
  JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
 WHERE n.nspname = %(schema)s
   AND c.relname = ANY(%(tables)s::text[])
   AND a.attnum > 0
   AND NOT a.attisdropped
 ORDER BY c.relname COLLATE "C", a.attnum;
