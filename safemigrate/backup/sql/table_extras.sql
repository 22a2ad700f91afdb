-- What one table carries besides its columns, keys and indexes (re-applied when a restore recreates it).
-- Columns: owner (role name), row_security, force_row_security (ENABLE / FORCE ROW LEVEL SECURITY),
--   comment (COMMENT ON TABLE, or NULL), reloptions (text[]: "name=value" storage parameters, those
--   of its TOAST table prefixed "toast."), replica_identity (relreplident: d | n | f | i),
--   replica_identity_index (the index of REPLICA IDENTITY USING INDEX, else NULL), unlogged
--   (CREATE UNLOGGED TABLE).
-- Parameters: %(schema)s text, %(table)s text.
-- Oldest supported version: PostgreSQL 12.
SELECT pg_get_userbyid(c.relowner)::text AS owner,
       c.relrowsecurity AS row_security,
       c.relforcerowsecurity AS force_row_security,
       obj_description(c.oid, 'pg_class') AS comment,
       ARRAY(SELECT o FROM unnest(c.reloptions) AS o
             UNION ALL
             SELECT 'toast.' || o FROM unnest(t.reloptions) AS o) AS reloptions,
       c.relreplident::text AS replica_identity,
       (SELECT ic.relname::text
          FROM pg_index i
          JOIN pg_class ic ON ic.oid = i.indexrelid
         WHERE i.indrelid = c.oid AND i.indisreplident) AS replica_identity_index,
       c.relpersistence = 'u' AS unlogged
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
 WHERE n.nspname = %(schema)s AND c.relname = %(table)s AND c.relkind = 'r'
