-- The columns of the relations to fingerprint, in their table's column order (attnum): dropped and
-- system columns left out. Generated columns are included (stored ones hold data; PostgreSQL 18's
-- virtual ones are computed when read, and a change of their expression shows in their hash).
-- A boolean column, and an enum column whose type has few labels, can take its values' hashes
-- from constants (see fingerprint.py): kind says which, labels are the enum's labels.
-- Columns: relation, name, kind ('bool', 'enum' or ''), labels (text[]; NULL unless kind is 'enum').
-- Parameters: %(schema)s text, %(tables)s text[] (the relations' names), %(max_labels)s int.
-- Oldest supported version: PostgreSQL 12.
SELECT c.relname AS relation,
       a.attname AS name,
       CASE WHEN a.atttypid = 'pg_catalog.bool'::pg_catalog.regtype THEN 'bool'
            WHEN t.typtype = 'e'
             AND (SELECT count(*) FROM pg_catalog.pg_enum AS e WHERE e.enumtypid = t.oid) <= %(max_labels)s
            THEN 'enum'
            ELSE '' END AS kind,
       CASE WHEN t.typtype = 'e'
            THEN ARRAY(SELECT e.enumlabel::text FROM pg_catalog.pg_enum AS e
                        WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) END AS labels
  FROM pg_catalog.pg_attribute AS a
  JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
  JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_type AS t ON t.oid = a.atttypid
 WHERE n.nspname = %(schema)s
   AND c.relname = ANY(%(tables)s::text[])
   AND a.attnum > 0
   AND NOT a.attisdropped
 ORDER BY c.relname COLLATE "C", a.attnum;
