-- Session settings for a data fingerprint, set inside its own transaction or savepoint (SET LOCAL:
-- undone when it is rolled back). Values are hashed through their types' text output functions, so
-- every setting that changes that text is fixed here; search_path is pg_catalog only, so every
-- function, operator, type and collation of the fingerprint queries is the built-in one (and reg*
-- values print schema-qualified).
-- Columns: none. Parameters: none. Oldest supported version: PostgreSQL 12.
SET LOCAL TimeZone = 'UTC';
SET LOCAL DateStyle = 'ISO, YMD';
SET LOCAL IntervalStyle = 'postgres';
SET LOCAL extra_float_digits = 1;
SET LOCAL bytea_output = 'hex';
SET LOCAL lc_monetary = 'C';
SET LOCAL quote_all_identifiers = off;
SET LOCAL standard_conforming_strings = on;
SET LOCAL search_path = pg_catalog;
