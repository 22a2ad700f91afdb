-- The constraints, indexes, triggers and policies one table has now (what a comment can be put on).
-- Columns: kind (constraint | index | trigger | policy), name.
-- Parameters: %(schema)s text, %(table)s text.
-- Oldest supported version: PostgreSQL 12.
WITH target AS (
    SELECT c.oid
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = %(schema)s AND c.relname = %(table)s
)
SELECT 'constraint' AS kind, conname::text AS name FROM pg_constraint WHERE conrelid = (SELECT oid FROM target)
UNION ALL
SELECT 'index', ic.relname::text
  FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
 WHERE i.indrelid = (SELECT oid FROM target)
UNION ALL
SELECT 'trigger', tgname::text FROM pg_trigger WHERE tgrelid = (SELECT oid FROM target) AND NOT tgisinternal
UNION ALL
SELECT 'policy', polname::text FROM pg_policy WHERE polrelid = (SELECT oid FROM target)
