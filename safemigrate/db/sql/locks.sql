-- Who holds an advisory lock: the sessions granted the session-level advisory lock with a 64-bit key
-- in the current database (Prisma Migrate's is pg_advisory_lock(72707369)).
-- Columns: pid, application_name, backend_start (NULL when this role may not see it), usename,
--          client_addr (text, NULL when hidden), state.
-- Parameters: %(key)s bigint, the lock key. A bigint key is stored as classid = high 32 bits,
--             objid = low 32 bits, objsubid = 1.
-- Oldest supported version: PostgreSQL 9.6.
SELECT a.pid,
       coalesce(a.application_name, '') AS application_name,
       a.backend_start,
       a.usename::text AS usename,
       host(a.client_addr) AS client_addr,
       a.state
FROM pg_catalog.pg_locks AS l
JOIN pg_catalog.pg_stat_activity AS a ON a.pid = l.pid
WHERE l.locktype = 'advisory'
  AND l.granted
  AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
  AND l.classid = ((%(key)s::bigint >> 32) & 4294967295)::oid
  AND l.objid = (%(key)s::bigint & 4294967295)::oid
  AND l.objsubid = 1
ORDER BY a.backend_start NULLS LAST, a.pid
