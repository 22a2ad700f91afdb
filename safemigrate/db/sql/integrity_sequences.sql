-- Sequences that feed a column (serial or identity), to compare their next value with the column's
-- largest value. Columns: schema, sequence_name, table_name, column_name, increment, readable (the
-- role may SELECT from the sequence, which tells last_value and is_called), used_last_value (the last
-- value nextval gave, from pg_sequences: NULL before the first nextval, after setval(..., false) or
-- ALTER SEQUENCE ... RESTART, and without privilege on the sequence). Parameter: the schemas
-- (text[]). PostgreSQL 12+.
SELECT sn.nspname AS schema, s.relname AS sequence_name, t.relname AS table_name, a.attname AS column_name,
       q.seqincrement AS increment, has_sequence_privilege(s.oid, 'SELECT') AS readable,
       ps.last_value AS used_last_value
FROM pg_class s
JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_sequence q ON q.seqrelid = s.oid
JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
                 AND d.deptype IN ('a', 'i')
JOIN pg_class t ON t.oid = d.refobjid
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
JOIN pg_sequences ps ON ps.schemaname = sn.nspname AND ps.sequencename = s.relname
WHERE s.relkind = 'S' AND sn.nspname = ANY(%(schemas)s)
ORDER BY 1, 2
