-- Each table of a schema with the tables that inherit from it, directly or through others (INHERITS
-- children and partitions, their children...): an ALTER TABLE, UPDATE, DELETE or TRUNCATE of the
-- table reaches their rows too, so a deploy's backup scope holds them and its verification counts
-- them as touched; and SELECT from the table returns their rows, so a staging clone's mask of the
-- table's column masks theirs. The walk goes through tables of any schema, and lists descendants in
-- any schema (callers working on one schema refuse or ignore the others, as they need).
-- Columns: ancestor_name, table_schema, table_name.
-- Parameters: %(schema)s text.
-- Oldest supported version: PostgreSQL 12.
WITH RECURSIVE below (ancestor, oid) AS (
     SELECT i.inhparent, i.inhrelid
       FROM pg_inherits i
       JOIN pg_class p ON p.oid = i.inhparent
       JOIN pg_namespace n ON n.oid = p.relnamespace
      WHERE n.nspname = %(schema)s
      UNION
     SELECT b.ancestor, i.inhrelid
       FROM below b
       JOIN pg_inherits i ON i.inhparent = b.oid
)
SELECT a.relname::text AS ancestor_name,
       cn.nspname::text AS table_schema,
       c.relname::text AS table_name
  FROM below b
  JOIN pg_class a ON a.oid = b.ancestor
  JOIN pg_class c ON c.oid = b.oid
  JOIN pg_namespace cn ON cn.oid = c.relnamespace
 ORDER BY 1, 2, 3
