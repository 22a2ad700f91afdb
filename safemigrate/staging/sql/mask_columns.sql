-- The columns of the given tables of one schema, with what masking them needs to know.
-- Columns: table_name, column_name, type (format_type), category (pg_type.typcategory of the
-- column's base type: 'S' for text, varchar, char, citext...), max_length (the character limit of
-- varchar(n) / char(n), null when none), not_null, generated, foreign_key (a foreign key the column
-- takes part in, on either side, or null).
-- Parameters: %(schema)s text, %(tables)s text[].
-- Oldest supported version: PostgreSQL 12.
SELECT c.relname AS table_name,
       a.attname AS column_name,
       format_type(a.atttypid, a.atttypmod) AS type,
       bt.typcategory::text AS category,
       CASE WHEN bt.typname IN ('varchar', 'bpchar')
                 AND (CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END) > 4
            THEN (CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END) - 4 END AS max_length,
       a.attnotnull AS not_null,
       a.attgenerated <> '' AS generated,
       (SELECT con.conname
          FROM pg_constraint con
         WHERE con.contype = 'f'
           AND ((con.conrelid = c.oid AND a.attnum = ANY (con.conkey))
             OR (con.confrelid = c.oid AND a.attnum = ANY (con.confkey)))
         ORDER BY con.conname COLLATE "C"
         LIMIT 1)::text AS foreign_key
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_type t ON t.oid = a.atttypid
  JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
 WHERE n.nspname = %(schema)s AND c.relname = ANY (%(tables)s) AND c.relkind = 'r'
   AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY c.relname COLLATE "C", a.attnum
