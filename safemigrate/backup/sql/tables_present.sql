-- Which of the given tables exist (ordinary or partitioned), each named by schema and name: the
-- tables the foreign keys of recreated tables reference, in whatever schema.
-- Columns: schema_name, table_name.
-- Parameters: %(schemas)s text[], %(tables)s text[] (the same length: pairs).
-- Oldest supported version: PostgreSQL 12.
SELECT n.nspname::text AS schema_name, c.relname::text AS table_name
  FROM unnest(%(schemas)s::text[], %(tables)s::text[]) AS wanted(schema_name, table_name)
  JOIN pg_namespace n ON n.nspname = wanted.schema_name
  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = wanted.table_name AND c.relkind IN ('r', 'p')
