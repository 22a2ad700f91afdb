-- Constraints added NOT VALID and never validated: existing rows were not checked.
-- Columns: schema, table_name, constraint_name, kind (foreign key / check / not null), definition.
-- Parameter: the schemas (text[]). PostgreSQL 12+.
SELECT n.nspname AS schema, t.relname AS table_name, c.conname AS constraint_name,
       CASE c.contype WHEN 'f' THEN 'foreign key' WHEN 'c' THEN 'check' WHEN 'n' THEN 'not null'
                      ELSE c.contype::text END AS kind,
       pg_get_constraintdef(c.oid) AS definition
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE NOT c.convalidated AND n.nspname = ANY(%(schemas)s)
ORDER BY 1, 2, 3
