-- The columns of one table, in order, with what CREATE TABLE needs and whether COPY can use the
-- binary format for them: every type the value is made of (the type, array elements, domain bases,
-- composite attributes, range subtypes, followed down) has send/receive, and none is one whose binary
-- form does not come back as it was: xml (its binary output drops the XML declaration), tsquery (an
-- empty tsquery is sent but refused on the way back: "malformed tsquery: operand not found"),
-- int2vector and oidvector (an empty one is refused: 22P03), nor an OID alias type (regclass,
-- regtype, ...: binary sends the raw OID, which names another object, or none, in another database;
-- as text it is the object's name, as pg_dump copies it).
-- Columns: name, type (format_type, schema-qualified when not visible), collation_schema,
--   collation_name (the column's collation when it is not its type's default, else NULL),
--   default_expr, not_null, identity ('' | 'a' | 'd'), generated_expr (NULL unless a stored
--   generated column), binary_ok, enum_schema, enum_name (the enum type of the column or of its
--   array elements, else NULL).
-- Parameters: %(schema)s text, %(table)s text.
-- Oldest supported version: PostgreSQL 12.
SELECT a.attname AS name,
       format_type(a.atttypid, a.atttypmod) AS type,
       CASE WHEN a.attcollation <> t.typcollation THEN con.nspname END AS collation_schema,
       CASE WHEN a.attcollation <> t.typcollation THEN co.collname END AS collation_name,
       CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END AS default_expr,
       a.attnotnull AS not_null,
       a.attidentity::text AS identity,
       CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) END AS generated_expr,
       binary_io.ok AS binary_ok,
       en.nspname AS enum_schema,
       et.typname AS enum_name
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_collation co ON co.oid = a.attcollation
  LEFT JOIN pg_namespace con ON con.oid = co.collnamespace
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  LEFT JOIN pg_type et ON et.typtype = 'e' AND et.oid IN (t.oid, t.typelem)
  LEFT JOIN pg_namespace en ON en.oid = et.typnamespace
 CROSS JOIN LATERAL (
       WITH RECURSIVE part (type_oid) AS (
            SELECT a.atttypid
             UNION
            SELECT inner_part.type_oid
              FROM part
              JOIN pg_type p ON p.oid = part.type_oid
             CROSS JOIN LATERAL (
                   SELECT p.typelem WHERE p.typelem <> 0
                    UNION ALL
                   SELECT p.typbasetype WHERE p.typbasetype <> 0
                    UNION ALL
                   SELECT pa.atttypid FROM pg_attribute pa
                    WHERE pa.attrelid = p.typrelid AND pa.attnum > 0 AND NOT pa.attisdropped
                    UNION ALL
                   SELECT r.rngsubtype FROM pg_range r WHERE r.rngtypid = p.oid
                   ) AS inner_part (type_oid)
       )
       SELECT bool_and(
                  pt.typsend <> 0 AND pt.typreceive <> 0
                  -- by name: regcollation is PostgreSQL 13+
                  AND NOT (pt.typnamespace = 'pg_catalog'::regnamespace
                           AND pt.typname IN ('xml', 'tsquery', 'int2vector', 'oidvector',
                                              'regclass', 'regtype', 'regproc', 'regprocedure', 'regoper',
                                              'regoperator', 'regconfig', 'regdictionary', 'regnamespace',
                                              'regrole', 'regcollation'))
              ) AS ok
         FROM part
         JOIN pg_type pt ON pt.oid = part.type_oid
       ) AS binary_io
 WHERE n.nspname = %(schema)s AND c.relname = %(table)s AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum
