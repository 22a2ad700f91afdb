"""``migrate --engine prisma``: step 5 by the project's own ``prisma migrate deploy``.

Hand-over of Prisma's migration lock without a window: safemigrate holds the lock, checks that no
other session is queued for it, starts ``prisma migrate deploy`` (which queues for the same lock),
waits until exactly that new session is queued, and only then releases: PostgreSQL grants an
advisory lock to its queued waiters in order, so Prisma gets it before any later migrator. When
Prisma is done, safemigrate takes the lock again and verifies: the schema diff must equal the
rehearsal's and touched tables' row counts may only change as their statements allow (untouched
tables' data is not compared: Prisma's transactions are not ours, so other sessions' writes would
show). A verification failure is undone from the pre-migrate backup (as ``rollback`` does); a
failed migration is recovered (what took effect undone, the row marked rolled back) when the
catalog allows, else the run says what to restore.

Interrupts: Prisma runs in its own session (process group), so the terminal's Ctrl-C reaches only
safemigrate, which decides. Before Prisma holds the lock nothing has been applied: Prisma is stopped
and the interrupt goes on. Once it holds the lock, a first interrupt (Ctrl-C, or SIGTERM raised as
KeyboardInterrupt by the command line) is reported through ``on_interrupt`` and safemigrate waits
for Prisma to finish, since Prisma commits each migration and killing it mid-migration leaves a
half-applied one; a second interrupt abandons it: its process group is terminated and waited for,
and its server session ended (else the statement it ran would go on, and could still commit).
Either way the outcome says so and the caller records what the database shows. Prisma never
outlives this function: any other way out kills its process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from safemigrate.db import load_sql
from safemigrate.db.lock import PRISMA_MIGRATION_LOCK_KEY, acquire_migration_lock, release_migration_lock

HANDOVER_WAIT = 60.0  # seconds for Prisma to queue for the lock
STOP_WAIT = 10.0  # seconds for an abandoned Prisma to exit on SIGTERM before it is killed


@dataclass(frozen=True)
class PrismaOutcome:
    exit_code: int
    output: str  # Prisma's stdout and stderr, as it printed them
    handed_over: bool  # Prisma queued for the lock and got it from us
    # The first interrupt that arrived while Prisma held the lock (it was let finish), to be raised
    # again by the caller once the run is recorded; KeyboardInterrupt, or Terminated for SIGTERM.
    interrupt: KeyboardInterrupt | None = None
    abandoned: bool = False  # a second interrupt: Prisma was stopped, perhaps mid-migration


def lock_waiters(conn: psycopg.Connection[Any], key: int = PRISMA_MIGRATION_LOCK_KEY) -> set[int]:
    rows = conn.execute(load_sql("lock_waiters"), {"key": key}).fetchall()
    return {int(r[0]) for r in rows}


def run_prisma_deploy(
    conn: psycopg.Connection[Any],
    command: Sequence[str],
    cwd: Path,
    *,
    lock_timeout: float,
    env: dict[str, str] | None = None,
    on_handover: Callable[[], None] | None = None,
    on_interrupt: Callable[[], None] | None = None,
) -> PrismaOutcome:
    """Run ``command migrate deploy`` and hand it Prisma's lock (held by ``conn``); take it back after.

    An interrupt before the hand-over stops Prisma and is raised again (nothing was applied); after
    it, see the module docstring (``on_interrupt`` is called on the first one)."""
    from safemigrate.errors import MigrationLockError

    queued = lock_waiters(conn)
    if queued:
        raise MigrationLockError(
            f"Another session (pid {min(queued)}) is already queued for Prisma's migration lock; handing the lock "
            "to `prisma migrate deploy` now could let that one run first. Nothing was changed.",
            "Wait for the other deploy to finish, then run again.",
        )
    # Prisma's output goes to a file: waiting is then a plain wait, which an interrupt can resume.
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as output:
        try:
            process = subprocess.Popen(
                [*command, "migrate", "deploy"],
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # the terminal's Ctrl-C must not cut it mid-migration
            )
        except OSError as err:
            from safemigrate.errors import InputError

            raise InputError(
                f"Cannot start {' '.join(command)}: {err.strerror or err}.",
                "Install the Prisma CLI in the project (npm install prisma) or set [migrate] prisma_command.",
            ) from err
        handed_over = abandoned = False
        interrupt: KeyboardInterrupt | None = None
        prisma_sessions: set[int] = set()
        try:
            deadline = time.monotonic() + HANDOVER_WAIT
            while True:
                try:
                    if handed_over:
                        process.wait()
                        break
                    if process.poll() is not None or time.monotonic() >= deadline:
                        break
                    prisma_sessions = lock_waiters(conn)
                    if prisma_sessions:
                        with _signals_held():  # released and recorded as released, or neither
                            release_migration_lock(conn)
                            handed_over = True
                        if on_handover is not None:
                            on_handover()
                        continue
                    time.sleep(0.05)
                except KeyboardInterrupt as received:
                    if not handed_over:  # Prisma never held the lock: nothing was applied
                        _stop(process)
                        raise
                    if interrupt is not None:
                        abandoned = True
                        _stop(process)
                        _end_sessions(conn, prisma_sessions)
                        break
                    interrupt = received
                    if on_interrupt is not None:
                        on_interrupt()
            if not handed_over:  # it never queued for the lock in time (or exited first)
                _stop(process)
        finally:
            if process.poll() is None:  # leaving abnormally: Prisma must not go on alone
                _kill_group(process, signal.SIGKILL)
                process.wait()
                if handed_over:
                    _end_sessions(conn, prisma_sessions)
            if handed_over:
                acquire_migration_lock(conn, timeout=lock_timeout)
        output.seek(0)
        text = output.read()
    return PrismaOutcome(process.returncode, text, handed_over, interrupt, abandoned)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done (their handlers run right after it)."""
    held = {signal.SIGINT, signal.SIGTERM}
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _end_sessions(conn: psycopg.Connection[Any], pids: set[int]) -> None:
    """End the server sessions of an abandoned Prisma: a backend does not notice its client is gone
    while a statement runs (or waits for a lock), and would finish it, and commit it, and keep
    Prisma's lock until then. Ended, its statement is rolled back and the lock is free at once."""
    for pid in sorted(pids):
        with contextlib.suppress(psycopg.Error):  # not allowed to: the lock is waited for as usual
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


def _kill_group(process: subprocess.Popen[Any], signum: int) -> None:
    """Signal Prisma's whole process group (its wrapper script, node and what node started)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)


def _stop(process: subprocess.Popen[Any]) -> None:
    """Terminate Prisma's process group and wait for it; killed when it lingers or on a further interrupt."""
    if process.poll() is not None:
        return
    _kill_group(process, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_WAIT)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        _kill_group(process, signal.SIGKILL)
        process.wait()
