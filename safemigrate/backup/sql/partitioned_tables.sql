-- The partitioned tables and the partitions of one schema, which backups do not support yet: a
-- full backup leaves them out and says so, a backup that names one is refused.
-- Columns: name, partitioned (true: a partitioned table; false: a partition).
-- Parameters: %(schema)s text.
-- Oldest supported version: PostgreSQL 12.
SELECT c.relname AS name,
       c.relkind = 'p' AS partitioned
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %(schema)s AND (c.relkind = 'p' OR (c.relkind = 'r' AND c.relispartition))
 ORDER BY c.relname COLLATE "C"
