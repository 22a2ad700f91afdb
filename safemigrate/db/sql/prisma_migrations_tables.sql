-- The ordinary tables of one schema, as Prisma's schema engine lists them (`table_names` of its
-- PostgreSQL flavour) to find `_prisma_migrations` and to decide whether the schema is empty
-- before it starts a migration history there (P3005): relkind 'r' only, so views, sequences and
-- partitioned parents do not count (their partitions do).
-- Columns: name text.
-- Parameters: %(schema)s text (the schema of the URL's ?schema=, default public).
-- Oldest supported version: PostgreSQL 12.
SELECT c.relname::text AS name
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r'
   AND n.nspname = %(schema)s
 ORDER BY c.relname COLLATE "C";
