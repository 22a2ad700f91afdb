-- pg_trgm 1.6 and hstore 1.8 are the default versions on both PostgreSQL 15 and 18.
DROP EXTENSION pg_trgm;
CREATE EXTENSION hstore;
ALTER SEQUENCE counter INCREMENT BY 10 MAXVALUE 1000 CYCLE;
SELECT setval('counter', 500);
ALTER TABLE events DETACH PARTITION events_2024;
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
ALTER TABLE scratch SET UNLOGGED;
