-- Which of the given roles exist on the target's server (roles are cluster-wide: a restore into
-- another server may lack some).
-- Columns: name.
-- Parameters: %(roles)s text[].
-- Oldest supported version: PostgreSQL 12.
SELECT rolname::text AS name FROM pg_roles WHERE rolname = ANY(%(roles)s)
