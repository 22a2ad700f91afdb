-- The indexes of one table, to tell those a non-transactional migration file built from those that
-- were there before it (only the former are dropped when the file fails part-way).
-- Columns: oid, name (valid or not: a CONCURRENTLY build that failed leaves an INVALID index, dropped too).
-- Parameters: %(table)s text, the table's quoted, schema-qualified name (no rows when it does not exist).
-- Oldest supported version: PostgreSQL 12.
SELECT i.indexrelid::oid AS oid, c.relname::text AS name
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid
 WHERE i.indrelid = to_regclass(%(table)s)
