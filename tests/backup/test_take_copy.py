"""The backup's COPY reading loop and the restore's frozen loading, on a real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from safemigrate.backup import restore_backup, take_backup
from safemigrate.backup.take import COPY_BLOCK, copy_out
from safemigrate.db.fingerprint import fingerprint
from safemigrate.db.url import parse_database_url
from tests.backup.test_backup_restore import source  # noqa: F401  (fixture)

COPY = b"COPY (SELECT i, repeat('x', i % 300) FROM generate_series(1, 20000) AS i) TO STDOUT (FORMAT binary)"


def test_copy_out_hands_over_exactly_what_copy_sends_in_bounded_blocks(database_url: str) -> None:
    blocks: list[bytes] = []
    with psycopg.connect(database_url) as conn:
        rows = copy_out(conn, COPY, lambda block: blocks.append(bytes(block)))
        with conn.cursor() as cur, cur.copy(COPY.decode()) as copy:
            expected = b"".join(bytes(chunk) for chunk in copy)
        assert conn.execute("SELECT 1").fetchone() == (1,)  # the connection is usable afterwards
    assert rows == 20000
    assert b"".join(blocks) == expected
    assert len(blocks) > 1
    assert all(len(block) < COPY_BLOCK + 400 for block in blocks)  # a block ends at the row crossing the size


def test_copy_out_raises_the_server_error_and_leaves_the_connection_usable(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        with pytest.raises(psycopg.errors.DivisionByZero):
            copy_out(conn, b"COPY (SELECT 1 / (i - 5000) FROM generate_series(1, 9000) AS i) TO STDOUT", lambda _: None)
        conn.rollback()
        with pytest.raises(psycopg.errors.UndefinedTable):
            copy_out(conn, b"COPY no_such_table TO STDOUT", lambda _: None)
        conn.rollback()
        assert conn.execute("SELECT 2").fetchone() == (2,)


def _prints(url: str) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        return {t.table: t for t in fingerprint(conn, tables=["author", "post", "note"]).tables}


def test_restore_in_a_repeatable_read_database_loads_without_freeze(
    source: str,  # noqa: F811
    other_database: str,
    tmp_path: Path,
) -> None:
    # COPY FREEZE is refused in a transaction holding a snapshot: the restore must not use it there
    with psycopg.connect(other_database, autocommit=True) as conn:
        name = conn.info.dbname
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET default_transaction_isolation = 'repeatable read'").format(
                sql.Identifier(name)
            )
        )
    take_backup(parse_database_url(source), tmp_path / "store", jobs=2)
    result = restore_backup(parse_database_url(other_database, source="--to-url"), tmp_path / "store")
    assert {t.name for t in result.tables} == {"author", "post", "note"}
    assert _prints(other_database) == _prints(source)


def test_rows_replaced_in_place_are_loaded_frozen_and_equal(source: str, tmp_path: Path) -> None:  # noqa: F811
    with psycopg.connect(source, autocommit=True) as conn:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
        except psycopg.Error:
            from tests.conftest import _unavailable

            _unavailable("the pageinspect extension is not available on this server")
    take_backup(parse_database_url(source), tmp_path / "store", jobs=1)
    before = _prints(source)
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute("UPDATE note SET text = 'changed'")
    restore_backup(parse_database_url(source, source="--to-url"), tmp_path / "store")
    assert _prints(source) == before
    with psycopg.connect(source, autocommit=True) as conn:  # HEAP_XMIN_FROZEN = 0x0300 on every row
        frozen = conn.execute(
            "SELECT count(*), bool_and((t_infomask & 768) = 768) FROM heap_page_items(get_raw_page('note', 0))"
        ).fetchone()
    assert frozen == (2, True)
