-- Whether the restoring role may give a recreated table back to its backed-up owner: ALTER TABLE ...
-- OWNER TO needs membership in that role, and the restore's later steps its privileges.
-- Columns: restoring_role (current_user), role_exists, may_own (a member that has the role's privileges).
-- Parameters: %(owner)s text.
-- Oldest supported version: PostgreSQL 12.
SELECT current_user::text AS restoring_role,
       r.oid IS NOT NULL AS role_exists,
       COALESCE(pg_has_role(current_user, r.oid, 'MEMBER') AND pg_has_role(current_user, r.oid, 'USAGE'), false)
           AS may_own
  FROM (SELECT %(owner)s::text AS name) AS wanted
  LEFT JOIN pg_roles r ON r.rolname = wanted.name
