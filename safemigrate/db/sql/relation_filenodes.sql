-- The storage file of every table and materialized view of the schema: a new one means a rewrite.
SELECT c.relname, pg_relation_filenode(c.oid)
  FROM pg_class AS c
  JOIN pg_namespace AS n ON n.oid = c.relnamespace
 WHERE n.nspname = %(schema)s
   AND c.relkind IN ('r', 'm', 't')
   AND pg_relation_filenode(c.oid) IS NOT NULL
