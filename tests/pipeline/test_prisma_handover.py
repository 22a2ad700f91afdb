"""`migrate --engine prisma`: the lock is handed over only to the `prisma migrate deploy` safemigrate
started, never to another migrator that queues while Prisma is still starting; and a Prisma command
that never takes the lock is reported as such, with nothing applied."""

from __future__ import annotations

import datetime as dt
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from safemigrate.db import prisma_migrations as pm
from safemigrate.db.lock import PRISMA_MIGRATION_LOCK_KEY, acquire_migration_lock, release_migration_lock
from safemigrate.errors import InputError, MigrationLockError
from safemigrate.pipeline import prisma_engine as pe
from safemigrate.pipeline.prisma_engine import Session, handover_decision
from tests.db.test_status_prisma_cli import PrismaCli, prisma, project  # noqa: F401 - fixtures

STARTED = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
# Stands in for `npx prisma` while it starts: waits until another session is queued for Prisma's
# lock, then runs the rest of the command (so that one is queued first, with no timing involved).
WAIT_FOR_A_WAITER = """
import os, sys, time, psycopg
url = os.environ["DATABASE_URL"]
with psycopg.connect(url, autocommit=True, application_name="waits-for-a-waiter") as conn:
    open(sys.argv[1], "w").close()
    while not conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 72707369 AND NOT granted"
    ).fetchone()[0]:
        time.sleep(0.05)
os.execvp(sys.argv[2], sys.argv[2:])
"""
# A Prisma that ignores PGAPPNAME (its application_name is its own): tied to the run by its socket.
QUEUE_WITHOUT_THE_NAME = """
import os, psycopg
with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, application_name="no-pgappname") as conn:
    conn.execute("SELECT pg_advisory_lock(72707369)")
"""


def _waiter(pid: int, started: float = 1.0, waited: float | None = 2.0) -> Session:
    def at(seconds: float | None) -> dt.datetime | None:
        return None if seconds is None else STARTED + dt.timedelta(seconds=seconds)

    return Session(pid, "", "127.0.0.1", 40000 + pid, at(started), at(waited))


@pytest.mark.parametrize(
    ("waiters", "ours", "ordered", "unidentifiable", "fallback", "expected"),
    [
        pytest.param([], set(), True, False, False, ("wait", None), id="nobody-queued"),
        pytest.param(
            [_waiter(1, waited=2), _waiter(2, waited=3)], {1}, True, False, False, ("hand over", 1), id="ours-first"
        ),
        pytest.param(
            [_waiter(1, waited=2), _waiter(2, waited=3)], {2}, True, False, False, ("refuse", 1), id="other-first"
        ),
        pytest.param(
            [_waiter(1, waited=2), _waiter(2, waited=2)], {1}, True, False, False, ("refuse", 2), id="tie-is-not-ours"
        ),
        pytest.param(
            [_waiter(1, waited=2), _waiter(2, waited=None)],
            {1},
            True,
            False,
            False,
            ("wait", None),
            id="wait-just-began",
        ),
        pytest.param([_waiter(1, waited=None)], {1}, False, False, False, ("hand over", 1), id="pg13-ours-alone"),
        pytest.param(
            [_waiter(1, waited=None), _waiter(2, waited=None)],
            {1},
            False,
            False,
            False,
            ("refuse", 2),
            id="pg13-not-alone",
        ),
        pytest.param([_waiter(1, started=-5)], set(), True, False, False, ("refuse", 1), id="older-than-prisma"),
        pytest.param([_waiter(1)], set(), True, False, False, ("wait", None), id="unknown-prisma-not-connected-yet"),
        pytest.param([_waiter(1)], set(), True, True, False, ("hand over", 1), id="unidentifiable-lone-newer"),
        pytest.param(
            [_waiter(1), _waiter(2, waited=3)], set(), True, True, False, ("refuse", 1), id="unidentifiable-two"
        ),
        pytest.param([_waiter(1)], set(), True, False, True, ("hand over", 1), id="no-proc-lone-newer"),
    ],
)
def test_the_lock_goes_only_to_our_prisma_queued_first(
    waiters: list[Session],
    ours: set[int],
    ordered: bool,
    unidentifiable: bool,
    fallback: bool,
    expected: tuple[str, int | None],
) -> None:
    decision = handover_decision(
        waiters, frozenset(ours), ordered=ordered, started=STARTED, unidentifiable=unidentifiable, fallback=fallback
    )
    assert (decision.action, decision.pid) == expected


