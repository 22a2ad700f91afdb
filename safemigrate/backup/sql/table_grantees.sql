-- The roles other than the owner that hold privileges on one table right now (PUBLIC as NULL): a
-- table just created may have some from ALTER DEFAULT PRIVILEGES, which a restore takes back.
-- Columns: grantee (role name, NULL for PUBLIC).
-- Parameters: %(schema)s text, %(table)s text.
-- Oldest supported version: PostgreSQL 12.
SELECT DISTINCT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee)::text END AS grantee
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 CROSS JOIN aclexplode(c.relacl) AS a
 WHERE n.nspname = %(schema)s AND c.relname = %(table)s AND a.grantee <> c.relowner
