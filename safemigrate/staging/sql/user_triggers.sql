-- The enabled user triggers and rules of the given tables of one schema: what a clone disables while
-- it loads and masks their rows, and enables again, each as it was, before its commit. Internal
-- triggers (those of foreign keys) are left out: they keep checking the copied rows.
-- Columns: table_name, kind ('TRIGGER' or 'RULE', as ALTER TABLE spells them), name, enabled
-- (pg_trigger.tgenabled / pg_rewrite.ev_enabled: 'O' origin, 'A' always, 'R' replica), owned (the
-- session's role may ALTER the table: it owns it or is a member of its owner).
-- Parameters: %(schema)s text, %(tables)s text[].
-- Oldest supported version: PostgreSQL 12.
SELECT table_name, kind, name, enabled, owned
  FROM (
       SELECT c.relname AS table_name, 'TRIGGER' AS kind, t.tgname AS name, t.tgenabled::text AS enabled,
              pg_has_role(c.relowner, 'USAGE') AS owned
         FROM pg_trigger t
         JOIN pg_class c ON c.oid = t.tgrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s AND c.relname = ANY (%(tables)s) AND NOT t.tgisinternal AND t.tgenabled <> 'D'
       UNION ALL
       SELECT c.relname, 'RULE', r.rulename, r.ev_enabled::text, pg_has_role(c.relowner, 'USAGE')
         FROM pg_rewrite r
         JOIN pg_class c ON c.oid = r.ev_class
         JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s AND c.relname = ANY (%(tables)s) AND c.relkind = 'r' AND r.ev_enabled <> 'D'
       ) AS found
 ORDER BY table_name COLLATE "C", kind, name COLLATE "C"
