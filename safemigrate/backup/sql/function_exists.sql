-- Whether a function exists, by its qualified signature ("public"."audit_row"()): a recreated
-- table's trigger needs its function, which lives outside the table.
-- Columns: found.
-- Parameters: %(signature)s text.
-- Oldest supported version: PostgreSQL 12.
SELECT to_regprocedure(%(signature)s) IS NOT NULL AS found
