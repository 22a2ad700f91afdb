-- The columns of one table whose default draws from a sequence that no column owns (CREATE SEQUENCE
-- order_no; ... DEFAULT nextval('order_no')): a backup holds neither that sequence nor its position.
-- Columns: column_name, sequence_name (schema-qualified, quoted as needed).
-- Parameters: %(schema)s text, %(table)s text.
-- Oldest supported version: PostgreSQL 12.
SELECT a.attname::text AS column_name,
       format('%%I.%%I', sn.nspname, s.relname) AS sequence_name
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attrdef ad ON ad.adrelid = c.oid
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ad.adnum
  JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid AND d.refclassid = 'pg_class'::regclass
  JOIN pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
  JOIN pg_namespace sn ON sn.oid = s.relnamespace
 WHERE n.nspname = %(schema)s AND c.relname = %(table)s
   AND NOT EXISTS (SELECT FROM pg_depend o
                    WHERE o.classid = 'pg_class'::regclass AND o.objid = s.oid
                      AND o.refclassid = 'pg_class'::regclass AND o.deptype IN ('a', 'i'))
 ORDER BY a.attnum
