"""Ctrl-C during `restore` says what the restore left: nothing before its COMMIT; during the COMMIT
(here held up by a synchronous standby that never answers, as a slow disk or network could), the
server may have committed already, and the line says so instead of a bare "Interrupted."."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import psycopg.sql
import pytest

from tests.pgserver import PgServer, wait_for_session

SETUP = """
CREATE TABLE account (id int PRIMARY KEY, balance int NOT NULL);
INSERT INTO account SELECT g, 100 FROM generate_series(1, 1000) g;
"""


def _safemigrate(*args: str) -> list[str]:
    return [sys.executable, "-m", "safemigrate", *args]


@pytest.fixture
def backed_up(database_url: str, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A project whose store holds a backup of ``account`` (every balance 100), then every balance set
    to 0 in the database: (project, backup id)."""
    (tmp_path / "safemigrate.toml").write_text('[backup]\nstore = "store"\n')
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(SETUP)
    done = subprocess.run(
        _safemigrate("backup", "--project", str(tmp_path), "--database-url", database_url),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (backup_id,) = [p.name for p in (tmp_path / "store").iterdir()]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE account SET balance = 0")
    yield tmp_path, backup_id


def _restore(project: Path, backup_id: str, url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _safemigrate("restore", "--id", backup_id, "--yes", "--project", str(project), "--database-url", url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _interrupt(child: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    return child.returncode, stderr


def _balances(url: str) -> set[int]:
    with psycopg.connect(url) as conn:
        return {row[0] for row in conn.execute("SELECT DISTINCT balance FROM account")}


def test_an_interrupt_before_the_commit_restores_nothing_and_says_so(
    backed_up: tuple[Path, str], database_url: str
) -> None:
    project, backup_id = backed_up
    with psycopg.connect(database_url) as holder:
        holder.execute("LOCK TABLE account IN ACCESS SHARE MODE")  # the restore's TRUNCATE waits for it
        child = _restore(project, backup_id, database_url)
        wait_for_session(database_url, "safemigrate/restore", wait_event_type="Lock", process=child)
        code, stderr = _interrupt(child)
        holder.rollback()
    assert code == 130, stderr
    assert stderr.strip().splitlines() == [
        "Interrupted. Nothing was restored: the restore's transaction was rolled back."
    ]
    assert _balances(database_url) == {0}


def test_an_interrupt_during_a_commit_that_went_through_says_the_restore_committed(
    pg_server: PgServer, backed_up: tuple[Path, str], database_url: str
) -> None:
    if pg_server.origin == "url":
        pytest.skip("needs a throwaway server: the test changes synchronous_standby_names for a moment")
    project, backup_id = backed_up
    database = database_url.rsplit("/", 1)[1]
    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        # Every commit in the test's database that wrote something now waits for a standby that never
        # comes (the throwaway server runs with synchronous_commit off: on for this database only).
        admin.execute(
            psycopg.sql.SQL("ALTER DATABASE {} SET synchronous_commit = on").format(psycopg.sql.Identifier(database))
        )
        admin.execute("ALTER SYSTEM SET synchronous_standby_names = 'nobody'")
        admin.execute("SELECT pg_reload_conf()")
        try:
            time.sleep(0.5)  # the reload reaches every backend
            child = _restore(project, backup_id, database_url)
            wait_for_session(database_url, "safemigrate/restore", wait_event="SyncRep", process=child)
            code, stderr = _interrupt(child)
        finally:
            admin.execute("ALTER SYSTEM RESET synchronous_standby_names")
            admin.execute("SELECT pg_reload_conf()")
    assert code == 130, stderr
    lines = stderr.strip().splitlines()
    assert lines == [
        "Interrupted. The restore had already committed: the tables hold the backup's rows, checked against its "
        "fingerprints before the commit."
    ], stderr
    assert _balances(database_url) == {100}


def test_an_interrupt_during_backup_verify_says_the_backup_is_saved(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "safemigrate.toml").write_text('[backup]\nstore = "store"\n')
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE big (id int PRIMARY KEY, v text)")
        conn.execute("INSERT INTO big SELECT g, repeat('x', 40) FROM generate_series(1, 400000) g")
    child = subprocess.Popen(
        _safemigrate("backup", "--verify", "--project", str(tmp_path), "--database-url", database_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    # the verification's restore, in its scratch database (a session of our own URL's server)
    wait_for_session(database_url, "safemigrate/restore", elsewhere=True, process=child)
    code, stderr = _interrupt(child)
    (backup_id,) = [p.name for p in (tmp_path / "store").iterdir()]
    assert code == 130, stderr
    assert stderr.strip().splitlines()[-1] == (
        f"Interrupted. Backup {backup_id} is saved in {tmp_path / 'store'}, but not verified "
        "(`backups list` shows it so)."
    ), stderr
    with psycopg.connect(database_url) as conn:  # the check's scratch database went with it
        scratch = "safemigrate_verify_" + backup_id.lower().replace("-", "_") + "%"
        left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (scratch,)).fetchall()
    assert left == []
