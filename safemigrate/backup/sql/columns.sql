-- The columns of one table, in order, with what CREATE TABLE needs and whether COPY can use the
-- binary format for them (the type, its array element and its domain base all have send/receive).
-- Columns: name, type (format_type, schema-qualified when not visible), default_expr, not_null,
--   identity ('' | 'a' | 'd'), generated_expr (NULL unless a stored generated column), binary_ok,
--   enum_schema, enum_name (the enum type of the column or of its array elements, else NULL).
-- Parameters: %(schema)s text, %(table)s text.
-- Oldest supported version: PostgreSQL 12.
SELECT a.attname AS name,
       format_type(a.atttypid, a.atttypmod) AS type,
       CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END AS default_expr,
       a.attnotnull AS not_null,
       a.attidentity::text AS identity,
       CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) END AS generated_expr,
       (t.typsend <> 0 AND t.typreceive <> 0
        AND coalesce((SELECT e.typsend <> 0 AND e.typreceive <> 0 FROM pg_type e WHERE e.oid = t.typelem AND t.typelem <> 0), true)
        AND coalesce((SELECT b.typsend <> 0 AND b.typreceive <> 0 FROM pg_type b WHERE b.oid = t.typbasetype AND t.typbasetype <> 0), true)
       ) AS binary_ok,
       en.nspname AS enum_schema,
       et.typname AS enum_name
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  LEFT JOIN pg_type et ON et.typtype = 'e' AND et.oid IN (t.oid, t.typelem)
  LEFT JOIN pg_namespace en ON en.oid = et.typnamespace
 WHERE n.nspname = %(schema)s AND c.relname = %(table)s AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum
