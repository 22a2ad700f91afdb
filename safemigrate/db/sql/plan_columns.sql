-- The columns of the tables a plan checks, with their current types.
-- Columns: schema_name, table_name, column_name, type_name (pg_type.typname: int4, varchar, a user
--          type; _int4 for arrays), type_category (pg_type.typcategory: S string, N numeric, E enum,
--          A array, ...), type_modifier (atttypmod: -1 when none; varchar(n) stores n + 4),
--          formatted_type (format_type: character varying(50)), not_null.
-- Parameters: %(schemas)s text[], %(names)s text[]: the tables as (schema, name) pairs.
-- Oldest supported version: PostgreSQL 12.
SELECT n.nspname::text AS schema_name,
       c.relname::text AS table_name,
       a.attname::text AS column_name,
       t.typname::text AS type_name,
       t.typcategory::text AS type_category,
       a.atttypmod AS type_modifier,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS formatted_type,
       a.attnotnull AS not_null
FROM unnest(%(schemas)s::text[], %(names)s::text[]) AS wanted(schema_name, table_name)
JOIN pg_catalog.pg_namespace AS n ON n.nspname = wanted.schema_name
JOIN pg_catalog.pg_class AS c ON c.relnamespace = n.oid AND c.relname = wanted.table_name
JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_catalog.pg_type AS t ON t.oid = a.atttypid
ORDER BY 1, 2, a.attnum
