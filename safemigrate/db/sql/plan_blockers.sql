-- Sessions a migration of these tables would queue behind: other sessions of this database holding a
-- granted lock on one of the tables, and transactions open longer than a threshold.
-- Columns: pid, application_name, usename, state, transaction_age (seconds, NULL outside a
--          transaction or when this role may not see it), tables (text[]: affected tables it holds
--          locks on), modes (text[]), query (its current or last query, first 200 characters).
-- Parameters: %(schemas)s text[], %(names)s text[]: the affected tables as (schema, name) pairs;
--             %(long_transaction)s float8: seconds after which an open transaction is listed anyway.
-- Oldest supported version: PostgreSQL 12.
WITH affected AS (
    SELECT c.oid, c.relname::text AS table_name
    FROM unnest(%(schemas)s::text[], %(names)s::text[]) AS wanted(schema_name, table_name)
    JOIN pg_catalog.pg_namespace AS n ON n.nspname = wanted.schema_name
    JOIN pg_catalog.pg_class AS c ON c.relnamespace = n.oid AND c.relname = wanted.table_name
), holders AS (
    SELECT l.pid,
           array_agg(DISTINCT af.table_name ORDER BY af.table_name) AS tables,
           array_agg(DISTINCT l.mode ORDER BY l.mode) AS modes
    FROM pg_catalog.pg_locks AS l
    JOIN affected AS af ON af.oid = l.relation
    WHERE l.granted
      AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
    GROUP BY l.pid
)
SELECT s.pid,
       coalesce(s.application_name, '') AS application_name,
       s.usename::text AS usename,
       s.state,
       extract(epoch FROM clock_timestamp() - s.xact_start)::float8 AS transaction_age,
       coalesce(h.tables, '{}'::text[]) AS tables,
       coalesce(h.modes, '{}'::text[]) AS modes,
       coalesce(left(s.query, 200), '') AS query
FROM pg_catalog.pg_stat_activity AS s
LEFT JOIN holders AS h ON h.pid = s.pid
WHERE s.pid <> pg_catalog.pg_backend_pid()
  AND s.datname = current_database()
  AND (h.pid IS NOT NULL
       OR (s.xact_start IS NOT NULL
           AND clock_timestamp() - s.xact_start > make_interval(secs => %(long_transaction)s)))
ORDER BY s.xact_start NULLS LAST, s.pid
