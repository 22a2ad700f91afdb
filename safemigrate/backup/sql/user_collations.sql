-- The collations created in the database (not built in, not an extension's), which a scratch
-- database needs before the backed-up columns that use them can be created. The catalog row is
-- returned whole as jsonb: its columns changed across versions (ICU locale in collcollate up to
-- 14, colliculocale in 15 and 16, colllocale from 17; collicurules from 16).
-- Columns: schema, name, collation (to_jsonb of the pg_collation row).
-- Parameters: none.
-- Oldest supported version: PostgreSQL 12.
SELECT n.nspname AS schema,
       co.collname AS name,
       to_jsonb(co) AS collation
  FROM pg_collation co
  JOIN pg_namespace n ON n.oid = co.collnamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND NOT EXISTS (SELECT FROM pg_depend d
                    WHERE d.classid = 'pg_collation'::regclass AND d.objid = co.oid AND d.deptype = 'e')
 ORDER BY n.nspname COLLATE "C", co.collname COLLATE "C"
