-- Row-level security policies on the tables of the snapshotted schemas (CREATE POLICY); whether a
-- table enforces them (ENABLE / FORCE ROW LEVEL SECURITY) is in tables.sql.
-- Columns: schema, relation, name, command ('all' | 'select' | 'insert' | 'update' | 'delete'),
--   permissive (false for AS RESTRICTIVE), roles (text[]: quoted role names, 'public' for PUBLIC,
--   sorted), using_expression (pg_get_expr of USING, or NULL), check_expression (pg_get_expr of
--   WITH CHECK, or NULL).
-- Parameters: %(schemas)s text[].
-- Oldest supported version: PostgreSQL 12 (pg_policy.polpermissive exists since 10).
SELECT n.nspname AS schema,
       c.relname AS relation,
       p.polname AS name,
       CASE p.polcmd WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert' WHEN 'w' THEN 'update'
                     WHEN 'd' THEN 'delete' ELSE 'all' END AS command,
       p.polpermissive AS permissive,
       ARRAY(SELECT role.name
               FROM (SELECT CASE WHEN r.oid = 0 THEN 'public' ELSE quote_ident(a.rolname) END AS name
                       FROM unnest(p.polroles) AS r(oid)
                       LEFT JOIN pg_roles a ON a.oid = r.oid) AS role
              ORDER BY role.name COLLATE "C") AS roles,
       pg_get_expr(p.polqual, p.polrelid) AS using_expression,
       pg_get_expr(p.polwithcheck, p.polrelid) AS check_expression
  FROM pg_policy p
  JOIN pg_class c ON c.oid = p.polrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = ANY(%(schemas)s)
 ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C", p.polname COLLATE "C";
