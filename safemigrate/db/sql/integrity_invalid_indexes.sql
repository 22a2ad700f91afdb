-- Indexes PostgreSQL does not use because they are not valid (an interrupted CREATE INDEX
-- CONCURRENTLY, a failed REINDEX CONCURRENTLY).
-- Columns: schema, table_name, index_name, definition. Parameter: the schemas (text[]).
-- PostgreSQL 12+.
SELECT n.nspname AS schema, t.relname AS table_name, i.relname AS index_name,
       pg_get_indexdef(i.oid) AS definition
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE NOT x.indisvalid AND n.nspname = ANY(%(schemas)s)
ORDER BY 1, 2, 3
