"""Interrupts during `migrate --engine prisma`, with the real Prisma CLI: a pending migration waits
on an advisory lock the test holds, so the signals reach safemigrate while Prisma is inside it."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import psycopg

from safemigrate.db import prisma_migrations as pm
from tests.db.test_status_prisma_cli import PrismaCli, prisma, project  # noqa: F401 - fixtures

GATE = 4242  # the advisory lock the slow migration waits for
FIRST, SLOW = "20240201000000_add_a", "20240202000000_add_b_slowly"
WAITING = "waiting for `prisma migrate deploy` to finish"


def _prepare(root: Path, url: str) -> None:
    """The fixture's three migrations applied, a few rows, and two pending ones (the second waits on GATE)."""
    (root / "safemigrate.toml").write_text(f'[backup]\nstore = "{root.parent / "backups"}"\n')
    done = _cli(root, url, "migrate", "--yes")
    assert done.wait() == 0, done.communicate()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("""INSERT INTO "User" (email) SELECT 'u' || i || '@x.io' FROM generate_series(1, 20) i""")
        conn.execute("""INSERT INTO "Post" (title, "authorId") SELECT 'p' || i, i FROM generate_series(1, 20) i""")
    for name, text in (
        (FIRST, 'ALTER TABLE "Post" ADD COLUMN "a" INTEGER;\nUPDATE "Post" SET "a" = 1;\n'),
        (SLOW, f'ALTER TABLE "Post" ADD COLUMN "b" INTEGER;\nSELECT pg_advisory_xact_lock({GATE});\n'),
    ):
        (root / "prisma" / "migrations" / name).mkdir()
        (root / "prisma" / "migrations" / name / "migration.sql").write_text(text)


def _cli(root: Path, url: str, *args: str, new_group: bool = False) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "safemigrate", *args, "--project", str(root)],
        env={**os.environ, "DATABASE_URL": url},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=new_group,  # its own process group, as a terminal's foreground job
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _migrate_with_prisma(prisma: PrismaCli, root: Path, url: str, new_group: bool = False) -> subprocess.Popen[str]:  # noqa: F811
    command = f"{prisma.wrapper} --schema {root / 'prisma' / 'schema.prisma'}"
    args = ("migrate", "--yes", "--allow", "data-loss,unchecked,lock,may-fail", "--engine", "prisma")
    return _cli(root, url, *args, "--prisma-command", command, new_group=new_group)


def _lines(process: subprocess.Popen[str]) -> queue.Queue[str]:
    """safemigrate's stderr, line by line, as it comes."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.put(line)
        lines.put("")

    threading.Thread(target=read, daemon=True).start()
    return lines


def _wait_for_line(lines: queue.Queue[str], text: str) -> str:
    seen = []
    while True:
        line = lines.get(timeout=300)
        seen.append(line)
        if text in line:
            return "".join(seen)
        assert line, f"no line with {text!r}: {''.join(seen)}"


def _drain(lines: queue.Queue[str]) -> str:
    seen = []
    while (line := lines.get(timeout=60)) != "":
        seen.append(line)
    return "".join(seen)


def _wait_for_prisma_at_the_gate(conn: psycopg.Connection[Any], process: subprocess.Popen[str]) -> None:
    while process.poll() is None:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND NOT granted", (GATE,)
        ).fetchone()
        if row and row[0]:
            return
        conn.execute("SELECT pg_sleep(0.05)")
    raise AssertionError(f"safemigrate ended first: {process.communicate()}")


def _ledger(root: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((root.parent / "backups" / "runs").glob("*.json"))]


def _rows(url: str) -> dict[str, pm.MigrationRow]:
    with psycopg.connect(url, autocommit=True) as conn:
        return {r.migration_name: r for r in pm.read_migration_rows(conn, "public")}


def _deploys_running(root: Path) -> list[str]:
    """Processes still running `migrate deploy` for this project (Prisma must not outlive safemigrate)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "migrate deploy" in command and str(root) in command:
            found.append(command)
    return found


def test_ctrl_c_waits_for_prisma_to_finish_then_records_the_verified_run(
    prisma: PrismaCli,  # noqa: F811
    project: Path,  # noqa: F811
    database_url: str,
) -> None:
    _prepare(project, database_url)
    with psycopg.connect(database_url, autocommit=True) as gate:
        gate.execute("SELECT pg_advisory_lock(%s)", (GATE,))
        process = _migrate_with_prisma(prisma, project, database_url, new_group=True)
        lines = _lines(process)
        _wait_for_prisma_at_the_gate(gate, process)
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C on a terminal reaches the whole foreground group
        _wait_for_line(lines, WAITING)
        gate.execute("SELECT pg_advisory_unlock(%s)", (GATE,))
    assert process.wait() == 130
    rows = _rows(database_url)
    assert rows[FIRST].applied and rows[SLOW].applied, "Prisma finished: no migration is left half-applied"
    (*_, entry) = _ledger(project)
    assert entry["verdict"] == "applied", entry["message"]
    assert entry["migrations"] == [FIRST, SLOW] and entry["backup_id"]
    assert any("let it finish, then verified" in note for note in entry["notes"])


