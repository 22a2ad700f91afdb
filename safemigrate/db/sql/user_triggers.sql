-- The enabled user triggers and rules of the given tables of one schema: what a load switches off
-- while it writes their rows, and back on, each as it was, before its commit. Internal triggers
-- (those that check foreign keys) are left out: they keep checking the loaded rows.
-- With %(fired_by_load)s, only what a restore's TRUNCATE and COPY would fire in an ordinary session:
-- triggers enabled O (origin, the default) or A (always), on INSERT or TRUNCATE (tgtype bits 4 and
-- 32); an UPDATE or DELETE trigger never fires on a load, nor does a rule on COPY. Without it, every
-- enabled trigger and rule (a clone also masks rows with UPDATE).
-- Columns: table_name, kind ('TRIGGER' or 'RULE', as ALTER TABLE spells them), name, enabled
-- (pg_trigger.tgenabled / pg_rewrite.ev_enabled: 'O' origin, 'A' always, 'R' replica), owned (the
-- session's role may ALTER the table: it has the privileges of its owner, as a member or a superuser).
-- Parameters: %(schema)s text, %(tables)s text[], %(fired_by_load)s boolean.
-- Oldest supported version: PostgreSQL 12.
SELECT table_name, kind, name, enabled, owned
  FROM (
       SELECT c.relname::text AS table_name, 'TRIGGER' AS kind, t.tgname::text AS name, t.tgenabled::text AS enabled,
              pg_has_role(c.relowner, 'USAGE') AS owned
         FROM pg_trigger t
         JOIN pg_class c ON c.oid = t.tgrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s AND c.relname = ANY (%(tables)s) AND NOT t.tgisinternal AND t.tgenabled <> 'D'
          AND (NOT %(fired_by_load)s OR (t.tgenabled IN ('O', 'A') AND (t.tgtype::int & (4 | 32)) <> 0))
       UNION ALL
       SELECT c.relname::text, 'RULE', r.rulename::text, r.ev_enabled::text, pg_has_role(c.relowner, 'USAGE')
         FROM pg_rewrite r
         JOIN pg_class c ON c.oid = r.ev_class
         JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s AND c.relname = ANY (%(tables)s) AND c.relkind = 'r' AND r.ev_enabled <> 'D'
          AND NOT %(fired_by_load)s
       ) AS found
 ORDER BY table_name COLLATE "C", kind, name COLLATE "C"
