-- lock_waiters.sql from PostgreSQL 14 on: waitstart, when each waiter started waiting, gives the
-- queue order (NULL for a very short time after a wait started).
-- Columns: pid, application_name, client_addr, client_port, backend_start, waitstart.
-- Parameters: %(key)s bigint (classid = high 32 bits, objid = low 32 bits, objsubid = 1).
-- Oldest supported version: PostgreSQL 14 (pg_locks.waitstart).
SELECT l.pid,
       coalesce(a.application_name, '') AS application_name,
       host(a.client_addr) AS client_addr,
       a.client_port,
       a.backend_start,
       l.waitstart
FROM pg_catalog.pg_locks AS l
LEFT JOIN pg_catalog.pg_stat_activity AS a ON a.pid = l.pid
WHERE l.locktype = 'advisory'
  AND NOT l.granted
  AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
  AND l.classid = ((%(key)s::bigint >> 32) & 4294967295)::oid
  AND l.objid = (%(key)s::bigint & 4294967295)::oid
  AND l.objsubid = 1
ORDER BY l.waitstart NULLS LAST, l.pid