def _running(text: str) -> bool:
    """Whether another process has ``text`` in its command line or environment (the run's Prisma)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            seen = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue
        if text.encode() in seen:
            return True
    return False


@dataclass
class _OtherMigrator:
    """Another migrator: queues for Prisma's lock once ``ready`` exists, then holds it briefly;
    notes whether the run's Prisma (a process showing ``prisma_mark``) still ran when it got it."""

    url: str
    ready: Path
    prisma_mark: str = ""
    run_over: threading.Event = field(default_factory=threading.Event)
    got_lock_while_prisma_ran: bool | None = None
    error: str = ""

    def __call__(self) -> None:
        try:
            while not self.ready.exists():
                threading.Event().wait(0.05)
            with psycopg.connect(self.url, autocommit=True, application_name="other-migrator") as conn:
                conn.execute("SELECT pg_advisory_lock(%s)", (PRISMA_MIGRATION_LOCK_KEY,))
                self.got_lock_while_prisma_ran = _running(self.prisma_mark)
                conn.execute("SELECT 1")  # its session was not ended
                conn.execute("SELECT pg_advisory_unlock(%s)", (PRISMA_MIGRATION_LOCK_KEY,))
        except psycopg.Error as err:
            self.error = str(err)


@pytest.fixture
def other_migrator(database_url: str, tmp_path: Path) -> Iterator[_OtherMigrator]:
    other = _OtherMigrator(database_url, tmp_path / "prisma-started", prisma_mark=database_url)
    thread = threading.Thread(target=other, daemon=True)
    thread.start()
    yield other
    other.run_over.set()
    thread.join(timeout=60)
    assert not thread.is_alive()


def _script(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_another_migrator_queued_while_prisma_starts_does_not_get_the_lock_first(
    prisma: PrismaCli,  # noqa: F811
    project: Path,  # noqa: F811
    database_url: str,
    tmp_path: Path,
    monkeypatch: Any,
    other_migrator: _OtherMigrator,
) -> None:
    """The real Prisma CLI, started by a command that lets another migrator queue first (as while
    npx starts): Prisma's session is tied to the run by its PGAPPNAME, so the run refuses, and the
    other one gets the lock once the run is over, its session alive."""
    from safemigrate.pipeline.migrate import migrate

    _in_process(project, database_url, monkeypatch)
    starter = _script(tmp_path, "starting-prisma.py", WAIT_FOR_A_WAITER)
    command = (sys.executable, str(starter), str(other_migrator.ready), str(prisma.wrapper))
    command += ("--schema", str(project / "prisma" / "schema.prisma"))
    with pytest.raises(MigrationLockError) as refused:
        migrate(project, engine="prisma", prisma_command=command, skip_dry_run=True)
    other_migrator.run_over.set()
    assert "queued for Prisma's migration lock before `prisma migrate deploy` did" in refused.value.message
    assert "Nothing was applied" in refused.value.message
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert pm.read_migration_rows(conn, "public") == ()
    _joined(other_migrator)
    assert other_migrator.got_lock_while_prisma_ran is False, "the other migrator got the lock after Prisma"


def _joined(other: _OtherMigrator) -> None:
    for _ in range(1200):
        if other.got_lock_while_prisma_ran is not None or other.error:
            break
        threading.Event().wait(0.05)
    assert not other.error, f"the other migrator's session was ended: {other.error}"


def test_a_prisma_ignoring_pgappname_is_told_apart_by_its_socket(
    database_url: str, tmp_path: Path, monkeypatch: Any, other_migrator: _OtherMigrator
) -> None:
    """Linux: a waiter whose client port is a socket of a process in Prisma's process session is
    Prisma's; the other migrator, queued first, is not: refused, Prisma stopped, lock kept."""
    if not pe.PROC.joinpath("net", "tcp").exists():
        pytest.skip("needs /proc (Linux)")
    monkeypatch.setenv("DATABASE_URL", database_url)
    starter = _script(tmp_path, "starting.py", WAIT_FOR_A_WAITER)
    queue = _script(tmp_path, "queue_for_the_lock.py", QUEUE_WITHOUT_THE_NAME)
    command = (sys.executable, str(starter), str(other_migrator.ready), sys.executable, str(queue))
    with psycopg.connect(database_url, autocommit=True) as conn:
        acquire_migration_lock(conn, timeout=5)
        try:
            with pytest.raises(MigrationLockError, match=r"kept the lock and stopped Prisma"):
                pe.run_prisma_deploy(conn, command, tmp_path, lock_timeout=5, handover_wait=120)
            held = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND granted AND pid = %s",
                (PRISMA_MIGRATION_LOCK_KEY, conn.info.backend_pid),
            ).fetchone()
            assert held == (1,), "the lock stayed with safemigrate"
        finally:
            other_migrator.run_over.set()
            release_migration_lock(conn)
    _joined(other_migrator)
    assert other_migrator.got_lock_while_prisma_ran is False


