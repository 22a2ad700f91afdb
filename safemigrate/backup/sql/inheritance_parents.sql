-- The tables one table inherits from through plain INHERITS (a partition's parent is left out:
-- partitions are not backed up), in inhseqno order: the order of its INHERITS list.
-- Columns: schema, name.
-- Parameters: %(schema)s text, %(table)s text.
-- Oldest supported version: PostgreSQL 12.
SELECT pn.nspname::text AS schema,
       pc.relname::text AS name
  FROM pg_inherits i
  JOIN pg_class c ON c.oid = i.inhrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_class pc ON pc.oid = i.inhparent
  JOIN pg_namespace pn ON pn.oid = pc.relnamespace
 WHERE n.nspname = %(schema)s AND c.relname = %(table)s AND NOT c.relispartition
 ORDER BY i.inhseqno
