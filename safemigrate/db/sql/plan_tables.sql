-- Live size of the tables a plan looks at: the planner's row estimate and the size on disk.
-- Columns: schema_name, table_name, reltuples (float8; -1 when never analysed, PostgreSQL 14+),
--          relpages, total_bytes (pg_total_relation_size: heap, indexes and TOAST).
-- Parameters: %(schemas)s text[], %(names)s text[]: the tables as (schema, name) pairs.
-- Oldest supported version: PostgreSQL 12.
SELECT n.nspname::text AS schema_name,
       c.relname::text AS table_name,
       c.reltuples::float8 AS reltuples,
       c.relpages::bigint AS relpages,
       pg_catalog.pg_total_relation_size(c.oid) AS total_bytes
FROM unnest(%(schemas)s::text[], %(names)s::text[]) AS wanted(schema_name, table_name)
JOIN pg_catalog.pg_namespace AS n ON n.nspname = wanted.schema_name
JOIN pg_catalog.pg_class AS c ON c.relnamespace = n.oid AND c.relname = wanted.table_name
WHERE c.relkind IN ('r', 'p', 'm')
ORDER BY 1, 2
