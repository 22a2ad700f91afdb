-- The given tables whose rows row-level security would filter for the current role: a backup
-- refuses them rather than store a subset. row_security_active decides as the server does for a
-- query: false for a superuser, a BYPASSRLS role, and the owner of a table that does not FORCE
-- ROW LEVEL SECURITY, whatever the session's row_security setting.
-- Columns: table_name, role_name (current_user).
-- Parameters: %(schema)s text, %(tables)s text[].
-- Oldest supported version: PostgreSQL 12.
SELECT c.relname::text AS table_name, current_user::text AS role_name
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %(schema)s AND c.relname = ANY(%(tables)s) AND c.relrowsecurity AND row_security_active(c.oid)
 ORDER BY c.relname COLLATE "C"
