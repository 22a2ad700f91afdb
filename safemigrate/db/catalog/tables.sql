-- Tables of the snapshotted schemas: ordinary and partitioned tables, partitions included;
-- tables that belong to an extension are left out.
-- Columns: schema, name, persistence ('logged' | 'unlogged'), partition_key (pg_get_partkeydef of a
--   partitioned table), partition_of (quoted schema.name of the parent), partition_bound,
--   estimated_rows (reltuples; -1 = never vacuumed or analyzed), size_bytes (pg_total_relation_size),
--   row_security (ENABLE ROW LEVEL SECURITY), force_row_security (FORCE ROW LEVEL SECURITY),
--   inherits (quoted schema.name of the parents of plain INHERITS inheritance, in inhseqno order;
--   a partition's parent is partition_of instead).
-- Parameters: %(schemas)s text[].
-- Oldest supported version: PostgreSQL 12.
SELECT n.nspname AS schema,
       c.relname AS name,
       CASE c.relpersistence WHEN 'u' THEN 'unlogged' ELSE 'logged' END AS persistence,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
       (SELECT quote_ident(pn.nspname) || '.' || quote_ident(pc.relname)
          FROM pg_inherits i
          JOIN pg_class pc ON pc.oid = i.inhparent
          JOIN pg_namespace pn ON pn.oid = pc.relnamespace
         WHERE i.inhrelid = c.oid AND c.relispartition) AS partition_of,
       CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS partition_bound,
       c.reltuples::float8 AS estimated_rows,
       pg_total_relation_size(c.oid) AS size_bytes,
       c.relrowsecurity AS row_security,
       c.relforcerowsecurity AS force_row_security,
       ARRAY(SELECT quote_ident(pn.nspname) || '.' || quote_ident(pc.relname)
               FROM pg_inherits i
               JOIN pg_class pc ON pc.oid = i.inhparent
               JOIN pg_namespace pn ON pn.oid = pc.relnamespace
              WHERE i.inhrelid = c.oid AND NOT c.relispartition
              ORDER BY i.inhseqno) AS inherits
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
   AND n.nspname = ANY(%(schemas)s)
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C";
