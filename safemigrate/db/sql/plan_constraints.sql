-- The foreign key, CHECK and NOT NULL constraints of the tables a plan checks, for VALIDATE CONSTRAINT
-- of a constraint that exists today (what it checks is known only from the catalog).
-- Columns: schema_name, table_name, constraint_name, kind (f foreign key, c check, n not null),
--          validated (pg_constraint.convalidated), columns (text[], in key order),
--          parent_schema, parent_table, parent_columns (text[]; foreign keys only, else NULL / {}),
--          expression (a CHECK's condition as pg_get_expr deparses it, columns unqualified; else NULL).
-- Parameters: %(schemas)s text[], %(names)s text[]: the tables as (schema, name) pairs.
-- Oldest supported version: PostgreSQL 12 (NOT NULL constraints appear in pg_constraint from 18).
SELECT n.nspname::text AS schema_name,
       c.relname::text AS table_name,
       con.conname::text AS constraint_name,
       con.contype::text AS kind,
       con.convalidated AS validated,
       coalesce((SELECT array_agg(a.attname::text ORDER BY k.position)
                 FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, position)
                 JOIN pg_catalog.pg_attribute AS a ON a.attrelid = con.conrelid AND a.attnum = k.attnum),
                '{}'::text[]) AS columns,
       pn.nspname::text AS parent_schema,
       pc.relname::text AS parent_table,
       coalesce((SELECT array_agg(a.attname::text ORDER BY k.position)
                 FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, position)
                 JOIN pg_catalog.pg_attribute AS a ON a.attrelid = con.confrelid AND a.attnum = k.attnum),
                '{}'::text[]) AS parent_columns,
       CASE WHEN con.contype = 'c' THEN pg_catalog.pg_get_expr(con.conbin, con.conrelid) END AS expression
FROM unnest(%(schemas)s::text[], %(names)s::text[]) AS wanted(schema_name, table_name)
JOIN pg_catalog.pg_namespace AS n ON n.nspname = wanted.schema_name
JOIN pg_catalog.pg_class AS c ON c.relnamespace = n.oid AND c.relname = wanted.table_name
JOIN pg_catalog.pg_constraint AS con ON con.conrelid = c.oid AND con.contype IN ('f', 'c', 'n')
LEFT JOIN pg_catalog.pg_class AS pc ON pc.oid = con.confrelid
LEFT JOIN pg_catalog.pg_namespace AS pn ON pn.oid = pc.relnamespace
ORDER BY 1, 2, 3
