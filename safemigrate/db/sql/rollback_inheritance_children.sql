-- Tables that inherit from one of the tables (or are partitions of one) without being among them:
-- DROP TABLE ... CASCADE of the parent would drop them with their rows.
-- Columns: parent, child (schema-qualified, quoted where needed).
-- Parameters: %(schema)s text, %(tables)s text[] (table names in that schema).
-- Oldest supported version: PostgreSQL 12.
SELECT parent.oid::regclass::text AS parent, child.oid::regclass::text AS child
  FROM pg_inherits AS i
  JOIN pg_class AS parent ON parent.oid = i.inhparent
  JOIN pg_class AS child ON child.oid = i.inhrelid
  JOIN pg_namespace AS n ON n.oid = parent.relnamespace
 WHERE n.nspname = %(schema)s
   AND parent.relname = ANY(%(tables)s::text[])
   AND NOT (child.relname = ANY(%(tables)s::text[]) AND child.relnamespace = parent.relnamespace)
 ORDER BY 1, 2
