-- The tables of one schema that inherit from the given tables of that schema, directly or through
-- others (INHERITS children, their children..., partitions too), with each of those ancestors: their
-- rows are the ancestor's rows too (SELECT from the ancestor returns them), so its masks apply to them.
-- The walk follows pg_inherits through tables of any schema; only descendants in the schema are listed.
-- Columns: ancestor_name, table_name.
-- Parameters: %(schema)s text, %(tables)s text[] (the ancestors' names).
-- Oldest supported version: PostgreSQL 12.
WITH RECURSIVE descendant (ancestor_name, oid) AS (
     SELECT c.relname, i.inhrelid
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_inherits i ON i.inhparent = c.oid
      WHERE n.nspname = %(schema)s AND c.relname = ANY (%(tables)s)
      UNION
     SELECT d.ancestor_name, i.inhrelid
       FROM descendant d
       JOIN pg_inherits i ON i.inhparent = d.oid
)
SELECT d.ancestor_name::text AS ancestor_name,
       c.relname::text AS table_name
  FROM descendant d
  JOIN pg_class c ON c.oid = d.oid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %(schema)s
 ORDER BY c.relname COLLATE "C", d.ancestor_name COLLATE "C"
