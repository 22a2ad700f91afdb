-- The extensions of the database (plpgsql aside, which every database has) with the schema each is
-- installed in: backup --verify creates them in its scratch database in that same schema, where the
-- backed-up columns, defaults and checks name their types and functions (extensions.citext).
-- Columns: name, schema.
-- Parameters: none.
-- Oldest supported version: PostgreSQL 12.
SELECT e.extname AS name,
       n.nspname AS schema
  FROM pg_extension e
  JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname <> 'plpgsql'
 ORDER BY e.extname
