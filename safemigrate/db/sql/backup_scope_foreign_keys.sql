-- Foreign keys as the edges a backup scope follows from a table whose rows a migration changes:
-- the referencing table's rows change too through ON DELETE / ON UPDATE actions, and a
-- TRUNCATE ... CASCADE or DROP ... CASCADE of the referenced table reaches it whatever the action.
-- Keys cloned onto partitions (conparentid <> 0) are left out: their parent key stands for them.
-- Columns: table_schema, table_name (the referencing table), referenced_schema, referenced_name,
-- on_delete, on_update (pg_constraint's action codes: a no action, r restrict, c cascade,
-- n set null, d set default), name (the constraint).
-- Parameters: none (every schema but pg_catalog and information_schema).
-- Oldest supported version: PostgreSQL 12.
SELECT n.nspname::text AS table_schema, c.relname::text AS table_name,
       rn.nspname::text AS referenced_schema, rc.relname::text AS referenced_name,
       con.confdeltype::text AS on_delete, con.confupdtype::text AS on_update, con.conname::text AS name
  FROM pg_constraint con
  JOIN pg_class c ON c.oid = con.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_class rc ON rc.oid = con.confrelid
  JOIN pg_namespace rn ON rn.oid = rc.relnamespace
 WHERE con.contype = 'f' AND con.conparentid = 0
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
 ORDER BY c.relname COLLATE "C", n.nspname COLLATE "C", con.conname COLLATE "C"
