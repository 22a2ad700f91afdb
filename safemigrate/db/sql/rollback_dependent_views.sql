-- The views and materialized views that read one of the tables, directly or through other views, in
-- any schema (DROP TABLE would need them gone first), with what recreating one needs. A rule of
-- another kind of relation that reads a table is not listed: the DROP refuses it.
-- Columns: view_schema, view_name, materialized, definition (pg_get_viewdef), depth (the longest
--   chain of views from a table to it: recreate in ascending order, drop in descending), options
--   (reloptions: check_option, security_barrier, storage parameters), owner (role name), comment,
--   populated (a materialized view's relispopulated), indexes (pg_get_indexdef of a materialized
--   view's indexes), defaults (jsonb: [[column, pg_get_expr], ...] of ALTER VIEW ... SET DEFAULT),
--   other_rules (its rules besides the view's own _RETURN rule).
-- Parameters: %(schema)s text, %(tables)s text[].
-- Oldest supported version: PostgreSQL 12.
WITH RECURSIVE targets AS (
    SELECT c.oid
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = %(schema)s AND c.relname = ANY(%(tables)s)
), reading(oid, depth) AS (
    SELECT DISTINCT r.ev_class, 1
      FROM pg_depend d
      JOIN pg_rewrite r ON r.oid = d.objid
      JOIN pg_class v ON v.oid = r.ev_class AND v.relkind IN ('v', 'm')
     WHERE d.classid = 'pg_rewrite'::regclass
       AND d.refclassid = 'pg_class'::regclass
       AND d.refobjid IN (SELECT oid FROM targets)
       AND r.ev_class NOT IN (SELECT oid FROM targets)
    UNION
    SELECT r.ev_class, reading.depth + 1
      FROM reading
      JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = reading.oid
                      AND d.classid = 'pg_rewrite'::regclass
      JOIN pg_rewrite r ON r.oid = d.objid
      JOIN pg_class v ON v.oid = r.ev_class AND v.relkind IN ('v', 'm')
     WHERE r.ev_class <> reading.oid AND reading.depth < 1000
), deepest AS (
    SELECT oid, max(depth) AS depth FROM reading GROUP BY oid
)
SELECT n.nspname::text AS view_schema,
       v.relname::text AS view_name,
       v.relkind = 'm' AS materialized,
       pg_get_viewdef(v.oid) AS definition,
       deepest.depth,
       coalesce(v.reloptions, '{}') AS options,
       pg_get_userbyid(v.relowner)::text AS owner,
       obj_description(v.oid, 'pg_class') AS comment,
       v.relispopulated AS populated,
       ARRAY(SELECT pg_get_indexdef(i.indexrelid)
               FROM pg_index i
               JOIN pg_class ic ON ic.oid = i.indexrelid
              WHERE i.indrelid = v.oid
              ORDER BY ic.relname COLLATE "C") AS indexes,
       coalesce((SELECT jsonb_agg(jsonb_build_array(a.attname, pg_get_expr(ad.adbin, ad.adrelid)) ORDER BY a.attnum)
                   FROM pg_attrdef ad
                   JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
                  WHERE ad.adrelid = v.oid), '[]'::jsonb) AS defaults,
       (SELECT count(*) FROM pg_rewrite r WHERE r.ev_class = v.oid AND r.rulename <> '_RETURN')::int AS other_rules
  FROM deepest
  JOIN pg_class v ON v.oid = deepest.oid
  JOIN pg_namespace n ON n.oid = v.relnamespace
 ORDER BY deepest.depth, n.nspname COLLATE "C", v.relname COLLATE "C"
