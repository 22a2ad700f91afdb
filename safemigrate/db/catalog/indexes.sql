-- Indexes on the tables and materialized views of the snapshotted schemas (partitioned-table
-- indexes included).
-- Columns: schema, relation, name, definition (pg_get_indexdef: the whole CREATE INDEX statement),
--   is_unique, is_primary, valid (indisvalid: false after a failed CREATE INDEX CONCURRENTLY),
--   predicate (the WHERE of a partial index, else NULL), constraint_name (the constraint the index
--   implements: primary key, unique or exclusion, else NULL).
-- Parameters: %(schemas)s text[].
-- Oldest supported version: PostgreSQL 12.
SELECT n.nspname AS schema,
       c.relname AS relation,
       i.relname AS name,
       pg_get_indexdef(x.indexrelid) AS definition,
       x.indisunique AS is_unique,
       x.indisprimary AS is_primary,
       x.indisvalid AS valid,
       pg_get_expr(x.indpred, x.indrelid) AS predicate,
       (SELECT con.conname FROM pg_constraint con
         WHERE con.conindid = x.indexrelid AND con.conrelid = x.indrelid
           AND con.contype IN ('p', 'u', 'x')) AS constraint_name
  FROM pg_index x
  JOIN pg_class i ON i.oid = x.indexrelid
  JOIN pg_class c ON c.oid = x.indrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'm')
   AND n.nspname = ANY(%(schemas)s)
 ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C", i.relname COLLATE "C";
