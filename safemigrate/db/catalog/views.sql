-- Views and materialized views of the snapshotted schemas; those of extensions are left out.
-- Columns: schema, name, kind ('view' | 'materialized view'), definition (pg_get_viewdef, not
--   pretty-printed), options (reloptions such as security_invoker=true, check_option=local; sorted),
--   populated (relispopulated: false for a materialized view created WITH NO DATA).
-- Parameters: %(schemas)s text[].
-- Oldest supported version: PostgreSQL 12.
SELECT n.nspname AS schema,
       c.relname AS name,
       CASE c.relkind WHEN 'v' THEN 'view' ELSE 'materialized view' END AS kind,
       pg_get_viewdef(c.oid) AS definition,
       ARRAY(SELECT o FROM unnest(coalesce(c.reloptions, '{}')) AS o ORDER BY o COLLATE "C") AS options,
       c.relispopulated AS populated
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('v', 'm')
   AND n.nspname = ANY(%(schemas)s)
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C";
