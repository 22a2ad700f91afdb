-- The foreign keys between the given tables (both ends among them, a key to itself aside) that
-- cannot be deferred: in a cycle of such keys no load order satisfies them, so a restore makes the
-- ones it would break deferrable for the load, and NOT DEFERRABLE again once they are checked.
-- Columns: table_name, name, referenced_table, may_alter (the current role has the privileges of
--   the table's owner).
-- Parameters: %(schema)s text, %(tables)s text[].
-- Oldest supported version: PostgreSQL 12.
SELECT c.relname::text AS table_name,
       con.conname::text AS name,
       rc.relname::text AS referenced_table,
       pg_has_role(c.relowner, 'USAGE') AS may_alter
  FROM pg_constraint con
  JOIN pg_class c ON c.oid = con.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_class rc ON rc.oid = con.confrelid
 WHERE con.contype = 'f' AND NOT con.condeferrable AND con.conrelid <> con.confrelid
   AND n.nspname = %(schema)s AND c.relname = ANY(%(tables)s)
   AND rc.relnamespace = n.oid AND rc.relname = ANY(%(tables)s)
 ORDER BY c.relname COLLATE "C", con.conname COLLATE "C"
