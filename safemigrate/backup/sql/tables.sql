-- The ordinary tables of one schema a backup can hold (partitioned tables, views, foreign tables
-- and materialized views are left out), by name.
-- Columns: name.
-- Parameters: %(schema)s text.
-- Oldest supported version: PostgreSQL 12.
SELECT c.relname AS name
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %(schema)s AND c.relkind = 'r' AND NOT c.relispartition
 ORDER BY c.relname COLLATE "C"
