-- The indexes of one schema with the table each belongs to: DROP INDEX (or REINDEX INDEX) locks
-- that table, which the migration's statements name only through the index.
-- Columns: index_name, table_name.
-- Parameters: %(schema)s text.
-- Oldest supported version: PostgreSQL 12.
SELECT ic.relname::text AS index_name, c.relname::text AS table_name
  FROM pg_index i
  JOIN pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_class c ON c.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = ic.relnamespace
 WHERE n.nspname = %(schema)s
 ORDER BY 1
