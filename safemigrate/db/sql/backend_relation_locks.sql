-- Relation locks this session holds on objects of the schema (what a migration statement took).
SELECT c.relname, l.mode
  FROM pg_locks AS l
  JOIN pg_class AS c ON c.oid = l.relation
  JOIN pg_namespace AS n ON n.oid = c.relnamespace
 WHERE l.pid = pg_backend_pid()
   AND l.locktype = 'relation'
   AND l.granted
   AND n.nspname = %(schema)s
