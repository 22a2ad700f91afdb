-- Which of the given sessions wait for a table's, a row's or another transaction's lock: what
-- [database] lock_timeout bounds. safemigrate's own sessions set lock_timeout; `prisma migrate
-- deploy`'s do not, so safemigrate watches them (migrate --engine prisma). Left out: advisory locks
-- (Prisma's own migration lock), and the virtual transaction ids CREATE INDEX CONCURRENTLY waits on
-- for older transactions to end (cancelled there, it would leave an INVALID index behind).
-- Columns: pid.
-- Parameters: %(pids)s int[].
-- Oldest supported version: PostgreSQL 10.
SELECT DISTINCT l.pid
  FROM pg_locks l
 WHERE NOT l.granted
   AND l.locktype NOT IN ('advisory', 'virtualxid')
   AND l.pid = ANY(%(pids)s)
