-- The user triggers of the given tables that a restore's TRUNCATE or COPY would fire in an ordinary
-- session: enabled (O, the default, or A, always), on INSERT or TRUNCATE (tgtype bits 4 and 32; an
-- UPDATE or DELETE trigger never fires on a load). A restore switches them off while it loads rows
-- into a table that is there, so that an audit or counter trigger does not run for every restored
-- row. Internal triggers (those that check foreign keys) are not listed: the keys stay checked.
-- Columns: table_name, name, enabled (O | A), may_alter (the current role may ALTER the table: it
--   has the privileges of its owner, as a member or a superuser).
-- Parameters: %(schema)s text, %(tables)s text[].
-- Oldest supported version: PostgreSQL 12.
SELECT c.relname::text AS table_name,
       t.tgname::text AS name,
       t.tgenabled::text AS enabled,
       pg_has_role(c.relowner, 'USAGE') AS may_alter
  FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %(schema)s AND c.relname = ANY(%(tables)s)
   AND NOT t.tgisinternal AND t.tgenabled IN ('O', 'A') AND (t.tgtype::int & (4 | 32)) <> 0
 ORDER BY c.relname COLLATE "C", t.tgname COLLATE "C"
