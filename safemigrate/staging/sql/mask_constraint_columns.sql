-- The columns that a constraint or an index of a table, by name, depends on (expressions included,
-- through pg_depend). Parameters: table (qualified, quoted), name. PostgreSQL 12 and later.
SELECT DISTINCT a.attname::text
  FROM pg_depend d
  JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
 WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = to_regclass(%(table)s) AND d.refobjsubid > 0
   AND ((d.classid = 'pg_constraint'::regclass
         AND d.objid IN (SELECT oid FROM pg_constraint WHERE conrelid = to_regclass(%(table)s) AND conname = %(name)s))
     OR (d.classid = 'pg_class'::regclass
         AND d.objid IN (SELECT i.indexrelid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                          WHERE i.indrelid = to_regclass(%(table)s) AND c.relname = %(name)s)))
 ORDER BY 1
