-- The labels of enum types, in their sort order (a column converted to one must hold only these).
-- Columns: schema_name, type_name, labels (text[]).
-- Parameters: %(schemas)s text[], %(names)s text[]: the types as (schema, name) pairs.
-- Oldest supported version: PostgreSQL 12.
SELECT n.nspname::text AS schema_name,
       t.typname::text AS type_name,
       array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
FROM unnest(%(schemas)s::text[], %(names)s::text[]) AS wanted(schema_name, type_name)
JOIN pg_catalog.pg_namespace AS n ON n.nspname = wanted.schema_name
JOIN pg_catalog.pg_type AS t ON t.typnamespace = n.oid AND t.typname = wanted.type_name
JOIN pg_catalog.pg_enum AS e ON e.enumtypid = t.oid
GROUP BY 1, 2
ORDER BY 1, 2
