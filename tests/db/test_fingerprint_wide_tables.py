"""Fingerprints of wide tables on real PostgreSQL servers: PostgreSQL allows 1,600 columns, and a table
that wide must have a fingerprint with the numbers the module docstring defines (the same numbers as
before wide tables worked: stored fingerprints stay comparable)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from safemigrate.db import load_sql
from safemigrate.db.fingerprint import TableFingerprint, fingerprint, fingerprint_query

Conn = psycopg.Connection[Any]

# Column types in turn: the general text path (int4, text), the boolean constants (bool), and an
# enum with few labels (its constants), so every way a value's hash is computed is in the chain.
_TYPES = ("int4", "text", "bool", "mood")
_MOOD_LABELS = ("sad", "ok", "happy")


@pytest.fixture
def conn(database_url: str) -> Iterator[Conn]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(b"CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')")
        yield connection


def _value(type_name: str, row: int, column: int) -> Any:
    """A deterministic value, NULL now and then (NULLs count in the row hash)."""
    if (row + column) % 7 == 3:
        return None
    if type_name == "int4":
        return row * 100_000 + column
    if type_name == "text":
        return f"r{row}c{column}"
    if type_name == "bool":
        return (row + column) % 2 == 0
    return _MOOD_LABELS[(row + column) % 3]


def _create_wide(conn: Conn, table: str, columns: int, rows: int = 3) -> list[str]:
    """``table`` with ``columns`` columns (c0000, c0001, ...: types from _TYPES in turn) and ``rows`` rows."""
    names = [f"c{i:04d}" for i in range(columns)]
    types = [_TYPES[i % len(_TYPES)] for i in range(columns)]
    definitions = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(name), sql.Identifier(type_name))
        for name, type_name in zip(names, types, strict=True)
    )
    conn.execute(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(table), definitions))
    insert = sql.SQL("INSERT INTO {} VALUES ({})").format(
        sql.Identifier(table),
        sql.SQL(", ").join(sql.SQL("%s::{}").format(sql.Identifier(type_name)) for type_name in types),
    )
    for row in range(rows):
        conn.execute(insert, [_value(type_name, row, i) for i, type_name in enumerate(types)])
    return names


def _hex(total: Any) -> str:
    return f"{int(total or 0) % (1 << 64):016x}"


def _reference(conn: Conn, table: str, names: list[str]) -> tuple[int, str, list[tuple[str, int, str]]]:
    """The fingerprint as the module docstring defines it, computed another way: each row's value
    hashes in one array, the row hash folded over that array by a recursive query (r starts at 0;
    ``r = hashint8extended(is_null_i, r # h_i)`` column after column), the sums taken modulo 2**64."""
    hashes = sql.SQL(", ").join(
        sql.SQL('hashtextextended(CAST({} AS text) COLLATE "C", 0)').format(sql.Identifier(name)) for name in names
    )
    values = sql.SQL("SELECT ARRAY[{}]::int8[] AS h FROM {}").format(hashes, sql.Identifier(table))
    chain = sql.SQL(
        """WITH RECURSIVE v AS ({values}),
        chain (i, r, h) AS (
            SELECT 0, 0::int8, h FROM v
            UNION ALL
            SELECT i + 1, hashint8extended((h[i + 1] IS NULL)::int4::int8, r # coalesce(h[i + 1], 0)), h
              FROM chain WHERE i < cardinality(h))
        SELECT count(*), sum(r) FROM chain WHERE i = cardinality(h)"""
    ).format(values=values)
    found = conn.execute(chain).fetchone()
    assert found is not None
    per_column = sql.SQL(
        "SELECT u.n, count(u.x), sum(u.x) FROM ({values}) AS v, unnest(v.h) WITH ORDINALITY AS u (x, n) "
        "GROUP BY u.n ORDER BY u.n"
    ).format(values=values)
    columns = [(names[n - 1], int(count), _hex(total)) for n, count, total in conn.execute(per_column)]
    return int(found[0]), _hex(found[1]), columns


def _numbers(table: TableFingerprint) -> tuple[int, str | None, list[tuple[str, int, str | None]]]:
    return table.rows, table.row_hash, [(c.name, c.non_null, c.value_hash) for c in table.columns]


def _one(conn: Conn, table: str, **options: Any) -> TableFingerprint:
    return fingerprint(conn, tables=[table], **options).tables[0]


# The fingerprints of the 20- and 330-column tables of _create_wide, taken with the code as it was before
# wide tables worked (its row hash nested one expression per column; Python's recursion limit raised so it
# could render the 330-column statement): a tripwire for any change of the numbers.
_GOLDEN_ROW_HASH = {20: "bb8e588c620bd938", 330: "844b7a5797d891ea"}


@pytest.mark.parametrize("columns", [20, 330])
def test_a_wide_table_has_the_fingerprint_the_docstring_defines(conn: Conn, columns: int) -> None:
    """A table past the width where the statement used to crash (about 325 columns) gets its fingerprint,
    with the same numbers as the definition (and as a narrow table always had)."""
    names = _create_wide(conn, "wide", columns)
    found = _one(conn, "wide")
    assert _numbers(found) == _reference(conn, "wide", names)
    assert found.rows == 3
    assert found.row_hash == _GOLDEN_ROW_HASH[columns]
    fast = _one(conn, "wide", mode="fast")
    assert [(c.name, c.non_null) for c in fast.columns] == [(c.name, c.non_null) for c in found.columns]


def test_a_table_of_1600_columns_has_a_fingerprint_read_whole_or_in_block_ranges(conn: Conn) -> None:
    """PostgreSQL's widest table: the same numbers as the definition, in one statement or block range by
    block range (each row fills most of a page, so a range of one block holds one row)."""
    names = _create_wide(conn, "widest", 1600, rows=4)
    expected = _reference(conn, "widest", names)
    counts = [(name, count) for name, count, _ in expected[2]]
    whole = _one(conn, "widest", chunk_bytes=None)
    assert _numbers(whole) == expected
    ranged = _one(conn, "widest", chunk_bytes=8192)
    assert _numbers(ranged) == expected
    fast = _one(conn, "widest", mode="fast")
    assert (fast.rows, [(c.name, c.non_null) for c in fast.columns]) == (4, counts)


def test_a_table_of_1600_columns_needs_no_more_than_a_small_server_stack(conn: Conn) -> None:
    """The row hash of 1,600 columns is not one expression nested 1,600 deep (about 1.6 MB of the server's
    stack, near the 2 MB default of max_stack_depth): it works with a quarter of the default."""
    names = _create_wide(conn, "widest", 1600, rows=2)
    expected = _reference(conn, "widest", names)
    try:
        conn.execute(b"SET max_stack_depth = '512kB'")
    except psycopg.errors.InsufficientPrivilege:
        pytest.skip("the test server's role may not set max_stack_depth (not a superuser)")
    assert _numbers(_one(conn, "widest")) == expected


def test_a_table_of_1600_columns_has_a_fingerprint_where_the_server_would_read_it_in_parallel(conn: Conn) -> None:
    """Parallel workers hand their partial sums to the leader as rows of at most 1,664 values, fewer than
    the two per column of 1,600 columns: such a table is read without them (same numbers), and the
    session's own parallel settings are left as they were."""
    names = _create_wide(conn, "widest", 1600, rows=4)
    rows, row_hash, columns = _reference(conn, "widest", names)
    for _ in range(2):  # every row four times: each sum four times over
        conn.execute(b"INSERT INTO widest SELECT * FROM widest")
    conn.execute(b"ANALYZE widest")
    conn.execute(b"SET parallel_setup_cost = 0")
    conn.execute(b"SET min_parallel_table_scan_size = 0")
    conn.execute(b"SET max_parallel_workers_per_gather = 2")
    with conn.transaction(force_rollback=True):
        conn.execute(load_sql("fingerprint_session").encode())
        query = fingerprint_query("public", "widest", "r", names, "full").as_bytes(conn)
        plan = [line for (line,) in conn.execute(b"EXPLAIN " + query)]
    assert any("Partial Aggregate" in line for line in plan)  # the server would have workers sum the rows

    def times_four(value: str) -> str:
        return _hex(4 * int(value, 16))

    expected = (
        4 * rows,
        times_four(row_hash),
        [(name, 4 * count, times_four(total)) for name, count, total in columns],
    )
    assert _numbers(_one(conn, "widest", chunk_bytes=None)) == expected
    assert _numbers(_one(conn, "widest", chunk_bytes=8192)) == expected
    assert conn.execute(b"SHOW max_parallel_workers_per_gather").fetchone() == ("2",)
