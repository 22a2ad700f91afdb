-- The labels of one enum type, in their sort order.
-- Columns: label.
-- Parameters: %(schema)s text, %(name)s text.
-- Oldest supported version: PostgreSQL 12.
SELECT e.enumlabel AS label
  FROM pg_enum e
  JOIN pg_type t ON t.oid = e.enumtypid
  JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE n.nspname = %(schema)s AND t.typname = %(name)s
 ORDER BY e.enumsortorder
