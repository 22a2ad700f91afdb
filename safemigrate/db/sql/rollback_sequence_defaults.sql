-- Column defaults of other tables (in any schema) that use a sequence one of the tables owns (a
-- serial or identity column's, e.g. DEFAULT nextval('"User_id_seq"')): DROP TABLE drops that
-- sequence, so they are taken off first and set again once the tables and sequences are recreated.
-- Columns: table_schema, table_name, column_name, expression (pg_get_expr).
-- Parameters: %(schema)s text, %(tables)s text[].
-- Oldest supported version: PostgreSQL 12.
SELECT DISTINCT un.nspname::text AS table_schema,
       user_table.relname::text AS table_name,
       a.attname::text AS column_name,
       pg_get_expr(ad.adbin, ad.adrelid) AS expression
  FROM pg_class AS owner_table
  JOIN pg_namespace AS n ON n.oid = owner_table.relnamespace
  JOIN pg_depend AS owned ON owned.refclassid = 'pg_class'::regclass AND owned.refobjid = owner_table.oid
                         AND owned.classid = 'pg_class'::regclass AND owned.deptype IN ('a', 'i')
  JOIN pg_class AS seq ON seq.oid = owned.objid AND seq.relkind = 'S'
  JOIN pg_depend AS uses ON uses.refclassid = 'pg_class'::regclass AND uses.refobjid = seq.oid
                        AND uses.classid = 'pg_attrdef'::regclass
  JOIN pg_attrdef AS ad ON ad.oid = uses.objid
  JOIN pg_class AS user_table ON user_table.oid = ad.adrelid AND user_table.relkind IN ('r', 'p')  -- a view's go with it
  JOIN pg_namespace AS un ON un.oid = user_table.relnamespace
  JOIN pg_attribute AS a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
 WHERE n.nspname = %(schema)s
   AND owner_table.relname = ANY(%(tables)s)
   AND NOT (user_table.relname = ANY(%(tables)s) AND user_table.relnamespace = owner_table.relnamespace)
 ORDER BY 1, 2, 3
