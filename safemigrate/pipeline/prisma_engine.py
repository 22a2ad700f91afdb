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
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from safemigrate.db import load_sql
from safemigrate.db.lock import PRISMA_MIGRATION_LOCK_KEY, acquire_migration_lock, release_migration_lock

HANDOVER_WAIT = 60.0  # seconds for Prisma to queue for the lock


@dataclass(frozen=True)
class PrismaOutcome:
    exit_code: int
    output: str  # Prisma's stdout and stderr, as it printed them
    handed_over: bool  # Prisma queued for the lock and got it from us


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
) -> PrismaOutcome:
    """Run ``command migrate deploy`` and hand it Prisma's lock (held by ``conn``); take it back after."""
    from safemigrate.errors import MigrationLockError

    queued = lock_waiters(conn)
    if queued:
        raise MigrationLockError(
            f"Another session (pid {min(queued)}) is already queued for Prisma's migration lock; handing the lock "
            "to `prisma migrate deploy` now could let that one run first. Nothing was changed.",
            "Wait for the other deploy to finish, then run again.",
        )
    try:
        process = subprocess.Popen(
            [*command, "migrate", "deploy"],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
    except OSError as err:
        from safemigrate.errors import InputError

        raise InputError(
            f"Cannot start {' '.join(command)}: {err.strerror or err}.",
            "Install the Prisma CLI in the project (npm install prisma) or set [migrate] prisma_command.",
        ) from err
    handed_over = False
    try:
        deadline = time.monotonic() + HANDOVER_WAIT
        while process.poll() is None and time.monotonic() < deadline:
            if lock_waiters(conn):
                release_migration_lock(conn)
                handed_over = True
                if on_handover is not None:
                    on_handover()
                break
            time.sleep(0.05)
        if not handed_over and process.poll() is None:
            process.kill()
        output, _ = process.communicate()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if handed_over:
            acquire_migration_lock(conn, timeout=lock_timeout)
    return PrismaOutcome(process.returncode, output or "", handed_over)
