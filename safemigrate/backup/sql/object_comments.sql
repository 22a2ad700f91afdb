-- The comments on one table's constraints, indexes, triggers and policies (COMMENT ON CONSTRAINT |
-- INDEX | TRIGGER | POLICY), by kind, then name. Internal triggers (those of foreign keys) have none
-- a user could set.
-- Columns: kind (constraint | index | trigger | policy), name, comment.
-- Parameters: %(schema)s text, %(table)s text.
-- Oldest supported version: PostgreSQL 12.
WITH target AS (
    SELECT c.oid
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = %(schema)s AND c.relname = %(table)s
)
SELECT kind, name, comment
  FROM (
        SELECT 'constraint' AS kind, con.conname::text AS name, d.description AS comment
          FROM pg_constraint con
          JOIN pg_description d
            ON d.objoid = con.oid AND d.classoid = 'pg_constraint'::regclass AND d.objsubid = 0
         WHERE con.conrelid = (SELECT oid FROM target)
        UNION ALL
        SELECT 'index', ic.relname::text, d.description
          FROM pg_index i
          JOIN pg_class ic ON ic.oid = i.indexrelid
          JOIN pg_description d ON d.objoid = ic.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
         WHERE i.indrelid = (SELECT oid FROM target)
        UNION ALL
        SELECT 'trigger', t.tgname::text, d.description
          FROM pg_trigger t
          JOIN pg_description d ON d.objoid = t.oid AND d.classoid = 'pg_trigger'::regclass AND d.objsubid = 0
         WHERE t.tgrelid = (SELECT oid FROM target) AND NOT t.tgisinternal
        UNION ALL
        SELECT 'policy', p.polname::text, d.description
          FROM pg_policy p
          JOIN pg_description d ON d.objoid = p.oid AND d.classoid = 'pg_policy'::regclass AND d.objsubid = 0
         WHERE p.polrelid = (SELECT oid FROM target)
       ) AS comments
 ORDER BY kind COLLATE "C", name COLLATE "C"