def test_our_prisma_alone_is_handed_the_lock_by_its_socket(database_url: str, tmp_path: Path, monkeypatch: Any) -> None:
    if not pe.PROC.joinpath("net", "tcp").exists():
        pytest.skip("needs /proc (Linux)")
    monkeypatch.setenv("DATABASE_URL", database_url)
    queue = _script(tmp_path, "queue_for_the_lock.py", QUEUE_WITHOUT_THE_NAME)
    with psycopg.connect(database_url, autocommit=True) as conn:
        acquire_migration_lock(conn, timeout=5)
        try:
            outcome = pe.run_prisma_deploy(
                conn, (sys.executable, str(queue)), tmp_path, lock_timeout=5, handover_wait=120
            )
        finally:
            release_migration_lock(conn)
    assert outcome.handed_over and outcome.exit_code == 0, outcome.output


def test_a_prisma_over_a_unix_socket_alone_is_handed_the_lock(
    database_url: str, tmp_path: Path, monkeypatch: Any
) -> None:
    """Over a Unix socket neither PGAPPNAME (ignored here, as Prisma's native engine does) nor a TCP
    socket ties the waiter to Prisma: a lone waiter that came after Prisma is taken for it. Before,
    the run waited until Prisma gave up (P1002) and then said it had never queued."""
    with psycopg.connect(database_url, autocommit=True) as probe:
        row = probe.execute("SHOW unix_socket_directories").fetchone()
    assert row is not None
    socket_url = psycopg.conninfo.make_conninfo(database_url, host=row[0].split(",")[0].strip())
    monkeypatch.setenv("DATABASE_URL", socket_url)
    queue = _script(tmp_path, "queue_for_the_lock.py", QUEUE_WITHOUT_THE_NAME)
    with psycopg.connect(socket_url, autocommit=True) as conn:
        assert conn.info.host.startswith("/")
        acquire_migration_lock(conn, timeout=5)
        try:
            # 20 s bounds the run without the fix; no time is asserted
            outcome = pe.run_prisma_deploy(
                conn, (sys.executable, str(queue)), tmp_path, lock_timeout=5, handover_wait=20
            )
        finally:
            release_migration_lock(conn)
    assert outcome.handed_over and outcome.exit_code == 0, outcome.output


def _in_process(root: Path, database_url: str, monkeypatch: Any, settings: str = "") -> None:
    """For ``migrate()`` called in this process: the project's database and its backup store."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    (root / "safemigrate.toml").write_text(f'[backup]\nstore = "{root.parent / "backups"}"\n{settings}')


def _shell(tmp_path: Path, name: str, body: str) -> tuple[str, ...]:
    path = _script(tmp_path, name, f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return (str(path),)


def test_a_prisma_that_never_queues_is_reported_as_not_queued_with_nothing_applied(
    project: Path,  # noqa: F811
    database_url: str,
    tmp_path: Path,
    monkeypatch: Any,
) -> None:
    from safemigrate.pipeline.migrate import migrate

    _in_process(project, database_url, monkeypatch, '[database]\nprisma_handover_timeout = "1s"\n')
    run = migrate(project, engine="prisma", prisma_command=_shell(tmp_path, "slow", "sleep 600"), skip_dry_run=True)
    assert run.verdict == "failed"
    assert "did not queue for Prisma's migration lock within 1 s" in run.message, run.message
    assert "stopped it and nothing was applied" in run.message and "npm install" in run.message
    assert "[database] prisma_handover_timeout" in run.message
    assert "exited" not in run.message
    assert not any("Applied by" in note for note in run.notes)


def test_a_prisma_that_exits_0_without_the_lock_applied_nothing_here(
    project: Path,  # noqa: F811
    database_url: str,
    tmp_path: Path,
    monkeypatch: Any,
) -> None:
    from safemigrate.pipeline.migrate import migrate

    _in_process(project, database_url, monkeypatch)
    run = migrate(project, engine="prisma", prisma_command=("true",), skip_dry_run=True)
    assert run.verdict == "failed"
    assert "exited 0 without queuing for Prisma's migration lock on this database" in run.message, run.message
    assert "nothing was applied here" in run.message and run.database in run.message
    assert "stay applied" not in run.message and "verification" not in run.message.lower()
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert pm.read_migration_rows(conn, "public") == ()


def test_a_missing_prisma_command_points_at_the_option_that_exists(
    project: Path,  # noqa: F811
    database_url: str,
    tmp_path: Path,
    monkeypatch: Any,
) -> None:
    from safemigrate.pipeline.migrate import migrate

    _in_process(project, database_url, monkeypatch)
    with pytest.raises(InputError) as missing:
        migrate(project, engine="prisma", prisma_command=(str(tmp_path / "no-prisma"),), skip_dry_run=True)
    assert "--prisma-command" in missing.value.hint and "[migrate]" not in missing.value.hint
