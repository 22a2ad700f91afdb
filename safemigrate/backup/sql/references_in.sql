-- Foreign keys from other tables that point at the given tables (a TRUNCATE of the given tables
-- fails unless the referencing tables are truncated with them).
-- Columns: table_name (referencing table), referenced (the referenced table), name.
-- Parameters: %(schema)s text, %(tables)s text[].
-- Oldest supported version: PostgreSQL 12.
SELECT c.relname AS table_name, rc.relname AS referenced, con.conname AS name
  FROM pg_constraint con
  JOIN pg_class c ON c.oid = con.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_class rc ON rc.oid = con.confrelid
  JOIN pg_namespace rn ON rn.oid = rc.relnamespace
 WHERE con.contype = 'f' AND rn.nspname = %(schema)s AND rc.relname = ANY(%(tables)s)
   AND NOT (n.nspname = %(schema)s AND c.relname = ANY(%(tables)s))
 ORDER BY c.relname COLLATE "C", con.conname COLLATE "C"
