-- Foreign keys with their columns, as the edges along which a pending statement's row changes reach
-- other tables: ON DELETE actions from a table a DELETE removes rows from, ON UPDATE actions from a
-- table an UPDATE changes the referenced columns of, any key from a table TRUNCATE ... CASCADE empties.
-- A migrate run refuses when the walk ends in a schema other than the database URL's (it backs up
-- and verifies that schema only). Keys cloned onto partitions (conparentid <> 0) are left out: their
-- parent key stands for them.
-- Columns: child_schema, child_name, child_columns (the referencing table and its key columns),
-- parent_schema, parent_name, parent_columns (the referenced table and columns), on_delete,
-- on_update (pg_constraint's action codes: a no action, r restrict, c cascade, n set null,
-- d set default), name (the constraint).
-- Parameters: none (every schema but pg_catalog and information_schema).
-- Oldest supported version: PostgreSQL 12.
SELECT n.nspname::text AS child_schema, c.relname::text AS child_name,
       ARRAY(SELECT a.attname::text
               FROM unnest(con.conkey) WITH ORDINALITY AS k (attnum, position)
               JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
              ORDER BY k.position) AS child_columns,
       rn.nspname::text AS parent_schema, rc.relname::text AS parent_name,
       ARRAY(SELECT a.attname::text
               FROM unnest(con.confkey) WITH ORDINALITY AS k (attnum, position)
               JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
              ORDER BY k.position) AS parent_columns,
       con.confdeltype::text AS on_delete, con.confupdtype::text AS on_update, con.conname::text AS name
  FROM pg_constraint con
  JOIN pg_class c ON c.oid = con.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_class rc ON rc.oid = con.confrelid
  JOIN pg_namespace rn ON rn.oid = rc.relnamespace
 WHERE con.contype = 'f' AND con.conparentid = 0
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
 ORDER BY c.relname COLLATE "C", n.nspname COLLATE "C", con.conname COLLATE "C"
