"""`safemigrate migrate` against other `migrate` processes and against kill -9, on a real server.

Real processes (``python -m safemigrate migrate --yes``), started at once on one project and
database, with a pending migration slow enough (``SELECT pg_sleep(...)``, which the linter leaves
alone) for the runs to overlap:

- with a long ``[database] migrate_lock_timeout`` the second run waits for Prisma's lock, then
  finds nothing pending and ends up to date;
- with a short one it gives up, naming the session that holds the lock;
- either way each migration has exactly one finished row in ``_prisma_migrations``.

And a run killed with SIGKILL in the middle of its apply leaves the schema, the data and
``_prisma_migrations`` as they were once the server has ended the dead session, frees Prisma's
advisory lock, and the next run applies.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from safemigrate.db import prisma_migrations as pm
from safemigrate.db.catalog.snapshot import snapshot_to_dict, take_snapshot
from safemigrate.db.fingerprint import fingerprint
from safemigrate.db.lock import PRISMA_MIGRATION_LOCK_KEY
from safemigrate.migrations import list_migrations
from safemigrate.pipeline.apply import apply_migrations

PATTERNS = Path(__file__).parents[2] / "fixtures" / "patterns"
SLOW = "20240401000000_post_flag"
ADD_FLAG = '-- AlterTable\nALTER TABLE "Post" ADD COLUMN "flag" BOOLEAN;\n'
APPLICATION = "safemigrate/migrate"


def _project(tmp_path: Path, database_url: str, pending_sql: str, settings: str = "") -> Path:
    """index_added with its first migration deployed (and rows in it), and one pending migration."""
    project = tmp_path / "project"
    shutil.copytree(PATTERNS / "index_added", project)
    (project / "safemigrate.toml").write_text(f'[backup]\nstore = "{tmp_path / "backups"}"\n{settings}')
    first, second = list_migrations(project / "prisma" / "migrations")
    shutil.rmtree(second.path)
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", [first])
        conn.execute("""INSERT INTO "User" (email) SELECT 'u' || i || '@x.io' FROM generate_series(1, 20) i""")
        conn.execute(
            """INSERT INTO "Post" (title, "authorId") SELECT 'post ' || i, 1 + i % 20 FROM generate_series(1, 50) i"""
        )
    _write_pending(project, pending_sql)
    return project


def _write_pending(project: Path, text: str) -> None:
    folder = project / "prisma" / "migrations" / SLOW
    folder.mkdir(exist_ok=True)
    (folder / "migration.sql").write_text(text)


def _start(project: Path, url: str, *args: str, environ: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "safemigrate", "migrate", "--yes", *args, "--project", str(project)],
        env={**os.environ, "DATABASE_URL": url, **(environ or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _poll(condition: Callable[[], Any], what: str, seconds: float = 60.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    pytest.fail(f"gave up after {seconds:g} s waiting for {what}")


def _query(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def _lock_waiters(url: str) -> int:
    """Sessions waiting (not granted) for Prisma's advisory lock in the URL's database."""
    rows = _query(
        url,
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
        "WHERE l.locktype = 'advisory' AND l.classid = 0 AND l.objid = %s AND l.objsubid = 1 "
        "AND NOT l.granted AND d.datname = current_database()",
        PRISMA_MIGRATION_LOCK_KEY,
    )
    return int(rows[0][0])


def _lock_held(url: str) -> bool:
    rows = _query(
        url,
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
        "WHERE l.locktype = 'advisory' AND l.classid = 0 AND l.objid = %s AND l.objsubid = 1 "
        "AND d.datname = current_database()",
        PRISMA_MIGRATION_LOCK_KEY,
    )
    return int(rows[0][0]) > 0


def _sleeping_apply(url: str) -> int | None:
    """The backend pid of a safemigrate migrate session running pg_sleep in the URL's database."""
    rows = _query(
        url,
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s "
        "AND state = 'active' AND query ILIKE '%%pg_sleep%%'",
        APPLICATION,
    )
    return int(rows[0][0]) if rows else None


def _backend_alive(url: str, pid: int) -> bool:
    return bool(_query(url, "SELECT 1 FROM pg_stat_activity WHERE pid = %s", pid))


def _has_flag_column(url: str) -> bool:
    rows = _query(url, "SELECT 1 FROM pg_attribute WHERE attrelid = '\"Post\"'::regclass AND attname = 'flag'")
    return bool(rows)


