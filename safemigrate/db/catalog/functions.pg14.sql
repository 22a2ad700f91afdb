-- Functions, procedures, aggregates and window functions of the snapshotted schemas; those of
-- extensions are left out.
-- Columns: schema, name, kind, arguments (pg_get_function_identity_arguments), result
--   (pg_get_function_result; NULL for procedures), language, volatility, strict, security_definer,
--   config (proconfig, e.g. search_path=public), body_sha256 (SHA-256 hex of the body: prosrc as
--   stored, or the deparsed SQL-standard body of BEGIN ATOMIC / RETURN functions).
-- Parameters: %(schemas)s text[].
-- Oldest supported version: PostgreSQL 14 (SQL-standard bodies, pg_get_function_sqlbody);
--   functions.sql before it.
SELECT n.nspname AS schema,
       p.proname AS name,
       CASE p.prokind WHEN 'f' THEN 'function' WHEN 'p' THEN 'procedure'
                      WHEN 'a' THEN 'aggregate' WHEN 'w' THEN 'window' END AS kind,
       pg_get_function_identity_arguments(p.oid) AS arguments,
       pg_get_function_result(p.oid) AS result,
       l.lanname AS language,
       CASE p.provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable' ELSE 'volatile' END AS volatility,
       p.proisstrict AS strict,
       p.prosecdef AS security_definer,
       coalesce(p.proconfig, '{}') AS config,
       encode(sha256(convert_to(CASE WHEN p.prosqlbody IS NOT NULL THEN pg_get_function_sqlbody(p.oid)
                                     ELSE p.prosrc END, 'UTF8')), 'hex') AS body_sha256
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
  JOIN pg_language l ON l.oid = p.prolang
 WHERE n.nspname = ANY(%(schemas)s)
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
 ORDER BY n.nspname COLLATE "C", p.proname COLLATE "C", pg_get_function_identity_arguments(p.oid) COLLATE "C";
