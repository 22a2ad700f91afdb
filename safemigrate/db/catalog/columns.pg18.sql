-- Columns of the tables, views and materialized views of the snapshotted schemas, in column order
-- (dropped columns left out).
-- Columns: schema, relation, name, type (format_type, with modifiers), not_null, not_null_validated
--   (always true before PostgreSQL 18, where NOT NULL can be added NOT VALID), default_value
--   (pg_get_expr; NULL for generated columns), identity ('always' | 'by default' | NULL),
--   generated (the clause as written: GENERATED ALWAYS AS (expr) STORED | VIRTUAL, or NULL),
--   collation (only when it is not the type's default; quoted, schema-qualified outside pg_catalog).
-- Parameters: %(schemas)s text[].
-- Oldest supported version: PostgreSQL 18 (NOT NULL ... NOT VALID, recorded in pg_constraint as
--   contype 'n'); columns.sql before it.
SELECT n.nspname AS schema,
       c.relname AS relation,
       a.attname AS name,
       format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS not_null,
       coalesce((SELECT bool_and(nn.convalidated) FROM pg_constraint nn
                  WHERE nn.conrelid = a.attrelid AND nn.contype = 'n' AND nn.conkey[1] = a.attnum),
                true) AS not_null_validated,
       CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END AS default_value,
       CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END AS identity,
       CASE WHEN a.attgenerated <> '' THEN
            'GENERATED ALWAYS AS (' || pg_get_expr(ad.adbin, ad.adrelid) || ')'
            || CASE a.attgenerated WHEN 's' THEN ' STORED' ELSE ' VIRTUAL' END
       END AS generated,
       CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN
            CASE WHEN cn.nspname = 'pg_catalog' THEN quote_ident(co.collname)
                 ELSE quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END
       END AS collation
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
  LEFT JOIN pg_collation co ON co.oid = a.attcollation
  LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm')
   AND a.attnum > 0
   AND NOT a.attisdropped
   AND n.nspname = ANY(%(schemas)s)
 ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C", a.attnum;
