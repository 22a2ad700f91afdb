-- Composite types of the snapshotted schemas (CREATE TYPE ... AS (...)), not the row types of
-- tables and views; those of extensions are left out.
-- Columns: schema, name, attribute_names, attribute_types (format_type, with modifiers),
--   attribute_collations (only when not the attribute type's default, else NULL): text[], in
--   attribute order, dropped attributes left out.
-- Parameters: %(schemas)s text[].
-- Oldest supported version: PostgreSQL 12.
SELECT n.nspname AS schema,
       t.typname AS name,
       ARRAY(SELECT a.attname::text FROM pg_attribute a
              WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum) AS attribute_names,
       ARRAY(SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
              WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum) AS attribute_types,
       ARRAY(SELECT CASE WHEN a.attcollation <> 0 AND a.attcollation <> atyp.typcollation THEN
                         CASE WHEN cn.nspname = 'pg_catalog' THEN quote_ident(co.collname)
                              ELSE quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END
                    END
               FROM pg_attribute a
               JOIN pg_type atyp ON atyp.oid = a.atttypid
               LEFT JOIN pg_collation co ON co.oid = a.attcollation
               LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
              WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum) AS attribute_collations
  FROM pg_type t
  JOIN pg_namespace n ON n.oid = t.typnamespace
  JOIN pg_class c ON c.oid = t.typrelid
 WHERE t.typtype = 'c'
   AND c.relkind = 'c'
   AND n.nspname = ANY(%(schemas)s)
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
 ORDER BY n.nspname COLLATE "C", t.typname COLLATE "C";
