-- The tables whose rows `migrate --engine prisma` counts before and after: ordinary and partitioned
-- tables of a schema (a partitioned table's count covers every partition, so partitions are left
-- out), without Prisma's own _prisma_migrations.
-- Columns: relname.
-- Parameters: %(schema)s text.
-- Oldest supported version: PostgreSQL 12.
SELECT c.relname::text AS relname
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p') AND NOT c.relispartition
   AND c.relname <> '_prisma_migrations'
