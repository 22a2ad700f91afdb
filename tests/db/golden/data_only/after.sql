-- Rows, statistics and sequence positions only: no schema change (data-dependent fields are compared
-- only when asked, see test_diff.py).
INSERT INTO t (v) SELECT 'x' FROM generate_series(1, 100);
ANALYZE t;
