-- The check and foreign key constraints of the given tables that were added NOT VALID and never
-- validated: rows loaded into those tables need not satisfy them, so a restore drops them before
-- the load and adds them back NOT VALID after it (pg_dump also adds them after the data). Only
-- constraints of the table's own: an inherited one cannot be dropped from the child (it goes and
-- comes back with the parent's).
-- Columns: table_name, name, definition (pg_get_constraintdef, ending in NOT VALID).
-- Parameters: %(schema)s text, %(tables)s text[].
-- Oldest supported version: PostgreSQL 12.
SELECT c.relname AS table_name,
       con.conname AS name,
       pg_get_constraintdef(con.oid) AS definition
  FROM pg_constraint con
  JOIN pg_class c ON c.oid = con.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %(schema)s AND c.relname = ANY(%(tables)s)
   AND con.contype IN ('c', 'f') AND NOT con.convalidated AND con.conparentid = 0
   AND con.coninhcount = 0
 ORDER BY c.relname COLLATE "C", con.conname COLLATE "C"
