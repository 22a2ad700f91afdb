-- The row-level security policies of one table, by name (whether the table enforces them is in
-- table_extras.sql).
-- Columns: name, permissive (false for AS RESTRICTIVE), command (ALL | SELECT | INSERT | UPDATE |
--   DELETE), to_public (PUBLIC is among its roles), roles (text[]: the named roles, sorted),
--   using_expr, check_expr (pg_get_expr of USING and WITH CHECK, or NULL).
-- Parameters: %(schema)s text, %(table)s text.
-- Oldest supported version: PostgreSQL 12 (polpermissive exists since 10).
SELECT p.polname::text AS name,
       p.polpermissive AS permissive,
       CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                     WHEN 'd' THEN 'DELETE' ELSE 'ALL' END AS command,
       0::oid = ANY(p.polroles) AS to_public,
       ARRAY(SELECT r.rolname::text
               FROM pg_roles r
              WHERE r.oid = ANY(p.polroles)
              ORDER BY r.rolname COLLATE "C") AS roles,
       pg_get_expr(p.polqual, p.polrelid) AS using_expr,
       pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr
  FROM pg_policy p
  JOIN pg_class c ON c.oid = p.polrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %(schema)s AND c.relname = %(table)s
 ORDER BY p.polname COLLATE "C"
