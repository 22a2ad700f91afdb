-- CHECK constraints of the domains of the snapshotted schemas (a domain's NOT NULL is a property
-- of the domain: see domains.sql); those of extensions' domains are left out.
-- Columns: schema, domain, name, definition (pg_get_constraintdef: "CHECK ((VALUE > 0))", with
--   NOT VALID when added so and never validated), validated.
-- Parameters: %(schemas)s text[].
-- Oldest supported version: PostgreSQL 12.
SELECT n.nspname AS schema,
       t.typname AS domain,
       con.conname AS name,
       pg_get_constraintdef(con.oid) AS definition,
       con.convalidated AS validated
  FROM pg_constraint con
  JOIN pg_type t ON t.oid = con.contypid
  JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE con.contype = 'c'
   AND n.nspname = ANY(%(schemas)s)
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
 ORDER BY n.nspname COLLATE "C", t.typname COLLATE "C", con.conname COLLATE "C";
