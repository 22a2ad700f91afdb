"""Ctrl-C and SIGTERM end a command in one line with 130 / 143, after the same clean-up: a backup
blocked on a lock is stopped, its session ended, and no partial backup is left. A backup waiting for
a lock does not freeze the process meanwhile."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

STARTUP_INTERRUPT = """
import sys

class Interrupting:
    def find_spec(self, name, path=None, target=None):
        if name == "typer":
            raise KeyboardInterrupt
        return None

sys.meta_path.insert(0, Interrupting())
sys.argv = ["safemigrate", "status"]
from safemigrate.cli import main
main()
"""


def _waiting_backup_pid(url: str, deadline: float) -> int:
    """The backend pid of a safemigrate backup session waiting for a lock."""
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'safemigrate/backup' "
                "AND wait_event_type = 'Lock'"
            ).fetchone()
            if row is not None:
                return int(row[0])
            time.sleep(0.05)
    raise AssertionError("the backup never waited for the lock")


@pytest.mark.parametrize(
    ("signum", "code", "said"), [(signal.SIGTERM, 143, "Terminated."), (signal.SIGINT, 130, "Interrupted.")]
)
def test_a_signal_stops_a_blocked_backup_cleanly(
    database_url: str, tmp_path: Path, signum: int, code: int, said: str
) -> None:
    store = tmp_path / "store"
    (tmp_path / "safemigrate.toml").write_text(f'[backup]\nstore = "{store}"\n')
    with psycopg.connect(database_url, autocommit=True) as setup:
        setup.execute("CREATE TABLE held (id int PRIMARY KEY); INSERT INTO held SELECT generate_series(1, 100)")
    with psycopg.connect(database_url) as holder:
        holder.execute("LOCK TABLE held IN ACCESS EXCLUSIVE MODE")
        command = ["backup", "--tables", "held", "--project", str(tmp_path), "--database-url", database_url]
        child = subprocess.Popen(
            [sys.executable, "-m", "safemigrate", *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # a child of a background shell may inherit SIGINT ignored: give it the default back
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            backend = _waiting_backup_pid(database_url, time.monotonic() + 60)
            child.send_signal(signum)
            _, stderr = child.communicate(timeout=60)
        finally:
            if child.poll() is None:
                child.kill()
        holder.rollback()
    assert child.returncode == code, stderr
    assert stderr.strip().splitlines() == [said]
    assert not store.exists() or not any(store.iterdir()), "no backup, complete or partial, is left"
    with psycopg.connect(database_url, autocommit=True) as conn:
        gone = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (backend,)).fetchone()
    assert gone == (0,), "the backup's session ended with it"


def test_ctrl_c_during_start_up_is_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-c", STARTUP_INTERRUPT], capture_output=True, text=True, check=False, env=dict(os.environ)
    )
    assert done.returncode == 130
    assert done.stderr.strip() == "Interrupted."


def test_a_copy_waiting_for_a_lock_does_not_freeze_the_backup(database_url: str, tmp_path: Path) -> None:
    """While one session's COPY waits for a lock, the backup's other session goes on with its own
    work (here it reaches the same lock). psycopg's get_result waited for the COPY holding the
    interpreter lock: every thread stopped, so only the COPY's session was ever seen waiting, and
    signals were not handled until the lock was released."""
    store = tmp_path / "store"
    (tmp_path / "safemigrate.toml").write_text(f'[backup]\nstore = "{store}"\n')
    with psycopg.connect(database_url, autocommit=True) as setup:
        setup.execute("CREATE TABLE held (id int PRIMARY KEY); INSERT INTO held SELECT generate_series(1, 100)")
    command = ["backup", "--tables", "held", "--jobs", "2", "--project", str(tmp_path), "--database-url", database_url]
    with psycopg.connect(database_url) as holder:
        holder.execute("LOCK TABLE held IN ACCESS EXCLUSIVE MODE")
        child = subprocess.Popen(
            [sys.executable, "-m", "safemigrate", *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            most_waiting = 0  # backup sessions seen waiting for the lock at once
            with psycopg.connect(database_url, autocommit=True) as conn:
                deadline = time.monotonic() + 60
                while most_waiting < 2 and time.monotonic() < deadline and child.poll() is None:
                    row = conn.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'safemigrate/backup' "
                        "AND wait_event_type = 'Lock'"
                    ).fetchone()
                    most_waiting = max(most_waiting, row[0] if row else 0)
                    time.sleep(0.05)
            holder.rollback()  # the lock goes: the backup finishes
            stdout, stderr = child.communicate(timeout=60)
        finally:
            if child.poll() is None:
                child.kill()
    assert most_waiting == 2, f"{most_waiting} session(s) waited for the lock: the rest of the backup was frozen"
    assert child.returncode == 0, stderr
    assert "1 table, 100 rows" in stdout
