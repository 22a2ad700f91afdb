-- The tables of a schema with a column of one of the given types, or an array of one: a migration
-- that renames those enums' values changes every such row, so the verifier must expect changes
-- there.
-- Columns: relname.
-- Parameters: %(schema)s text, %(types)s text[] (type names).
-- Oldest supported version: PostgreSQL 12.
SELECT DISTINCT c.relname::text AS relname
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_type e ON e.oid = t.typelem
 WHERE n.nspname = %(schema)s AND NOT a.attisdropped
   AND (t.typname = ANY(%(types)s::text[]) OR e.typname = ANY(%(types)s::text[]))
