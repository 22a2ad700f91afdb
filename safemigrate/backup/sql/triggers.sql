-- The user triggers of one table (internal ones, which implement foreign keys, come with the keys),
-- by name.
-- Columns: name, definition (pg_get_triggerdef: a whole CREATE [CONSTRAINT] TRIGGER statement),
--   enabled (tgenabled: O origin, the default | D disabled | R replica | A always),
--   function (the trigger function, quoted and qualified, with its argument types: "public"."audit"()).
-- Parameters: %(schema)s text, %(table)s text.
-- Oldest supported version: PostgreSQL 12.
SELECT t.tgname::text AS name,
       pg_get_triggerdef(t.oid) AS definition,
       t.tgenabled::text AS enabled,
       format('%%I.%%I(%%s)', pn.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS function
  FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_proc p ON p.oid = t.tgfoid
  JOIN pg_namespace pn ON pn.oid = p.pronamespace
 WHERE n.nspname = %(schema)s AND c.relname = %(table)s AND NOT t.tgisinternal
 ORDER BY t.tgname COLLATE "C"
