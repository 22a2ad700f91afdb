-- Of the given names (the serial and identity sequences and indexes of tables a restore recreates),
-- those a relation of the schema already has. Restoring would take a sequence that a column owns or
-- whose default draws from it over (OWNED BY) and rewind it (setval) under the other table, or fail
-- to create the identity sequence or index; an unused sequence of a serial's name is reused.
-- Columns: name, relkind (S sequence, r table, i index, ...), used_by (schema.table.column of a
--   column that owns the sequence or draws from it; schema.table of an index's table; else NULL).
-- Parameters: %(schema)s text, %(names)s text[].
-- Oldest supported version: PostgreSQL 12.
WITH taken AS (
    SELECT r.oid, r.relname::text AS name, r.relkind::text AS relkind
      FROM pg_class r
      JOIN pg_namespace n ON n.oid = r.relnamespace
     WHERE n.nspname = %(schema)s AND r.relname = ANY(%(names)s)
),
users AS (
    SELECT taken.oid, format('%%I.%%I.%%I', cn.nspname, c.relname, a.attname) AS used_by
      FROM taken
      JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = taken.oid
                      AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
      JOIN pg_class c ON c.oid = d.refobjid
      JOIN pg_namespace cn ON cn.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.refobjsubid
    UNION
    SELECT taken.oid, format('%%I.%%I.%%I', cn.nspname, c.relname, a.attname)
      FROM taken
      JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = taken.oid
                      AND d.classid = 'pg_attrdef'::regclass
      JOIN pg_attrdef ad ON ad.oid = d.objid
      JOIN pg_class c ON c.oid = ad.adrelid
      JOIN pg_namespace cn ON cn.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
    UNION
    SELECT taken.oid, format('%%I.%%I', cn.nspname, c.relname)
      FROM taken
      JOIN pg_index i ON i.indexrelid = taken.oid
      JOIN pg_class c ON c.oid = i.indrelid
      JOIN pg_namespace cn ON cn.oid = c.relnamespace
)
SELECT taken.name, taken.relkind, min(users.used_by) AS used_by
  FROM taken
  LEFT JOIN users ON users.oid = taken.oid
 GROUP BY taken.name, taken.relkind
 ORDER BY taken.name COLLATE "C"
