-- Sequences of the snapshotted schemas (serial and identity sequences included); those of
-- extensions are left out. Their current values are read by a second, composed query (a sequence
-- is a relation of its own: SELECT last_value, is_called FROM it).
-- Columns: schema, name, data_type, start_value, increment, min_value, max_value, cache, cycle,
--   owned_by (quoted schema.table.column of an OWNED BY or identity column, else NULL),
--   identity (true for the sequence of an identity column), readable (has_sequence_privilege SELECT:
--   the values are read only then).
-- Parameters: %(schemas)s text[].
-- Oldest supported version: PostgreSQL 12 (pg_sequence exists since 10).
SELECT n.nspname AS schema,
       c.relname AS name,
       format_type(s.seqtypid, NULL) AS data_type,
       s.seqstart AS start_value,
       s.seqincrement AS increment,
       s.seqmin AS min_value,
       s.seqmax AS max_value,
       s.seqcache AS cache,
       s.seqcycle AS cycle,
       (SELECT quote_ident(tn.nspname) || '.' || quote_ident(tc.relname) || '.' || quote_ident(a.attname)
          FROM pg_depend d
          JOIN pg_class tc ON tc.oid = d.refobjid
          JOIN pg_namespace tn ON tn.oid = tc.relnamespace
          JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
         WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
           AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0
           AND d.deptype IN ('a', 'i')) AS owned_by,
       EXISTS (SELECT 1 FROM pg_depend d
                WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i') AS identity,
       has_sequence_privilege(c.oid, 'SELECT') AS readable
  FROM pg_sequence s
  JOIN pg_class c ON c.oid = s.seqrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = ANY(%(schemas)s)
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C";
