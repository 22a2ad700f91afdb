-- Extensions installed in the database (all of them, whatever schema holds their objects:
-- an extension is a database-wide object; plpgsql is in every database).
-- Columns: name, version (extversion), schema (where its objects live).
-- Parameters: none.
-- Oldest supported version: PostgreSQL 12.
SELECT e.extname AS name,
       e.extversion AS version,
       n.nspname AS schema
  FROM pg_extension e
  JOIN pg_namespace n ON n.oid = e.extnamespace
 ORDER BY e.extname COLLATE "C";
