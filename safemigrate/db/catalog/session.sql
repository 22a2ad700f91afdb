-- Session settings for a snapshot, set inside its own transaction (SET LOCAL: undone when it ends).
-- pg_get_*def and pg_get_expr print constants through the types' output functions and quote
-- identifiers per quote_all_identifiers, so every setting that changes their text is fixed here;
-- search_path is set separately (to the snapshotted schemas) by safemigrate/db/catalog/snapshot.py.
-- Columns: none. Parameters: none. Oldest supported version: PostgreSQL 12.
SET LOCAL DateStyle = 'ISO, MDY';
SET LOCAL IntervalStyle = 'postgres';
SET LOCAL TimeZone = 'UTC';
SET LOCAL extra_float_digits = 1;
SET LOCAL bytea_output = 'hex';
SET LOCAL lc_monetary = 'C';
SET LOCAL quote_all_identifiers = off;
SET LOCAL standard_conforming_strings = on;
