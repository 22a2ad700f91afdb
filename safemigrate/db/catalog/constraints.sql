-- Table constraints of the snapshotted schemas: primary key, unique, foreign key, check, exclusion.
-- NOT NULL is a column property here (PostgreSQL 18 also lists it in pg_constraint as contype 'n',
-- with a generated name: left out so that 15 and 18 agree); constraint triggers are triggers. A foreign
-- key that references a partitioned table gets one extra pg_constraint row per partition of it,
-- on the same table and named differently by 15 ("..._fkey1") and 18 ("..._fkey_1"): those are left
-- out, the key itself stands for them (constraints cloned onto the partitions of a partitioned
-- table keep their parent's name and are kept).
-- Columns: schema, relation, name, kind, definition (pg_get_constraintdef), columns (in key order),
--   references_table (quoted schema.name), references_columns, on_update, on_delete, match
--   (foreign keys only, else NULL), deferrable, initially_deferred, validated, enforced (always
--   true before PostgreSQL 18).
-- Parameters: %(schemas)s text[].
-- Oldest supported version: PostgreSQL 12. constraints.pg18.sql adds NOT ENFORCED.
SELECT n.nspname AS schema,
       c.relname AS relation,
       con.conname AS name,
       CASE con.contype WHEN 'p' THEN 'primary key' WHEN 'u' THEN 'unique' WHEN 'f' THEN 'foreign key'
                        WHEN 'c' THEN 'check' WHEN 'x' THEN 'exclusion' END AS kind,
       pg_get_constraintdef(con.oid) AS definition,
       ARRAY(SELECT a.attname::text
               FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
              ORDER BY k.ord) AS columns,
       CASE WHEN con.contype = 'f' THEN
            (SELECT quote_ident(fn.nspname) || '.' || quote_ident(fc.relname)
               FROM pg_class fc JOIN pg_namespace fn ON fn.oid = fc.relnamespace
              WHERE fc.oid = con.confrelid) END AS references_table,
       CASE WHEN con.contype = 'f' THEN
            ARRAY(SELECT a.attname::text
                    FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
                   ORDER BY k.ord) END AS references_columns,
       CASE WHEN con.contype = 'f' THEN
            CASE con.confupdtype WHEN 'a' THEN 'no action' WHEN 'r' THEN 'restrict' WHEN 'c' THEN 'cascade'
                                 WHEN 'n' THEN 'set null' WHEN 'd' THEN 'set default' END END AS on_update,
       CASE WHEN con.contype = 'f' THEN
            CASE con.confdeltype WHEN 'a' THEN 'no action' WHEN 'r' THEN 'restrict' WHEN 'c' THEN 'cascade'
                                 WHEN 'n' THEN 'set null' WHEN 'd' THEN 'set default' END END AS on_delete,
       CASE WHEN con.contype = 'f' THEN
            CASE con.confmatchtype WHEN 'f' THEN 'full' WHEN 'p' THEN 'partial' ELSE 'simple' END END AS match,
       con.condeferrable AS deferrable,
       con.condeferred AS initially_deferred,
       con.convalidated AS validated,
       true AS enforced
  FROM pg_constraint con
  JOIN pg_class c ON c.oid = con.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE con.contype IN ('p', 'u', 'f', 'c', 'x')
   AND n.nspname = ANY(%(schemas)s)
   AND NOT EXISTS (SELECT 1 FROM pg_constraint parent
                    WHERE parent.oid = con.conparentid AND parent.conrelid = con.conrelid)
 ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C", con.conname COLLATE "C";