def _finished_rows(url: str) -> dict[str, int]:
    """Migration name -> number of finished, not rolled back rows in _prisma_migrations."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = pm.read_migration_rows(conn, "public")
    counts: dict[str, int] = {}
    for row in rows:
        assert row.finished_at is not None and row.rolled_back_at is None, f"unexpected row {row}"
        counts[row.migration_name] = counts.get(row.migration_name, 0) + 1
    return counts


def _state(url: str) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        schema = snapshot_to_dict(take_snapshot(conn))  # _prisma_migrations included: its rows are fingerprinted too
        return schema, fingerprint(conn).to_dict()


def _race(project: Path, url: str) -> tuple[list[subprocess.CompletedProcess[str]], int]:
    """Two runs started at once; their outcomes, and the most lock waiters seen at any time while they ran."""
    processes = [_start(project, url), _start(project, url)]
    most_waiters = 0
    while any(p.poll() is None for p in processes):
        most_waiters = max(most_waiters, _lock_waiters(url))
        time.sleep(0.05)
    outcomes = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=60)
        outcomes.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return outcomes, most_waiters


def _describe(outcomes: list[subprocess.CompletedProcess[str]]) -> str:
    return "\n".join(f"--- exit {o.returncode}\n{o.stdout}{o.stderr}" for o in outcomes)


def test_a_second_run_waits_for_the_lock_then_finds_nothing_pending(tmp_path: Path, database_url: str) -> None:
    project = _project(
        tmp_path, database_url, ADD_FLAG + "\nSELECT pg_sleep(3);\n", '[database]\nmigrate_lock_timeout = "120s"\n'
    )
    outcomes, most_waiters = _race(project, database_url)
    context = _describe(outcomes)
    assert most_waiters == 1, "the second run waited for Prisma's lock while the first held it\n" + context
    applied = [o for o in outcomes if "Applied 1 migration(s)" in o.stdout]
    assert len(applied) == 1 and applied[0].returncode == 0, context
    (waited,) = (o for o in outcomes if o is not applied[0])
    assert _finished_rows(database_url) == {"20240301100000_init": 1, SLOW: 1}
    assert waited.returncode == 0 and "up to date" in waited.stdout, context


def test_a_second_run_that_cannot_get_the_lock_names_its_holder(tmp_path: Path, database_url: str) -> None:
    project = _project(
        tmp_path, database_url, ADD_FLAG + "\nSELECT pg_sleep(3);\n", '[database]\nmigrate_lock_timeout = "1s"\n'
    )
    outcomes, most_waiters = _race(project, database_url)
    context = _describe(outcomes)
    assert most_waiters == 1, context
    applied = [o for o in outcomes if "Applied 1 migration(s)" in o.stdout]
    assert len(applied) == 1 and applied[0].returncode == 0, context
    (refused,) = (o for o in outcomes if o is not applied[0])
    assert refused.returncode != 0, context
    assert "Another migration holds Prisma's migration lock" in refused.stderr, context
    assert "pid " in refused.stderr and f'application_name "{APPLICATION}"' in refused.stderr, context
    assert "Traceback" not in refused.stderr, context
    assert _finished_rows(database_url) == {"20240301100000_init": 1, SLOW: 1}


def test_kill_9_during_the_apply_changes_nothing_and_the_next_run_applies(tmp_path: Path, database_url: str) -> None:
    project = _project(tmp_path, database_url, ADD_FLAG + "\nSELECT pg_sleep(30);\n")
    before = _state(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        major = conn.info.server_version // 10000
    # A backend notices a vanished client only when it next talks to it (here: after the sleep);
    # PostgreSQL 14+ can check every second instead, which keeps this test short. Same outcome.
    checks = {"PGOPTIONS": "-c client_connection_check_interval=1000"} if major >= 14 else {}
    process = _start(project, database_url, "--skip-dry-run", environ=checks)
    try:
        backend = _poll(lambda: _sleeping_apply(database_url), "the apply to reach pg_sleep")
        assert _lock_held(database_url), "the apply runs under Prisma's lock"
        assert not _has_flag_column(database_url), "the ALTER is not visible outside the apply's transaction"
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    _poll(lambda: not _backend_alive(database_url, backend), "the server to end the dead client's session", 90)

    assert _state(database_url) == before, "the server rolled the dead session's transaction back"
    assert _finished_rows(database_url) == {"20240301100000_init": 1}
    assert not _lock_held(database_url), "Prisma's advisory lock is free"

    _write_pending(project, ADD_FLAG)  # still pending: editing it is allowed
    after = _start(project, database_url)
    stdout, stderr = after.communicate(timeout=300)
    assert after.returncode == 0 and "Applied 1 migration(s)" in stdout, stdout + stderr
    assert _finished_rows(database_url) == {"20240301100000_init": 1, SLOW: 1}
    assert _has_flag_column(database_url)
    assert _query(database_url, 'SELECT count(*), count(flag) FROM "Post"') == [(50, 0)]


def test_a_table_rewrite_counts_the_rows_the_app_committed_while_it_waited(tmp_path: Path, database_url: str) -> None:
    """Prisma's Int -> BigInt rewrites "Post" from the latest committed rows, not the transaction's
    snapshot: an app row committed while the run waited for its lock was counted as a row that
    appeared, and the good migration was rolled back. The rewritten table is locked before the snapshot."""
    project = _project(tmp_path, database_url, 'ALTER TABLE "Post" ALTER COLUMN "id" SET DATA TYPE BIGINT;\n')
    with psycopg.connect(database_url) as app:
        app.execute("""INSERT INTO "Post" (title, "authorId") VALUES ('app row', 1)""")  # not committed yet
        run = _start(project, database_url)
        waiting = (
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s "
            "AND wait_event_type = 'Lock'"
        )
        _poll(lambda: _query(database_url, waiting, APPLICATION), "the run to wait for the app's lock")
        app.commit()
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, out + err
    assert _query(database_url, """SELECT count(*), max(title) FILTER (WHERE title = 'app row') FROM "Post" """) == [
        (51, "app row")
    ]
    assert _query(
        database_url,
        "SELECT data_type FROM information_schema.columns WHERE table_name = 'Post' AND column_name = 'id'",
    ) == [("bigint",)]


@pytest.mark.parametrize(
    "pending",
    [
        'ALTER TABLE "Post" ALTER COLUMN "id" SET DATA TYPE BIGINT;\n',  # a rewrite
        'ALTER TABLE "Post" ADD COLUMN "n" INTEGER;\nUPDATE "Post" SET "n" = 0;\n'
        'ALTER TABLE "Post" ALTER COLUMN "n" SET NOT NULL;\n',
    ],
    ids=["rewrite", "backfill-then-set-not-null"],
)
def test_an_app_transaction_that_read_the_table_then_writes_it_is_not_deadlocked(
    tmp_path: Path, database_url: str, pending: str
) -> None:
    """The run must not hold a lock that blocks writes while it waits for the app's read to end: the
    app's next write would wait for the run while the run waits for the app (a deadlock, and the app's
    transaction killed). It waits for its ACCESS EXCLUSIVE lock instead, and the app's write goes first."""
    project = _project(tmp_path, database_url, pending)
    _app_reads_then_writes_while_the_run_waits(project, database_url)
    assert _query(database_url, """SELECT title FROM "Post" WHERE id = 1""") == [("app wrote this",)]


