-- Who this session's database is, readable by any role: the database's name and oid, the port and
-- the postmaster's start time (two servers never share all of these). The cluster's
-- system_identifier is read separately (system_identifier.sql): it needs pg_monitor or superuser.
-- Columns: database, database_oid, port, started.
-- Parameters: none.
-- Oldest supported version: PostgreSQL 12.
SELECT current_database()::text AS database,
       (SELECT oid FROM pg_database WHERE datname = current_database())::bigint AS database_oid,
       current_setting('port')::int AS port,
       pg_postmaster_start_time()::text AS started
