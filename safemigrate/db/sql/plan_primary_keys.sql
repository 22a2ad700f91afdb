-- The primary key columns of the tables a plan checks (the keys shown for offending rows).
-- Columns: schema_name, table_name, columns (text[], in key order).
-- Parameters: %(schemas)s text[], %(names)s text[]: the tables as (schema, name) pairs.
-- Oldest supported version: PostgreSQL 12.
SELECT n.nspname::text AS schema_name,
       c.relname::text AS table_name,
       array_agg(a.attname::text ORDER BY k.position) AS columns
FROM unnest(%(schemas)s::text[], %(names)s::text[]) AS wanted(schema_name, table_name)
JOIN pg_catalog.pg_namespace AS n ON n.nspname = wanted.schema_name
JOIN pg_catalog.pg_class AS c ON c.relnamespace = n.oid AND c.relname = wanted.table_name
JOIN pg_catalog.pg_constraint AS con ON con.conrelid = c.oid AND con.contype = 'p'
CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, position)
JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = k.attnum
GROUP BY 1, 2
ORDER BY 1, 2
