"""Interrupts and a full store after `migrate` or `rollback` committed: the ledger says what the
database holds, so `rollback` can act on it. Real signals reach a real `safemigrate` process at
points the test can see: its COMMIT held open by a deferred trigger, a webhook that has not
answered yet."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from safemigrate.backup.stores import LocalStore
from safemigrate.db import prisma_migrations as pm
from safemigrate.errors import BackupStoreError
from safemigrate.migrations import list_migrations
from safemigrate.pipeline.apply import apply_migrations
from safemigrate.pipeline.migrate import migrate
from safemigrate.pipeline.rollback import find_run
from tests.pgserver import wait_for_session

PATTERNS = Path(__file__).parents[2] / "fixtures" / "patterns"

# A COMMIT that waits (for the interrupt's cancel) and then goes through: a deferred trigger
# sleeps once per transaction of migrate or rollback (not of the rehearsal's clone) and swallows
# the query cancel psycopg sends on KeyboardInterrupt. It hangs off a gate table, outside the
# migrated schema, that each write to _prisma_migrations fills, and is deferred again at that
# moment, since a restore sets every constraint IMMEDIATE before rollback marks the rows.
SLOW_COMMIT = """
CREATE SCHEMA test_gate;
CREATE TABLE test_gate.commit_gate (n int);
CREATE FUNCTION test_gate.slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('application_name') IN ('safemigrate/migrate', 'safemigrate/rollback')
       AND current_setting('slow_commit.slept', true) IS DISTINCT FROM 'yes' THEN
        PERFORM set_config('slow_commit.slept', 'yes', true);
        BEGIN
            PERFORM pg_sleep(120);
        EXCEPTION WHEN query_canceled THEN
            NULL;
        END;
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON test_gate.commit_gate
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_gate.slow_commit();
CREATE FUNCTION test_gate.gate_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SET CONSTRAINTS test_gate.slow_commit DEFERRED;
    INSERT INTO test_gate.commit_gate VALUES (1);
    RETURN NULL;
END $$;
CREATE TRIGGER gate_commit AFTER INSERT OR UPDATE ON _prisma_migrations
    FOR EACH ROW EXECUTE FUNCTION test_gate.gate_commit();
"""


USERS = """INSERT INTO "User" (email, nickname) SELECT 'u' || i || '@x.io', 'n' || i FROM generate_series(1, 30) i"""


def _project(tmp_path: Path, url: str, settings: str = "") -> Path:
    """drop_column: its first migration applied, 30 users; the second (drop a column) pending."""
    project = tmp_path / "project"
    shutil.copytree(PATTERNS / "drop_column", project)
    (project / "safemigrate.toml").write_text(f'[backup]\nstore = "{tmp_path / "backups"}"\n{settings}')
    with psycopg.connect(url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
        conn.execute(USERS)
    return project


def _start(project: Path, url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "safemigrate", *args, "--project", str(project)],
        env={**os.environ, "DATABASE_URL": url, **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As from a terminal: Ctrl-C's default action (a child of a background shell ignores it).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _wait_for_commit(url: str, command: str, process: subprocess.Popen[str]) -> None:
    """Until ``command``'s session is inside its COMMIT (held there by slow_commit)."""
    with psycopg.connect(url, autocommit=True) as conn:
        while process.poll() is None:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND state = 'active' "
                "AND query = 'COMMIT' AND wait_event = 'PgSleep'",
                (f"safemigrate/{command}",),
            ).fetchone()
            if row and row[0]:
                return
            conn.execute("SELECT pg_sleep(0.05)")
    raise AssertionError("the process ended before its COMMIT: " + "".join(process.communicate()))


def _ledger(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((tmp_path / "backups" / "runs").glob("*.json"))]


def _rows(url: str) -> list[pm.MigrationRow]:
    with psycopg.connect(url, autocommit=True) as conn:
        return list(pm.read_migration_rows(conn, "public"))


