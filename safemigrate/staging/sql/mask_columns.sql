-- The columns of the given tables of one schema, with what masking them needs to know.
-- Columns: table_name, column_name, type (format_type), category (pg_type.typcategory of the
-- column's base type: 'S' for text, varchar, char, citext...), max_length (the character limit of
-- varchar(n) / char(n), null when none), not_null, generated, foreign_key (a foreign key the column
-- takes part in, on either side, or null).
-- The base type is found through domains over domains: only the domain directly over varchar(n) or
-- char(n) carries the limit (a domain over a domain takes no length of its own).
-- Parameters: %(schema)s text, %(tables)s text[].
-- Oldest supported version: PostgreSQL 12.
SELECT c.relname AS table_name,
       a.attname AS column_name,
       format_type(a.atttypid, a.atttypmod) AS type,
       bt.typcategory::text AS category,
       CASE WHEN bt.typname IN ('varchar', 'bpchar') AND base.typmod > 4 THEN base.typmod - 4 END AS max_length,
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
 CROSS JOIN LATERAL (
       -- down the domains to the base type, with the type modifier of the step that reached it
       WITH RECURSIVE chain (type_oid, typmod, depth) AS (
            SELECT a.atttypid, a.atttypmod, 0
             UNION ALL
            SELECT d.typbasetype, d.typtypmod, chain.depth + 1
              FROM chain
              JOIN pg_type d ON d.oid = chain.type_oid
             WHERE d.typtype = 'd'
       )
       SELECT chain.type_oid, chain.typmod FROM chain ORDER BY chain.depth DESC LIMIT 1
       ) base
  JOIN pg_type bt ON bt.oid = base.type_oid
 WHERE n.nspname = %(schema)s AND c.relname = ANY (%(tables)s) AND c.relkind = 'r'
   AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY c.relname COLLATE "C", a.attnum
