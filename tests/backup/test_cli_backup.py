"""`safemigrate backup`, `backups list` and `restore` as a user runs them: real processes, a real server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.pgserver import PgServer


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "safemigrate", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def filled(database_url: str) -> str:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE a (id serial PRIMARY KEY, v text); INSERT INTO a (v) VALUES ('x'), ('y'), (NULL)")
        conn.execute("CREATE TABLE b (id int PRIMARY KEY REFERENCES a, n numeric); INSERT INTO b VALUES (1, 1.5)")
    return database_url


def test_one_row_and_one_table_are_counted_in_the_singular(filled: str, tmp_path: Path) -> None:
    (tmp_path / "safemigrate.toml").write_text('[backup]\nstore = "my-backups"\n')
    done = run("backup", "--tables", "b", "--database-url", filled, "--project", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith('backup: "b" (1/1): 1 row, '), done.stderr
    assert ": 1 table, 1 row, " in done.stdout, done.stdout
    (backup_id,) = [p.name for p in (tmp_path / "my-backups").iterdir()]
    listed = run("backups", "list", "--project", str(tmp_path), cwd=tmp_path)
    assert "1 table (b)  1 row  " in listed.stdout, listed.stdout
    restored = run(
        "restore", "--id", backup_id, "--yes", "--database-url", filled, "--project", str(tmp_path), cwd=tmp_path
    )
    assert restored.returncode == 0, restored.stderr
    assert 'restore: "b": 1 row (replaced)' in restored.stderr, restored.stderr


def test_backup_list_restore(filled: str, tmp_path: Path, pg_server: PgServer) -> None:
    (tmp_path / "safemigrate.toml").write_text('[backup]\nstore = "my-backups"\n')
    done = run(
        "backup", "--database-url", filled, "--project", str(tmp_path), "--reason", "before the release", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    progress = done.stderr.splitlines()
    assert len(progress) == 2 and all(line.startswith("backup: ") for line in progress)
    assert '"a"' in done.stderr and "3 rows" in done.stderr
    assert done.stdout.startswith("Backup ") and "2 tables, 4 rows" in done.stdout
    store = tmp_path / "my-backups"
    (backup_id,) = [p.name for p in store.iterdir()]

    listed = run("backups", "list", "--format", "json", "--project", str(tmp_path), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    (entry,) = json.loads(listed.stdout)["backups"]
    assert entry["id"] == backup_id and entry["tables"] == ["a", "b"] and entry["rows"] == 4
    assert entry["reason"] == {"kind": "manual", "text": "before the release"} and entry["verified"] is None
    text = run("backups", "list", "--project", str(tmp_path), cwd=tmp_path)
    assert backup_id in text.stdout and "before the release" in text.stdout

    with psycopg.connect(filled, autocommit=True) as conn:
        conn.execute("DELETE FROM b; DELETE FROM a")
    refused = run("restore", "--latest", "--database-url", filled, "--project", str(tmp_path), cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.startswith("error: ") and "--yes" in refused.stderr
    restored = run(
        "restore", "--id", backup_id, "--yes", "--database-url", filled, "--project", str(tmp_path), cwd=tmp_path
    )
    assert restored.returncode == 0, restored.stderr
    assert "counts and fingerprints match" in restored.stdout
    with psycopg.connect(filled, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM a").fetchone() == (3,)
    for output in (done, listed, text, refused, restored):
        assert pg_server.password not in output.stdout + output.stderr


def test_mistakes_end_in_one_line(filled: str, tmp_path: Path, pg_server: PgServer) -> None:
    missing = run("restore", "--id", "20990101T000000Z-000000", "--yes", "--database-url", filled, cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "There is no backup" in missing.stderr
    neither = run("restore", "--yes", "--database-url", filled, cwd=tmp_path)
    assert neither.returncode == 2 and "--id ID, --latest or --at TIME" in neither.stderr
    unknown = run("backup", "--tables", "a,zzz", "--database-url", filled, cwd=tmp_path)
    assert unknown.returncode == 2 and "'zzz'" in unknown.stderr and unknown.stderr.count("\n") == 1
    assert not (tmp_path / ".safemigrate" / "backups").exists() or not any(
        (tmp_path / ".safemigrate" / "backups").iterdir()
    )
    empty = run("backups", "list", cwd=tmp_path)
    assert empty.returncode == 0 and empty.stdout.strip() == "No backups."
    for output in (missing, neither, unknown):
        assert pg_server.password not in output.stderr


def test_a_table_whose_name_holds_a_comma_is_named_in_double_quotes(database_url: str, tmp_path: Path) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute('CREATE TABLE "x,y" (id int PRIMARY KEY); INSERT INTO "x,y" VALUES (1), (2)')
        conn.execute("CREATE TABLE x (id int PRIMARY KEY); CREATE TABLE y (id int PRIMARY KEY)")
    (tmp_path / "safemigrate.toml").write_text('[backup]\nstore = "my-backups"\n')
    done = run("backup", "--tables", '"x,y"', "--database-url", database_url, "--project", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert ": 1 table, 2 rows, " in done.stdout, done.stdout
    (backup_id,) = [p.name for p in (tmp_path / "my-backups").iterdir()]
    listed = run("backups", "list", "--project", str(tmp_path), cwd=tmp_path)
    assert "1 table (x,y)" in listed.stdout, listed.stdout
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute('DELETE FROM "x,y" WHERE id = 2')
    restored = run(
        "restore", "--id", backup_id, "--tables", ' "x,y" ', "--yes", "--database-url", database_url,
        "--project", str(tmp_path), cwd=tmp_path,
    )  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    with psycopg.connect(database_url) as conn:
        assert conn.execute('SELECT count(*) FROM "x,y"').fetchone() == (2,)
    broken = run("backup", "--tables", '"x,y', "--database-url", database_url, "--project", str(tmp_path), cwd=tmp_path)
    assert broken.returncode == 2, broken.stderr
    assert broken.stderr.startswith("error: --tables '\"x,y' has a double quote that is not closed."), broken.stderr
    assert len(broken.stderr.strip().splitlines()) == 1, broken.stderr


def test_a_jobs_count_beyond_the_tables_and_cores_is_accepted(filled: str, tmp_path: Path) -> None:
    (tmp_path / "safemigrate.toml").write_text('[backup]\nstore = "my-backups"\n')
    done = run(
        "backup",
        "--tables",
        "a",
        "--jobs",
        "100000",
        "--database-url",
        filled,
        "--project",
        str(tmp_path),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert ": 1 table, 3 rows, " in done.stdout, done.stdout


@pytest.mark.parametrize("at", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00"])
def test_a_restore_time_past_the_range_of_dates_is_one_sentence(tmp_path: Path, at: str) -> None:
    (tmp_path / "safemigrate.toml").write_text('[backup]\nstore = "my-backups"\n')
    done = run("restore", "--at", at, "--yes", "--project", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"error: --at {at!r} is out of the range of dates. "
        'Write it like "2026-11-20 14:00" (UTC) or "2026-11-20T14:00:00+01:00".'
    ]


def test_a_backup_of_many_tables_is_listed_on_one_readable_line(database_url: str, tmp_path: Path) -> None:
    """A whole-schema backup of a big project holds hundreds of tables: the text list names the first
    ten and counts the rest; the JSON list keeps every name."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        for i in range(25):
            conn.execute(sql.SQL("CREATE TABLE {} (id int)").format(sql.Identifier(f"t{i:02}")))
    (tmp_path / "safemigrate.toml").write_text('[backup]\nstore = "my-backups"\n')
    done = run("backup", "--database-url", database_url, "--project", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = run("backups", "list", "--project", str(tmp_path), cwd=tmp_path)
    names = ", ".join(f"t{i:02}" for i in range(10))
    assert f"  25 tables ({names} and 15 more)  0 rows  " in text.stdout, text.stdout
    listed = run("backups", "list", "--format", "json", "--project", str(tmp_path), cwd=tmp_path)
    (entry,) = json.loads(listed.stdout)["backups"]
    assert entry["tables"] == [f"t{i:02}" for i in range(25)]