def test_ctrl_c_during_the_commit_records_the_run_as_applied(tmp_path: Path, database_url: str) -> None:
    project = _project(tmp_path, database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(SLOW_COMMIT)
    process = _start(project, database_url, "migrate", "--yes", "--allow", "data-loss", "--format", "json")
    _wait_for_commit(database_url, "migrate", process)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate()
    assert process.returncode == 130, out + err
    assert all(row.applied for row in _rows(database_url)), "the COMMIT went through"
    (entry,) = _ledger(tmp_path)
    assert entry["verdict"] == "applied", entry["message"]
    assert "verification passed before the commit" in entry["message"]
    assert entry["backup_id"] and len(entry["migrations"]) == 1
    assert entry["schema_changes"], "what rollback undoes"
    assert json.loads(out)["id"] == entry["id"], "the recorded run is shown"
    find_run([entry], entry["id"])  # rollback takes it


class _HeldWebhook(http.server.BaseHTTPRequestHandler):
    arrived: threading.Event
    release: threading.Event

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.arrived.set()
        self.release.wait(60)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def held_webhook() -> Iterator[tuple[str, threading.Event]]:
    """A webhook on 127.0.0.1 that does not answer until the test is done; the event says it was called."""
    handler = type("Handler", (_HeldWebhook,), {"arrived": threading.Event(), "release": threading.Event()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler.arrived
    finally:
        handler.release.set()
        server.shutdown()
        server.server_close()


def test_ctrl_c_while_webhooks_are_sent_keeps_the_applied_entry(
    tmp_path: Path, database_url: str, held_webhook: tuple[str, threading.Event]
) -> None:
    hook, arrived = held_webhook
    settings = '[[notifications.webhooks]]\nkind = "json"\nurl_env = "OPS_WEBHOOK_URL"\ntimeout = "60s"\n'
    project = _project(tmp_path, database_url, settings)
    process = _start(project, database_url, "migrate", "--yes", "--allow", "data-loss", env={"OPS_WEBHOOK_URL": hook})
    assert arrived.wait(300), "".join(process.communicate())
    process.send_signal(signal.SIGINT)
    out, err = process.communicate()
    assert process.returncode == 130, out + err
    (entry,) = _ledger(tmp_path)
    assert entry["verdict"] == "applied", entry["message"]
    rolled = _start(project, database_url, "rollback", "--latest", "--yes")
    out, err = rolled.communicate()
    assert rolled.returncode == 0, out + err
    assert _ledger(tmp_path)[0]["verdict"] == "rolled back"


def test_ctrl_c_during_the_rollback_commit_records_the_rollback(tmp_path: Path, database_url: str) -> None:
    project = _project(tmp_path, database_url)
    run = migrate(project, database_url=database_url, allow=("data-loss",))
    assert run.verdict == "applied", run.message
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(SLOW_COMMIT)
    process = _start(project, database_url, "rollback", "--run", run.id, "--yes")
    _wait_for_commit(database_url, "rollback", process)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate()
    assert process.returncode == 130, out + err
    assert err.strip().splitlines()[-1] == (
        "Interrupted. The rollback had already committed. The run is recorded as rolled back."
    ), err
    assert not any(row.applied for row in _rows(database_url) if row.migration_name in run.migrations)
    (entry,) = _ledger(tmp_path)
    assert entry["verdict"] == "rolled back" and entry["rolled_back"]["restored"] == ["User"], entry


def test_a_second_ctrl_c_during_the_rollback_commit_says_the_outcome_is_not_known(
    tmp_path: Path, database_url: str
) -> None:
    """The first Ctrl-C cancels the COMMIT's wait, which (here) goes on for 4 s more; the second one
    leaves before it ends. The COMMIT then goes through on the server: the line must not say that
    nothing was rolled back (it said so, and the run stayed "applied" for a rolled-back database)."""
    project = _project(tmp_path, database_url)
    run = migrate(project, database_url=database_url, allow=("data-loss",))
    assert run.verdict == "applied", run.message
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(SLOW_COMMIT.replace("NULL;\n        END;", "PERFORM pg_sleep(4);\n        END;"))
    process = _start(project, database_url, "rollback", "--run", run.id, "--yes")
    _wait_for_commit(database_url, "rollback", process)
    process.send_signal(signal.SIGINT)
    time.sleep(1)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate()
    assert process.returncode == 130, out + err
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith(
            "Interrupted. The interrupt came during the rollback's COMMIT, and whether it committed is not known yet"
        )
    ), err
    deadline = time.monotonic() + 30
    while any(row.applied for row in _rows(database_url) if row.migration_name in run.migrations):
        assert time.monotonic() < deadline, "the COMMIT never went through"
        time.sleep(0.2)


def test_ctrl_c_during_the_rehearsal_restore_says_nothing_of_the_clone_as_the_database(
    tmp_path: Path, database_url: str
) -> None:
    """The rehearsal restores the backup into a throwaway clone: what that restore left ("Nothing was
    restored", "The restore had already committed: the tables hold the backup's rows") is not about
    the user's database and must not be printed as the command's last words."""
    project = _project(tmp_path, database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(USERS.replace("generate_series(1, 30)", "generate_series(31, 400000)"))
    process = _start(project, database_url, "migrate", "--allow", "data-loss", "--yes")
    wait_for_session(database_url, "safemigrate/restore", elsewhere=True, process=process)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate()
    assert process.returncode == 130, out + err
    assert err.strip().splitlines()[-1] == "Interrupted.", err
    assert "restore" not in err.strip().splitlines()[-1]


def test_a_ledger_that_cannot_be_written_keeps_the_record_beside_the_project(tmp_path: Path, database_url: str) -> None:
    from safemigrate.pipeline.migrate import RunNotRecorded

    project = _project(tmp_path, database_url)
    (tmp_path / "backups").mkdir()
    (tmp_path / "backups" / "runs").write_text("not a folder")  # the store cannot take a run record
    with pytest.raises(RunNotRecorded) as raised:
        migrate(project, database_url=database_url, allow=("data-loss",))
    run = raised.value.run
    kept = project / ".safemigrate" / "unsaved-runs" / f"{run.id}.json"
    assert run.verdict == "applied" and str(kept) in raised.value.message
    assert json.loads(kept.read_text())["backup_id"] == run.backup_id
    assert not list((tmp_path / "backups").rglob("*.tmp"))

    (tmp_path / "backups" / "runs").unlink()
    (tmp_path / "backups" / "runs").mkdir()
    shutil.copy(kept, tmp_path / "backups" / "runs")  # what the message says to do
    rolled = _start(project, database_url, "rollback", "--latest", "--yes")
    out, err = rolled.communicate()
    assert rolled.returncode == 0, out + err


def test_the_cli_says_where_the_record_went_in_one_sentence(tmp_path: Path, database_url: str) -> None:
    project = _project(tmp_path, database_url)
    (tmp_path / "backups").mkdir()
    (tmp_path / "backups" / "runs").write_text("not a folder")
    process = _start(project, database_url, "migrate", "--yes", "--allow", "data-loss")
    out, err = process.communicate()
    assert process.returncode == BackupStoreError.exit_code, out + err
    assert "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert "unsaved-runs" in line and "copy it to" in line
    assert "Applied 1 migration(s)" in out


_FULL_DISK = """
import resource, signal, sys
from pathlib import Path
from safemigrate.backup.stores import LocalStore
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (64, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
try:
    LocalStore(Path(sys.argv[1])).save_run("20260101T000000Z-abcdef", "x" * 10000)
except Exception as err:
    print(type(err).__name__, err)
"""


def test_a_full_disk_leaves_no_temporary_run_file(tmp_path: Path) -> None:
    store = tmp_path / "store"
    done = subprocess.run([sys.executable, "-c", _FULL_DISK, str(store)], capture_output=True, text=True, check=False)
    assert done.stdout.startswith("BackupStoreError Cannot write run"), done.stdout + done.stderr
    assert list((store / "runs").iterdir()) == []


def test_the_temporary_folder_takes_the_record_when_the_project_cannot(tmp_path: Path, monkeypatch: Any) -> None:
    from safemigrate.backup.stores import save_run_or_keep

    store = tmp_path / "store"
    store.mkdir()
    (store / "runs").write_text("")
    project = tmp_path / "project"
    project.mkdir()
    (project / ".safemigrate").write_text("")  # nor can the project's folder be made
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    sentence = save_run_or_keep(LocalStore(store), "20260101T000000Z-abcdef", "{}", project)
    kept = tmp_path / "tmp" / "safemigrate-unsaved-runs" / "20260101T000000Z-abcdef.json"
    assert sentence.startswith("Cannot write run 20260101T000000Z-abcdef") and f"kept in {kept}" in sentence
    assert kept.read_text() == "{}"
    with pytest.raises(BackupStoreError):
        LocalStore(store).save_run("20260101T000000Z-abcdef", "{}")
