-- The privileges granted on one table and on its columns to roles other than its owner (the owner's
-- own come with ownership), from relacl and attacl, one row per grantee, column and grant option,
-- in ACL order (granted in that order, the restored table's ACL reads the same).
-- Columns: grantee (role name, NULL for PUBLIC), privileges (text[]: SELECT, INSERT, ..., sorted),
--   column_name (NULL for a table-level grant), grantable (WITH GRANT OPTION).
-- Parameters: %(schema)s text, %(table)s text.
-- Oldest supported version: PostgreSQL 12.
WITH target AS (
    SELECT c.oid, c.relowner, c.relacl
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = %(schema)s AND c.relname = %(table)s
), granted AS (
    SELECT a.grantee, NULL::text AS column_name, 0::int2 AS attnum, a.privilege_type, a.is_grantable, a.position
      FROM target, aclexplode(target.relacl) WITH ORDINALITY AS a(grantor, grantee, privilege_type, is_grantable,
                                                                  position)
     WHERE a.grantee <> target.relowner
    UNION ALL
    SELECT a.grantee, att.attname::text, att.attnum, a.privilege_type, a.is_grantable, a.position
      FROM target
      JOIN pg_attribute att ON att.attrelid = target.oid AND att.attnum > 0 AND NOT att.attisdropped
     CROSS JOIN aclexplode(att.attacl) WITH ORDINALITY AS a(grantor, grantee, privilege_type, is_grantable, position)
     WHERE a.grantee <> target.relowner
)
SELECT named.grantee,
       array_agg(named.privilege_type ORDER BY named.privilege_type COLLATE "C") AS privileges,
       named.column_name,
       named.is_grantable AS grantable
  FROM (SELECT CASE WHEN g.grantee = 0 THEN NULL ELSE pg_get_userbyid(g.grantee)::text END AS grantee,
               g.column_name, g.attnum, g.privilege_type, g.is_grantable, g.position
          FROM granted g) AS named
 GROUP BY named.grantee, named.column_name, named.attnum, named.is_grantable
 ORDER BY named.attnum, min(named.position), named.is_grantable
