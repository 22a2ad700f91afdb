-- Enum types of the snapshotted schemas with their labels in order (enumsortorder); types that
-- belong to an extension are left out.
-- Columns: schema, name, labels (text[], in order).
-- Parameters: %(schemas)s text[].
-- Oldest supported version: PostgreSQL 12.
SELECT n.nspname AS schema,
       t.typname AS name,
       ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) AS labels
  FROM pg_type t
  JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE t.typtype = 'e'
   AND n.nspname = ANY(%(schemas)s)
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
 ORDER BY n.nspname COLLATE "C", t.typname COLLATE "C";
