-- Sessions queued (not granted) for the session-level advisory lock with a 64-bit key in the current
-- database, with what tells their clients apart (safemigrate ties Prisma's to the process it started).
-- Columns: pid, application_name, client_addr (text, NULL for a Unix socket or when hidden from this
--          role), client_port (NULL when hidden), backend_start (NULL when hidden), waitstart (always
--          NULL here: lock_waiters.pg14.sql reads it from PostgreSQL 14 on).
-- Parameters: %(key)s bigint (classid = high 32 bits, objid = low 32 bits, objsubid = 1).
-- Oldest supported version: PostgreSQL 9.6.
SELECT l.pid,
       coalesce(a.application_name, '') AS application_name,
       host(a.client_addr) AS client_addr,
       a.client_port,
       a.backend_start,
       NULL::timestamptz AS waitstart
FROM pg_catalog.pg_locks AS l
LEFT JOIN pg_catalog.pg_stat_activity AS a ON a.pid = l.pid
WHERE l.locktype = 'advisory'
  AND NOT l.granted
  AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
  AND l.classid = ((%(key)s::bigint >> 32) & 4294967295)::oid
  AND l.objid = (%(key)s::bigint & 4294967295)::oid
  AND l.objsubid = 1
ORDER BY l.pid
