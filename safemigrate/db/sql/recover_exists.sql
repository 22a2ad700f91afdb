-- Whether one object exists, for `safemigrate recover` deciding statement by statement what a failed
-- migration left behind. %(kind)s picks the question:
--   table      a relation named %(name)s (qualified, quoted);
--   column     a live column %(detail)s of relation %(name)s;
--   not_null   column %(detail)s of relation %(name)s is NOT NULL;
--   constraint a constraint %(detail)s on relation %(name)s;
--   type       a type named %(name)s;
--   label      enum type %(name)s has the label %(detail)s;
--   extension  an extension named %(detail)s.
-- Columns: found (boolean).
-- Parameters: %(kind)s text, %(name)s text (a qualified, quoted name, or NULL), %(detail)s text.
-- Oldest supported version: PostgreSQL 12.
SELECT CASE %(kind)s::text
    WHEN 'table' THEN to_regclass(%(name)s::text) IS NOT NULL
    WHEN 'column' THEN EXISTS (
        SELECT FROM pg_attribute
         WHERE attrelid = to_regclass(%(name)s::text) AND attname = %(detail)s::text
           AND NOT attisdropped AND attnum > 0)
    WHEN 'not_null' THEN coalesce((
        SELECT attnotnull FROM pg_attribute
         WHERE attrelid = to_regclass(%(name)s::text) AND attname = %(detail)s::text), false)
    WHEN 'constraint' THEN EXISTS (
        SELECT FROM pg_constraint WHERE conrelid = to_regclass(%(name)s::text) AND conname = %(detail)s::text)
    WHEN 'type' THEN to_regtype(%(name)s::text) IS NOT NULL
    WHEN 'label' THEN EXISTS (
        SELECT FROM pg_enum WHERE enumtypid = to_regtype(%(name)s::text) AND enumlabel = %(detail)s::text)
    WHEN 'extension' THEN EXISTS (SELECT FROM pg_extension WHERE extname = %(detail)s::text)
END AS found
