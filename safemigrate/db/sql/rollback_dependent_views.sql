-- Views and materialized views that read one of the tables (DROP TABLE ... CASCADE removes them).
SELECT DISTINCT v.relname, pg_get_viewdef(v.oid), v.relkind = 'm'
  FROM pg_depend AS d
  JOIN pg_rewrite AS r ON r.oid = d.objid
  JOIN pg_class AS v ON v.oid = r.ev_class
  JOIN pg_class AS t ON t.oid = d.refobjid
  JOIN pg_namespace AS n ON n.oid = t.relnamespace
 WHERE d.classid = 'pg_rewrite'::regclass
   AND d.refclassid = 'pg_class'::regclass
   AND n.nspname = %(schema)s
   AND t.relname = ANY(%(tables)s)
   AND v.oid <> t.oid
