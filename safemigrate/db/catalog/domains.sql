-- Domains of the snapshotted schemas (CREATE DOMAIN); those of extensions are left out. Their CHECK
-- constraints are in domain_constraints.sql. NOT NULL is a property of the domain (typnotnull):
-- PostgreSQL 17 and later also list it in pg_constraint (contype 'n', with a generated name), which
-- domain_constraints.sql leaves out so that 15 and 18 agree.
-- Columns: schema, name, type (format_type of the base type, with modifiers), not_null,
--   default_value (pg_get_expr of DEFAULT, or NULL), collation (only when it is not the base type's
--   default; quoted, schema-qualified outside pg_catalog).
-- Parameters: %(schemas)s text[].
-- Oldest supported version: PostgreSQL 12.
SELECT n.nspname AS schema,
       t.typname AS name,
       format_type(t.typbasetype, t.typtypmod) AS type,
       t.typnotnull AS not_null,
       pg_get_expr(t.typdefaultbin, 0) AS default_value,
       CASE WHEN t.typcollation <> 0 AND t.typcollation <> b.typcollation THEN
            CASE WHEN cn.nspname = 'pg_catalog' THEN quote_ident(co.collname)
                 ELSE quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END
       END AS collation
  FROM pg_type t
  JOIN pg_namespace n ON n.oid = t.typnamespace
  JOIN pg_type b ON b.oid = t.typbasetype
  LEFT JOIN pg_collation co ON co.oid = t.typcollation
  LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
 WHERE t.typtype = 'd'
   AND n.nspname = ANY(%(schemas)s)
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
 ORDER BY n.nspname COLLATE "C", t.typname COLLATE "C";
