-- The sequences owned by the columns of one table: serial (OWNED BY) and identity sequences.
-- Their current values are read by a second, composed query (SELECT last_value, is_called FROM it).
-- Columns: column_name, schema, name, data_type, start_value, increment, min_value, max_value,
--   cache, cycle, identity.
-- Parameters: %(schema)s text, %(table)s text.
-- Oldest supported version: PostgreSQL 12 (pg_sequence exists since 10).
SELECT a.attname AS column_name,
       sn.nspname AS schema,
       sc.relname AS name,
       format_type(s.seqtypid, NULL) AS data_type,
       s.seqstart AS start_value,
       s.seqincrement AS increment,
       s.seqmin AS min_value,
       s.seqmax AS max_value,
       s.seqcache AS cache,
       s.seqcycle AS cycle,
       d.deptype = 'i' AS identity
  FROM pg_depend d
  JOIN pg_class sc ON sc.oid = d.objid AND sc.relkind = 'S'
  JOIN pg_namespace sn ON sn.oid = sc.relnamespace
  JOIN pg_sequence s ON s.seqrelid = sc.oid
  JOIN pg_class c ON c.oid = d.refobjid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.refobjsubid
 WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
   AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
   AND n.nspname = %(schema)s AND c.relname = %(table)s
 ORDER BY a.attnum
