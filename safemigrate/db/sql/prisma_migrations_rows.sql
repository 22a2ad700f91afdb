-- Every row of the migrations table, in the order Prisma's schema engine reads them
-- (load_migrations_table: ORDER BY started_at; id only breaks ties, for a stable order).
-- Columns: id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at,
--   applied_steps_count (the table's own columns).
-- Placeholder (psycopg.sql): the table, as Identifier(schema, "_prisma_migrations"). Parameters: none.
-- Oldest supported version: PostgreSQL 12.
SELECT id::text AS id,
       checksum::text AS checksum,
       finished_at,
       migration_name::text AS migration_name,
       logs,
       rolled_back_at,
       started_at,
       applied_steps_count::integer AS applied_steps_count
  FROM {table}
 ORDER BY started_at, id
