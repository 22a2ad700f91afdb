-- The encoding and locale of the connected database, and the encoding of template0 (what CREATE
-- DATABASE ... TEMPLATE template0 gives a new database unless told otherwise): backup --verify
-- creates its scratch database in the backup's encoding, with the source's locale, which that
-- encoding accepts (the source database uses it).
-- Columns: encoding, lc_collate, lc_ctype, template_encoding.
-- Parameters: none.
-- Oldest supported version: PostgreSQL 12.
SELECT pg_encoding_to_char(d.encoding) AS encoding,
       d.datcollate AS lc_collate,
       d.datctype AS lc_ctype,
       pg_encoding_to_char(t.encoding) AS template_encoding
  FROM pg_database d
 CROSS JOIN pg_database t
 WHERE d.datname = current_database() AND t.datname = 'template0'
