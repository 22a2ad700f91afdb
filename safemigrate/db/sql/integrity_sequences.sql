-- Sequences that feed a column (serial or identity), with their position, to compare with the
-- column's largest value. Columns: schema, sequence_name, table_name, column_name, last_value (NULL
-- before the first nextval), start_value, increment. Parameter: the schemas (text[]). PostgreSQL 12+.
SELECT sn.nspname AS schema, s.relname AS sequence_name, t.relname AS table_name, a.attname AS column_name,
       ps.last_value, ps.start_value, ps.increment_by AS increment
FROM pg_class s
JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
                 AND d.deptype IN ('a', 'i')
JOIN pg_class t ON t.oid = d.refobjid
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
JOIN pg_sequences ps ON ps.schemaname = sn.nspname AND ps.sequencename = s.relname
WHERE s.relkind = 'S' AND sn.nspname = ANY(%(schemas)s)
ORDER BY 1, 2
