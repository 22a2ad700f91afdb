"""A restore that fails (or is interrupted) after it put a table's sequence back must leave the live
sequence where it was: `setval` is not undone by a rollback, so the sequence was rewound under rows
that hold its later values, and the application's next insert failed on the primary key."""

from __future__ import annotations

from pathlib import Path

import psycopg
import psycopg.sql
import pytest

from safemigrate.backup.manifest import SequenceDef
from safemigrate.backup.restore import _restart_sequence
from tests.cli_run import run_cli
from tests.pgserver import PgServer, throwaway_roles


def _sequence(url: str) -> tuple[int, bool]:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT last_value, is_called FROM child_id_seq").fetchone()
    assert row is not None
    return int(row[0]), bool(row[1])


def test_a_restore_refused_after_the_sequences_leaves_them_as_they_were(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "safemigrate.toml").write_text('[backup]\nstore = "store"\n')
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE parent (id int PRIMARY KEY); INSERT INTO parent VALUES (1), (2), (3)")
        conn.execute("CREATE TABLE child (id serial PRIMARY KEY, parent_id int NOT NULL REFERENCES parent DEFERRABLE)")
        conn.execute("INSERT INTO child (parent_id) VALUES (1), (2), (3)")
    done = run_cli(tmp_path, "backup", "--database-url", database_url)
    assert done.returncode == 0, done.stderr
    (backup_id,) = [p.name for p in (tmp_path / "store").iterdir()]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO child (parent_id) SELECT 1 FROM generate_series(1, 5)")  # ids 4..8
        conn.execute("DELETE FROM child WHERE parent_id = 3; DELETE FROM parent WHERE id = 3")
    assert _sequence(database_url) == (8, True)
    # The backed-up child rows reference parent 3, which is gone: the (deferrable) foreign key is
    # checked at the end of the restore, after the sequences were put back, and refuses it.
    refused = run_cli(
        tmp_path, "restore", "--id", backup_id, "--tables", "child", "--yes", "--database-url", database_url
    )
    assert refused.returncode != 0, refused.stdout
    assert "parent" in refused.stderr, refused.stderr
    assert _sequence(database_url) == (8, True), "the live sequence was rewound by a restore that rolled back"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO child (parent_id) VALUES (1)")  # the application's next insert


def test_a_restore_that_goes_through_puts_the_sequence_back(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "safemigrate.toml").write_text('[backup]\nstore = "store"\n')
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE child (id serial PRIMARY KEY, v text)")
        conn.execute("INSERT INTO child (v) VALUES ('a'), ('b')")
    assert run_cli(tmp_path, "backup", "--database-url", database_url).returncode == 0
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO child (v) SELECT 'x' FROM generate_series(1, 10)")
    done = run_cli(tmp_path, "restore", "--latest", "--yes", "--database-url", database_url)
    assert done.returncode == 0, done.stderr
    assert _sequence(database_url) == (2, True)
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("INSERT INTO child (v) VALUES ('c') RETURNING id").fetchone()
    assert row == (3,)


@pytest.mark.parametrize("is_called", [True, False])
def test_a_role_that_may_not_alter_the_sequence_gets_the_setval_for_last(
    pg_server: PgServer, database_url: str, is_called: bool
) -> None:
    with throwaway_roles(pg_server, database_url, "writer") as (writer,):
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("CREATE TABLE child (id serial PRIMARY KEY)")
            role = psycopg.sql.Identifier(writer)
            conn.execute(psycopg.sql.SQL("GRANT USAGE, UPDATE ON SEQUENCE child_id_seq TO {}").format(role))
        with psycopg.connect(database_url) as conn:
            conn.execute(psycopg.sql.SQL("SET ROLE {}").format(psycopg.sql.Identifier(writer)))
            backed_up = SequenceDef(
                "id", "child_id_seq", "integer", 1, 1, 1, 2147483647, 1, False, False, 41, is_called
            )
            late = _restart_sequence(conn, "public", "child", backed_up)
            assert [statement.as_string(conn) for statement in late] == [
                f"""SELECT pg_catalog.setval('"public"."child_id_seq"', 41, {"true" if is_called else "false"})"""
            ]
            for statement in late:
                conn.execute(statement)
        assert _sequence(database_url) == (41, is_called)


def test_a_sequence_with_a_cache_continues_right_after_the_restored_value(database_url: str, tmp_path: Path) -> None:
    """With CACHE 50, a nextval in the restore's session would take a block of 50 values: the next insert
    got id 100 where the backup had handed out up to 50. The sequence restarts at the next value."""
    (tmp_path / "safemigrate.toml").write_text('[backup]\nstore = "store"\n')
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE child (id serial PRIMARY KEY, v text)")
        conn.execute("ALTER SEQUENCE child_id_seq CACHE 50")
        conn.execute("SELECT setval('child_id_seq', 50)")
        conn.execute("INSERT INTO child (id, v) VALUES (50, 'a')")
    assert run_cli(tmp_path, "backup", "--database-url", database_url).returncode == 0
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO child (v) SELECT 'x' FROM generate_series(1, 10)")
    done = run_cli(tmp_path, "restore", "--latest", "--yes", "--database-url", database_url)
    assert done.returncode == 0, done.stderr
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("INSERT INTO child (v) VALUES ('c') RETURNING id").fetchone()
    assert row == (51,)
