-- The table columns whose values belong to given types, for a backup scope: a DROP TYPE ... CASCADE
-- or DROP EXTENSION ... CASCADE drops these columns with their data. A type counts when it is named
-- (schema and name pairs) or defined by a named extension; arrays of a counted type and domains
-- over it count too, transitively.
-- Columns: table_schema, table_name, column_name, type_name (the column's type as written).
-- Parameters: %(type_schemas)s text[] and %(type_names)s text[] (the pairs, same length),
-- %(extensions)s text[].
-- Oldest supported version: PostgreSQL 12.
WITH RECURSIVE counted(oid) AS (
    SELECT t.oid
      FROM pg_type t
      JOIN pg_namespace n ON n.oid = t.typnamespace
      JOIN unnest(%(type_schemas)s::text[], %(type_names)s::text[]) AS named(schema_name, type_name)
        ON named.schema_name = n.nspname AND named.type_name = t.typname
    UNION
    SELECT d.objid
      FROM pg_depend d
      JOIN pg_extension e ON e.oid = d.refobjid
     WHERE d.classid = 'pg_type'::regclass AND d.refclassid = 'pg_extension'::regclass
       AND d.deptype = 'e' AND e.extname = ANY(%(extensions)s::text[])
    UNION
    SELECT t.oid
      FROM pg_type t
      JOIN counted ON (t.typcategory = 'A' AND t.typelem = counted.oid)
                   OR (t.typtype = 'd' AND t.typbasetype = counted.oid)
)
SELECT n.nspname::text AS table_schema, c.relname::text AS table_name, a.attname::text AS column_name,
       format_type(a.atttypid, a.atttypmod) AS type_name
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
   AND a.atttypid IN (SELECT oid FROM counted)
 ORDER BY c.relname COLLATE "C", n.nspname COLLATE "C", a.attnum
