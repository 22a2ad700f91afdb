-- What a DROP takes along outside the database URL's schema: the objects pg_depend records as
-- depending on the dropped one (with CASCADE: every dependent; without: only the automatic, internal
-- and extension-member ones PostgreSQL drops anyway), their dependents in turn, and the object an
-- internal dependent belongs to (a view's rewrite rule: the view), each named by the relation it is
-- or belongs to (a column, default, constraint, trigger or policy: its table) or by its own name (a
-- type, a function); an extension's own members are left out. A migrate run refuses such a
-- statement: it backs up and verifies the URL's schema only.
-- Columns: object_schema, object_name, whole (the object itself goes, not only a part of it).
-- Parameters: %(kind)s text (DROP's object kind, lower case: table, view, materialized view,
-- foreign table, sequence, index, type, domain, function, procedure, schema, extension), %(schema)s
-- text and %(name)s text (the dropped object; a schema's or an extension's name in %(name)s),
-- %(cascade)s boolean, %(url_schema)s text (the schema whose objects are left out).
-- Oldest supported version: PostgreSQL 12.
WITH RECURSIVE start (classid, objid) AS (
     SELECT 'pg_namespace'::regclass::oid, n.oid
       FROM pg_namespace n
      WHERE %(kind)s = 'schema' AND n.nspname = %(name)s
      UNION ALL
     SELECT 'pg_class'::regclass::oid, c.oid
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE %(kind)s IN ('table', 'view', 'materialized view', 'foreign table', 'sequence', 'index')
        AND n.nspname = %(schema)s AND c.relname = %(name)s
      UNION ALL
     SELECT 'pg_type'::regclass::oid, t.oid
       FROM pg_type t
       JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE %(kind)s IN ('type', 'domain') AND n.nspname = %(schema)s AND t.typname = %(name)s
      UNION ALL
     SELECT 'pg_proc'::regclass::oid, p.oid
       FROM pg_proc p
       JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE %(kind)s IN ('function', 'procedure') AND n.nspname = %(schema)s AND p.proname = %(name)s
      UNION ALL
     SELECT 'pg_extension'::regclass::oid, e.oid
       FROM pg_extension e
      WHERE %(kind)s = 'extension' AND e.extname = %(name)s
), gone (classid, objid, objsubid) AS (
     SELECT classid, objid, 0 FROM start
      UNION
     -- a dependent of what goes (of the part that goes), or the owner of an internal dependent
     SELECT CASE WHEN d.refclassid = g.classid AND d.refobjid = g.objid THEN d.classid ELSE d.refclassid END,
            CASE WHEN d.refclassid = g.classid AND d.refobjid = g.objid THEN d.objid ELSE d.refobjid END,
            CASE WHEN d.refclassid = g.classid AND d.refobjid = g.objid THEN d.objsubid ELSE 0 END
       FROM gone g
       JOIN pg_depend d
         ON (d.refclassid = g.classid AND d.refobjid = g.objid AND (g.objsubid = 0 OR d.refobjsubid = g.objsubid)
             AND (d.deptype IN ('a', 'i', 'e') OR (%(cascade)s AND d.deptype = 'n')))
         OR (d.classid = g.classid AND d.objid = g.objid AND d.deptype = 'i')
), kept (classid, objid, objsubid) AS (
     -- an extension's own members (its types and functions, in whatever schema it was created in) are
     -- not the project's: what of the project's depends on them is found through them
     SELECT g.classid, g.objid, g.objsubid
       FROM gone g
      WHERE NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = g.classid AND e.objid = g.objid AND e.deptype = 'e')
        AND NOT EXISTS (  -- nor what belongs to one (a type's array type)
            SELECT 1
              FROM pg_depend i
              JOIN pg_depend e ON e.classid = i.refclassid AND e.objid = i.refobjid AND e.deptype = 'e'
             WHERE i.classid = g.classid AND i.objid = g.objid AND i.deptype = 'i')
), named (nsp, name, whole) AS (
     SELECT c.relnamespace, c.relname, g.objsubid = 0
       FROM kept g JOIN pg_class c ON g.classid = 'pg_class'::regclass AND c.oid = g.objid
      UNION ALL
     SELECT t.typnamespace, t.typname, true
       FROM kept g JOIN pg_type t ON g.classid = 'pg_type'::regclass AND t.oid = g.objid
      WHERE t.typrelid = 0
      UNION ALL
     SELECT p.pronamespace, p.proname, true
       FROM kept g JOIN pg_proc p ON g.classid = 'pg_proc'::regclass AND p.oid = g.objid
      UNION ALL
     SELECT c.relnamespace, c.relname, false
       FROM kept g
       JOIN pg_constraint k ON g.classid = 'pg_constraint'::regclass AND k.oid = g.objid
       JOIN pg_class c ON c.oid = k.conrelid
      UNION ALL
     SELECT c.relnamespace, c.relname, false
       FROM kept g
       JOIN pg_attrdef a ON g.classid = 'pg_attrdef'::regclass AND a.oid = g.objid
       JOIN pg_class c ON c.oid = a.adrelid
      UNION ALL
     SELECT c.relnamespace, c.relname, false
       FROM kept g
       JOIN pg_trigger t ON g.classid = 'pg_trigger'::regclass AND t.oid = g.objid
       JOIN pg_class c ON c.oid = t.tgrelid
      UNION ALL
     SELECT c.relnamespace, c.relname, false
       FROM kept g
       JOIN pg_rewrite r ON g.classid = 'pg_rewrite'::regclass AND r.oid = g.objid
       JOIN pg_class c ON c.oid = r.ev_class
      UNION ALL
     SELECT c.relnamespace, c.relname, false
       FROM kept g
       JOIN pg_policy p ON g.classid = 'pg_policy'::regclass AND p.oid = g.objid
       JOIN pg_class c ON c.oid = p.polrelid
)
SELECT n.nspname::text AS object_schema, o.name::text AS object_name, bool_or(o.whole) AS whole
  FROM named o
  JOIN pg_namespace n ON n.oid = o.nsp
 WHERE n.nspname <> %(url_schema)s
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
   AND n.nspname NOT LIKE 'pg\_temp\_%%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%%'
 GROUP BY n.nspname, o.name
 ORDER BY n.nspname::text COLLATE "C", o.name::text COLLATE "C"
