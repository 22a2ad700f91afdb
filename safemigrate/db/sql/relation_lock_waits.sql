-- Which of the given sessions wait for a lock other than an advisory one (a table's, a row's, another
-- transaction's): what [database] lock_timeout bounds. safemigrate's own sessions set lock_timeout;
-- `prisma migrate deploy`'s do not, so safemigrate watches them (migrate --engine prisma).
-- Columns: pid.
-- Parameters: %(pids)s int[].
-- Oldest supported version: PostgreSQL 10.
SELECT DISTINCT l.pid
  FROM pg_locks l
 WHERE NOT l.granted
   AND l.locktype <> 'advisory'
   AND l.pid = ANY(%(pids)s)
