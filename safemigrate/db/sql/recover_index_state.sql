-- The state of the index a failed migration's CREATE INDEX names, for `safemigrate recover`: a
-- CREATE INDEX CONCURRENTLY that failed or was interrupted leaves an index marked invalid
-- (pg_index.indisvalid false), unusable and not built.
-- Columns: state text: 'missing' (no relation of that name), 'other' (a relation that is not an
--   index), 'building' (a CREATE INDEX CONCURRENTLY is still building it, in some session), 'invalid',
--   'valid'.
-- Parameters: %(name)s text (a qualified, quoted index name).
-- Oldest supported version: PostgreSQL 12.
SELECT CASE
    WHEN r.oid IS NULL THEN 'missing'
    WHEN i.indexrelid IS NULL THEN 'other'
    WHEN EXISTS (SELECT FROM pg_stat_progress_create_index p WHERE p.index_relid = r.oid) THEN 'building'
    WHEN NOT i.indisvalid THEN 'invalid'
    ELSE 'valid'
END AS state
  FROM (SELECT to_regclass(%(name)s::text) AS oid) r
  LEFT JOIN pg_index i ON i.indexrelid = r.oid
