-- The relations to fingerprint in one schema, with what progress reporting and block-range scans need.
-- Without names (%(tables)s IS NULL): the schema's ordinary and partitioned tables, leaving out
-- partitions (their parent's fingerprint covers them) and tables that belong to an extension.
-- With names: exactly the relations of those names, whatever their kind (the caller refuses views,
-- foreign tables and the like with a clear message).
-- Columns: name, kind (pg_class.relkind: 'r' table, 'p' partitioned, 'm' materialized view, ...),
--   estimated_rows (reltuples summed over partitions; negative = never vacuumed or analyzed),
--   heap_bytes (main fork size, summed over partitions: what a sequential scan reads),
--   block_size (bytes per page of this server).
-- Parameters: %(schema)s text, %(tables)s text[] or NULL.
-- Oldest supported version: PostgreSQL 12.
SELECT c.relname AS name,
       c.relkind::text AS kind,
       CASE WHEN c.relkind = 'p'
            THEN (SELECT coalesce(sum(greatest(p.reltuples, 0)), 0)::float8
                    FROM pg_catalog.pg_partition_tree(c.oid) AS t
                    JOIN pg_catalog.pg_class AS p ON p.oid = t.relid
                   WHERE t.isleaf)
            ELSE c.reltuples::float8 END AS estimated_rows,
       CASE WHEN c.relkind = 'p'
            THEN (SELECT coalesce(sum(pg_catalog.pg_relation_size(t.relid)), 0)::int8
                    FROM pg_catalog.pg_partition_tree(c.oid) AS t
                   WHERE t.isleaf)
            ELSE pg_catalog.pg_relation_size(c.oid) END AS heap_bytes,
       pg_catalog.current_setting('block_size')::int4 AS block_size
  FROM pg_catalog.pg_class AS c
  JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
 WHERE n.nspname = %(schema)s
   AND CASE WHEN %(tables)s::text[] IS NULL
            THEN c.relkind IN ('r', 'p')
                 AND NOT c.relispartition
                 AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend AS d
                                  WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                    AND d.objid = c.oid AND d.deptype = 'e')
            ELSE c.relname = ANY(%(tables)s::text[]) END
 ORDER BY c.relname COLLATE "C";
