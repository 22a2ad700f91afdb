-- The migrations table exactly as Prisma's schema engine creates it for PostgreSQL
-- (sql-schema-connector, PostgresFlavour::create_migrations_table); Prisma creates it unqualified
-- in the search_path schema, which is the URL's ?schema=.
-- Columns: none. Placeholder (psycopg.sql): the table, as Identifier(schema, "_prisma_migrations").
-- Oldest supported version: PostgreSQL 12.
CREATE TABLE {table} (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
)
