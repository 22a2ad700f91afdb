-- Sessions queued (not granted) for the session-level advisory lock with a 64-bit key in the current
-- database. Parameters: %(key)s bigint (classid = high 32 bits, objid = low 32 bits, objsubid = 1).
SELECT l.pid
FROM pg_catalog.pg_locks AS l
WHERE l.locktype = 'advisory'
  AND NOT l.granted
  AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
  AND l.classid = ((%(key)s::bigint >> 32) & 4294967295)::oid
  AND l.objid = (%(key)s::bigint & 4294967295)::oid
  AND l.objsubid = 1