def test_a_second_sigterm_stops_prisma_and_the_run_can_be_rolled_back(
    prisma: PrismaCli,  # noqa: F811
    project: Path,  # noqa: F811
    database_url: str,
) -> None:
    _prepare(project, database_url)
    with psycopg.connect(database_url, autocommit=True) as gate:
        gate.execute("SELECT pg_advisory_lock(%s)", (GATE,))
        process = _migrate_with_prisma(prisma, project, database_url)
        lines = _lines(process)
        _wait_for_prisma_at_the_gate(gate, process)
        process.send_signal(signal.SIGTERM)
        _wait_for_line(lines, WAITING)
        process.send_signal(signal.SIGTERM)
        assert process.wait() == 143, _drain(lines)
        assert _deploys_running(project) == []
        out = process.stdout.read() if process.stdout else ""
        gate.execute("SELECT pg_advisory_unlock(%s)", (GATE,))
    rows = _rows(database_url)
    assert rows[FIRST].applied and rows[SLOW].failed, "Prisma was stopped inside the second migration"
    (*_, entry) = _ledger(project)
    assert entry["verdict"] == "interrupted", entry["message"]
    assert entry["migrations"] == [FIRST, SLOW] and entry["backup_id"]
    assert f"safemigrate rollback --run {entry['id']}" in entry["message"] and "safemigrate recover" in entry["message"]
    assert entry["message"] in out, "the recorded run is shown"

    latest = _cli(project, database_url, "rollback", "--latest", "--yes")
    assert latest.wait() == 2 and "was interrupted" in latest.communicate()[1]
    by_id = _cli(project, database_url, "rollback", "--run", entry["id"], "--yes")
    assert by_id.wait() == 0, by_id.communicate()
    with psycopg.connect(database_url, autocommit=True) as conn:
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'Post' AND column_name IN ('a', 'b')"
        ).fetchall()
    assert columns == [], "the columns both migrations added are dropped"
    assert _ledger(project)[-1]["verdict"] == "rolled back"
    after = _rows(database_url)
    assert after[FIRST].rolled_back and after[SLOW].rolled_back, "no failed row is left: Prisma is not stuck"


def _one_pending_with_lock_timeout(root: Path, url: str, name: str, text: str) -> None:
    """The fixture's migrations applied, a few rows, one pending migration ``name`` holding ``text``,
    and ``[database] lock_timeout = "1s"``."""
    _prepare(root, url)
    for pending in (FIRST, SLOW):
        shutil.rmtree(root / "prisma" / "migrations" / pending)
    (root / "prisma" / "migrations" / name).mkdir()
    (root / "prisma" / "migrations" / name / "migration.sql").write_text(text)
    settings = root / "safemigrate.toml"
    settings.write_text(settings.read_text() + '[database]\nlock_timeout = "1s"\n')


def test_prisma_waiting_for_an_app_lock_is_cancelled_after_lock_timeout(
    prisma: PrismaCli,  # noqa: F811
    project: Path,  # noqa: F811
    database_url: str,
) -> None:
    """Prisma's sessions do not set [database] lock_timeout: its ALTER TABLE queued behind an app's
    open transaction for as long as that lasted, and the app's next statements on the table queued
    behind it. safemigrate cancels the wait after lock_timeout, and the run fails with nothing applied."""
    blocked = "20240203000000_add_c"
    _one_pending_with_lock_timeout(project, database_url, blocked, 'ALTER TABLE "Post" ADD COLUMN "c" INTEGER;\n')
    with psycopg.connect(database_url) as app:
        app.execute("""SELECT * FROM "Post" WHERE id = 1 FOR UPDATE""")  # an app transaction, left open
        process = _migrate_with_prisma(prisma, project, database_url)
        out, err = process.communicate(timeout=300)
        assert app.execute("SELECT 1").fetchone() == (1,), "the app's transaction was left alone, still open"
        app.rollback()
    assert process.returncode == 1, out + err
    assert "safemigrate cancelled its statement after it waited 1 s for another session's lock" in out + err
    with psycopg.connect(database_url, autocommit=True) as conn:
        added = conn.execute("""SELECT 1 FROM pg_attribute WHERE attrelid = '"Post"'::regclass AND attname = 'c'""")
        assert added.fetchone() is None, "nothing was applied"
    row = _rows(database_url)[blocked]
    assert not row.applied and not row.failed, "the failed row was marked rolled back: Prisma is not stuck (P3009)"


def test_prisma_creating_an_index_concurrently_may_wait_for_older_transactions(
    prisma: PrismaCli,  # noqa: F811
    project: Path,  # noqa: F811
    database_url: str,
) -> None:
    """CREATE INDEX CONCURRENTLY waits for every older transaction to end (virtual transaction ids):
    that wait is not cancelled (it would leave an INVALID index and Prisma's failed state)."""
    indexed = "20240203000000_index_title"
    index_title = 'CREATE INDEX CONCURRENTLY "Post_title_idx" ON "Post"("title");\n'
    _one_pending_with_lock_timeout(project, database_url, indexed, index_title)
    with psycopg.connect(database_url) as app:
        app.execute("""UPDATE "Post" SET title = title WHERE id = 1""")  # an app transaction on "Post", open a while
        process = _migrate_with_prisma(prisma, project, database_url)
        with psycopg.connect(database_url, autocommit=True) as watcher:
            while (
                process.poll() is None
                and not watcher.execute(
                    "SELECT 1 FROM pg_locks WHERE locktype = 'virtualxid' AND NOT granted"
                ).fetchone()
            ):
                watcher.execute("SELECT pg_sleep(0.05)")
            watcher.execute("SELECT pg_sleep(2)")  # the index build waits on the app past lock_timeout
        app.commit()
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, out + err
    with psycopg.connect(database_url, autocommit=True) as conn:
        valid = conn.execute("""SELECT indisvalid FROM pg_index WHERE indexrelid = '"Post_title_idx"'::regclass""")
        assert valid.fetchone() == (True,)
    assert _rows(database_url)[indexed].applied
