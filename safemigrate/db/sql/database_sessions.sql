-- The other client sessions connected to the current database, with what tells their clients apart
-- (safemigrate finds the sessions of the `prisma migrate deploy` it started among them).
-- Columns: pid, application_name, client_addr (text, NULL for a Unix socket or when hidden from this
--          role), client_port (NULL when hidden), backend_start (NULL when hidden), waitstart (NULL).
-- Parameters: none.
-- Oldest supported version: PostgreSQL 10 (backend_type).
SELECT a.pid,
       coalesce(a.application_name, '') AS application_name,
       host(a.client_addr) AS client_addr,
       a.client_port,
       a.backend_start,
       NULL::timestamptz AS waitstart
FROM pg_catalog.pg_stat_activity AS a
WHERE a.datname = current_database()
  AND a.backend_type = 'client backend'
  AND a.pid <> pg_catalog.pg_backend_pid()
ORDER BY a.pid