def _app_reads_then_writes_while_the_run_waits(project: Path, url: str, *args: str) -> None:
    """An app transaction reads "Post", a run starts and waits for a lock, the app then updates a
    row of "Post" and commits; the run must finish (exit 0)."""
    with psycopg.connect(url) as app:
        app.execute("""SELECT count(*) FROM "Post" """).fetchall()  # the app's transaction reads first
        run = _start(project, url, *args)
        waiting = (
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s "
            "AND wait_event_type = 'Lock'"
        )
        _poll(lambda: _query(url, waiting, APPLICATION), "the run to wait for the app's lock")
        app.execute("""UPDATE "Post" SET title = 'app wrote this' WHERE id = 1""")  # ... then writes
        app.commit()
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, out + err


def test_a_backfill_then_drop_index_is_not_deadlocked_with_an_app_that_read_the_table(
    tmp_path: Path, database_url: str
) -> None:
    """DROP INDEX names only the index, yet locks its table ACCESS EXCLUSIVE: the run finds the table
    in the catalog and takes that lock before the backfill's, as for an ALTER TABLE."""
    project = _project(
        tmp_path, database_url, 'UPDATE "Post" SET "title" = "title" || \'!\';\nDROP INDEX "Post_title_idx";\n'
    )
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute('CREATE INDEX "Post_title_idx" ON "Post" ("title")')
    _app_reads_then_writes_while_the_run_waits(project, database_url, "--allow", "data-loss")  # it overwrites titles
    assert _query(database_url, """SELECT title FROM "Post" WHERE id = 1""") == [("app wrote this!",)]
    assert _query(database_url, """SELECT to_regclass('"Post_title_idx"')""") == [(None,)]


def test_the_run_waits_for_an_app_lock_holding_no_other(tmp_path: Path, database_url: str) -> None:
    """The run needs "User" (its backfill) and "Post" (its ALTER); the app's open transaction wrote
    "User" and will read "Post" next. Holding "Post" while waiting for "User" deadlocked the app once
    its read came (PostgreSQL killed the app's transaction). The run waits for "User" holding nothing."""
    pending = 'UPDATE "User" SET "email" = lower("email");\n'
    pending += 'ALTER TABLE "Post" ALTER COLUMN "title" SET DATA TYPE VARCHAR(500);\n'
    project = _project(tmp_path, database_url, pending)
    with psycopg.connect(database_url) as app:
        app.execute("""UPDATE "User" SET email = 'app@x.io' WHERE id = 1""")  # the app's transaction writes "User"
        run = _start(project, database_url, "--allow", "data-loss")  # the backfill overwrites values
        waiting = (
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s "
            "AND wait_event_type = 'Lock'"
        )
        _poll(lambda: _query(database_url, waiting, APPLICATION), "the run to wait for the app's lock")
        time.sleep(1.5)  # past deadlock_timeout (1 s): the run's own deadlock check has run, and found none
        assert app.execute("""SELECT count(*) FROM "Post" """).fetchone() == (50,)  # ... then reads "Post"
        app.commit()
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, out + err
    assert _query(database_url, """SELECT email FROM "User" WHERE id = 1""") == [("app@x.io",)]
