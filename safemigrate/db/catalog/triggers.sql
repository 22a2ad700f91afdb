-- User triggers on the tables, views and materialized views of the snapshotted schemas (internal
-- triggers that implement foreign keys are left out; triggers cloned onto partitions are kept).
-- Columns: schema, relation, name, definition (pg_get_triggerdef: the CREATE TRIGGER statement),
--   enabled ('origin' = the default, 'replica', 'always', 'disabled').
-- Parameters: %(schemas)s text[].
-- Oldest supported version: PostgreSQL 12.
SELECT n.nspname AS schema,
       c.relname AS relation,
       t.tgname AS name,
       pg_get_triggerdef(t.oid) AS definition,
       CASE t.tgenabled WHEN 'O' THEN 'origin' WHEN 'R' THEN 'replica'
                        WHEN 'A' THEN 'always' ELSE 'disabled' END AS enabled
  FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT t.tgisinternal
   AND c.relkind IN ('r', 'p', 'v', 'm')
   AND n.nspname = ANY(%(schemas)s)
 ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C", t.tgname COLLATE "C";
