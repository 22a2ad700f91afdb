-- The columns of the given tables whose values are xml (or xml[]), through domains: COPY writes
-- xml with its output function, which drops the XML declaration, so a backup reads these columns
-- cast to text (text[]), which keeps the value as stored; COPY FROM reads that text back as xml.
-- Columns: table_name, column_name, cast_to ('text' | 'text[]').
-- Parameters: %(schema)s text, %(tables)s text[].
-- Oldest supported version: PostgreSQL 12.
WITH RECURSIVE base (table_name, column_name, type_oid) AS (
     SELECT c.relname, a.attname, a.atttypid
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = %(schema)s AND c.relname = ANY(%(tables)s) AND a.attnum > 0 AND NOT a.attisdropped
      UNION ALL
     SELECT base.table_name, base.column_name, t.typbasetype
       FROM base
       JOIN pg_type t ON t.oid = base.type_oid
      WHERE t.typtype = 'd'
)
SELECT table_name,
       column_name,
       CASE WHEN type_oid = 'pg_catalog.xml'::regtype THEN 'text' ELSE 'text[]' END AS cast_to
  FROM base
 WHERE type_oid IN ('pg_catalog.xml'::regtype, 'pg_catalog.xml[]'::regtype)
 ORDER BY table_name COLLATE "C", column_name COLLATE "C"
