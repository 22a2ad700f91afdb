-- Every foreign key (validated or not) with its columns, to count rows whose parent is missing.
-- Columns: schema, table_name, constraint_name, columns (text[]), parent_schema, parent_table,
-- parent_columns (text[]), in key order. Parameter: the schemas (text[]). PostgreSQL 12+.
SELECT n.nspname AS schema, t.relname AS table_name, c.conname AS constraint_name,
       ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns,
       pn.nspname AS parent_schema, p.relname AS parent_table,
       ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.ord)
         AS parent_columns
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_class p ON p.oid = c.confrelid
JOIN pg_namespace pn ON pn.oid = p.relnamespace
WHERE c.contype = 'f' AND c.conparentid = 0 AND n.nspname = ANY(%(schemas)s)
ORDER BY 1, 2, 3
