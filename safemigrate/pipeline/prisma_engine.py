"""``migrate --engine prisma``: step 5 by the project's own ``prisma migrate deploy``.

Hand-over of Prisma's migration lock without a window: safemigrate holds the lock, checks that no
other session is queued for it, starts ``prisma migrate deploy`` (which queues for the same lock),
waits until a session *of that Prisma* is queued first, and only then releases: PostgreSQL grants an
advisory lock to its queued waiters in order, so Prisma gets it before any later migrator. A waiter
is Prisma's when its application_name is the one given to Prisma (``PGAPPNAME``, which node-postgres
and libpq read), or, on Linux, when its client address and port are those of a TCP socket owned by a
process of Prisma's process session. A migrator that queued ahead of Prisma (while ``npx`` was still
starting it) makes the run refuse: safemigrate keeps the lock, stops Prisma, nothing is applied. When
no waiter can be tied to Prisma (its native engine ignores ``PGAPPNAME``; behind NAT or without
``/proc`` no socket matches), the lock goes to a lone waiter that connected after Prisma started,
and on Linux only once Prisma is seen connected to the server through a socket no session matches.

When Prisma is done, safemigrate takes the lock again and verifies: the schema diff must equal the
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
and its server sessions ended (else the statement it ran would go on, and could still commit): only
the sessions tied to it and the one the lock was handed to, never another client's. Either way the
outcome says so and the caller records what the database shows. Prisma never outlives this
function: any other way out kills its process group.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import math
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg.rows import class_row

from safemigrate.db import load_sql
from safemigrate.db.lock import PRISMA_MIGRATION_LOCK_KEY, acquire_migration_lock, release_migration_lock

HANDOVER_WAIT = 60.0  # seconds for Prisma to queue for the lock
STOP_WAIT = 10.0  # seconds for an abandoned Prisma to exit on SIGTERM before it is killed
# Seconds a socket of Prisma's must match no server session before Prisma counts as unidentifiable:
# a new connection shows in pg_stat_activity only once its backend has started.
UNMATCHED_SETTLE = 1.0
PROC = Path("/proc")

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Endpoint = tuple[IpAddress, int]


@dataclass(frozen=True)
class PrismaOutcome:
    exit_code: int
    output: str  # Prisma's stdout and stderr, as it printed them
    handed_over: bool  # Prisma queued for the lock and got it from us
    # The first interrupt that arrived while Prisma held the lock (it was let finish), to be raised
    # again by the caller once the run is recorded; KeyboardInterrupt, or Terminated for SIGTERM.
    interrupt: KeyboardInterrupt | None = None
    abandoned: bool = False  # a second interrupt: Prisma was stopped, perhaps mid-migration
    queue_wait_expired: bool = False  # it did not queue within the hand-over wait and was stopped
    unidentified: tuple[int, ...] = ()  # sessions queued then that could not be tied to Prisma
    # Prisma's sessions whose statement safemigrate cancelled: it waited for another session's lock
    # longer than [database] lock_timeout (which Prisma's own sessions do not set).
    lock_waits_cancelled: tuple[int, ...] = ()


@dataclass(frozen=True)
class Session:
    """A server session (columns of sql/lock_waiters.sql and sql/database_sessions.sql)."""

    pid: int
    application_name: str
    client_addr: str | None  # None for a Unix socket, or hidden from this role
    client_port: int | None
    backend_start: dt.datetime | None  # None when hidden from this role
    waitstart: dt.datetime | None  # when it started waiting for the lock (PostgreSQL 14+, waiters only)


@dataclass(frozen=True)
class Handover:
    """What to do with the lock now: keep waiting, hand it to ``pid``, or refuse (``pid`` queued first)."""

    action: Literal["wait", "hand over", "refuse"]
    pid: int | None = None


def lock_waiters(conn: psycopg.Connection[Any], key: int = PRISMA_MIGRATION_LOCK_KEY) -> list[Session]:
    """The sessions queued for advisory lock ``key``, in queue order from PostgreSQL 14 on."""
    name = "lock_waiters.pg14" if conn.info.server_version >= 140000 else "lock_waiters"
    with conn.cursor(row_factory=class_row(Session)) as cur:
        cur.execute(load_sql(name), {"key": key})
        return cur.fetchall()


def database_sessions(conn: psycopg.Connection[Any]) -> list[Session]:
    """The other client sessions connected to the connection's database."""
    with conn.cursor(row_factory=class_row(Session)) as cur:
        cur.execute(load_sql("database_sessions"))
        return cur.fetchall()


def handover_decision(
    waiters: Sequence[Session],
    ours: frozenset[int],
    *,
    ordered: bool,
    started: dt.datetime,
    unidentifiable: bool,
    fallback: bool,
) -> Handover:
    """Whether to hand the lock over now. ``ours``: the waiters tied to our Prisma; ``ordered``:
    waitstart gives the queue order (PostgreSQL 14+); ``started``: when Prisma started (server
    clock); ``unidentifiable``: Prisma is connected but none of its sessions can be tied to it;
    ``fallback``: a lone waiter that connected after Prisma may be taken for it then (see the
    module docstring)."""
    if not waiters:
        return Handover("wait")
    # A session older than Prisma is another client's, and whatever Prisma does it queues behind it.
    older = [w for w in waiters if w.pid not in ours and w.backend_start is not None and w.backend_start < started]
    if older:
        return Handover("refuse", older[0].pid)
    if ours:
        if not ordered:  # no queue order to read: Prisma must be alone in the queue
            foreign = [w for w in waiters if w.pid not in ours]
            return Handover("refuse", foreign[0].pid) if foreign else Handover("hand over", min(ours))
        if any(w.waitstart is None for w in waiters):
            return Handover("wait")  # a wait that has just begun: its place shows in a moment
        first = min(waiters, key=lambda w: (w.waitstart, w.pid in ours, w.pid))  # a tie: not ours
        return Handover("hand over", first.pid) if first.pid in ours else Handover("refuse", first.pid)
    if unidentifiable and len(waiters) > 1:
        return Handover("refuse", waiters[0].pid)  # Prisma's is one of them at most: the others come first or after
    lone = waiters[0]
    if (unidentifiable or fallback) and len(waiters) == 1 and lone.backend_start is not None:
        return Handover("hand over", lone.pid)  # started after Prisma (older ones are refused above)
    return Handover("wait")  # perhaps Prisma has not connected yet: a session queued meanwhile is not it


@dataclass
class _PrismaProcess:
    """What ties server sessions to the ``prisma migrate deploy`` safemigrate started."""

    application_name: str  # the PGAPPNAME it was given
    session_id: int  # its process session (started with start_new_session: its pid)
    started: dt.datetime  # on the server's clock, just before it started
    server_port: int | None  # the port safemigrate reached the server on (Prisma uses the same URL)
    unmatched_since: dict[Endpoint, float]  # its sockets to the server that match no session, since when

    def sockets(self) -> list[tuple[Endpoint, int]]:
        """(local endpoint, remote port) of the TCP sockets its processes own; none without /proc."""
        return _tcp_sockets(_socket_inodes(_session_processes(self.session_id)))

    def owns(self, session: Session, sockets: Sequence[tuple[Endpoint, int]]) -> bool:
        if session.application_name == self.application_name:
            return True
        endpoint = _endpoint(session)
        return endpoint is not None and any(local == endpoint for local, _ in sockets)

    def ours(self, sessions: Sequence[Session]) -> frozenset[int]:
        sockets = self.sockets() if sessions else []
        return frozenset(s.pid for s in sessions if self.owns(s, sockets))

    def unidentifiable(self, conn: psycopg.Connection[Any]) -> bool:
        """Prisma is connected to the server through a socket that no session matches, for a while:
        its sessions cannot be told apart (NAT, or its client address hidden from this role)."""
        visible = {e for s in database_sessions(conn) if (e := _endpoint(s)) is not None}
        now = time.monotonic()
        unmatched = {local for local, remote in self.sockets() if remote == self.server_port and local not in visible}
        self.unmatched_since = {e: self.unmatched_since.get(e, now) for e in unmatched}
        return any(now - since >= UNMATCHED_SETTLE for since in self.unmatched_since.values())


def run_prisma_deploy(
    conn: psycopg.Connection[Any],
    command: Sequence[str],
    cwd: Path,
    *,
    lock_timeout: float,
    handover_wait: float = HANDOVER_WAIT,
    lock_wait_limit: float = 0.0,
    env: dict[str, str] | None = None,
    on_handover: Callable[[], None] | None = None,
    on_interrupt: Callable[[], None] | None = None,
) -> PrismaOutcome:
    """Run ``command migrate deploy`` and hand it Prisma's lock (held by ``conn``); take it back after.
    Prisma is stopped when it has not queued for the lock within ``handover_wait`` seconds (0: no limit).
    Once it holds the lock, a statement of its sessions that waits for another session's lock longer
    than ``lock_wait_limit`` seconds (``[database] lock_timeout``; 0: no limit) is cancelled, as
    lock_timeout would: the app's sessions do not queue behind it, and Prisma reports the migration failed.

    An interrupt before the hand-over stops Prisma and is raised again (nothing was applied); after
    it, see the module docstring (``on_interrupt`` is called on the first one). Raises
    MigrationLockError, with Prisma stopped and the lock kept, when another session queued first."""
    from safemigrate.errors import MigrationLockError

    queued = lock_waiters(conn)
    if queued:
        raise MigrationLockError(
            f"Another session (pid {queued[0].pid}) is already queued for Prisma's migration lock; handing the lock "
            "to `prisma migrate deploy` now could let that one run first. Nothing was changed.",
            "Wait for the other deploy to finish, then run again.",
        )
    application_name = f"safemigrate-prisma-{secrets.token_hex(6)}"
    row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    # Prisma's output goes to a file: waiting is then a plain wait, which an interrupt can resume.
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as output:
        try:
            process = subprocess.Popen(
                [*command, "migrate", "deploy"],
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**(os.environ if env is None else env), "PGAPPNAME": application_name},
                start_new_session=True,  # the terminal's Ctrl-C must not cut it mid-migration
            )
        except OSError as err:
            from safemigrate.errors import InputError

            raise InputError(
                f"Cannot start {' '.join(command)}: {err.strerror or err}.",
                "Install the Prisma CLI in the project (npm install prisma) or pass --prisma-command.",
            ) from err
        prisma = _PrismaProcess(application_name, process.pid, row[0], conn.info.port, {})
        ordered = conn.info.server_version >= 140000
        # Without /proc, or over a Unix socket (a client's socket there names no server session), no
        # session can be tied to Prisma by its socket: a lone waiter that came after Prisma is taken
        # for it. On Linux over TCP, only once Prisma is seen unidentifiable (NAT).
        fallback = not _has_proc() or _unix_socket(conn)
        handed_over = abandoned = expired = False
        handed_to: int | None = None
        waiting: list[Session] = []
        lock_waits = _LockWaits(lock_wait_limit)
        interrupt: KeyboardInterrupt | None = None
        try:
            deadline = time.monotonic() + handover_wait if handover_wait > 0 else math.inf
            while True:
                try:
                    if handed_over:
                        if process.poll() is not None:
                            break
                        # Signals wait for the look to end (an interrupt mid-query would leave ``conn``, which
                        # stops Prisma's sessions and takes the lock back, unusable); a look that fails must
                        # not stop Prisma.
                        with _signals_held(), contextlib.suppress(psycopg.Error):
                            lock_waits.cancel_long_ones(conn, prisma, handed_to)
                        time.sleep(LOCK_WAIT_POLL)
                        continue
                    if process.poll() is not None:
                        break
                    if time.monotonic() >= deadline:
                        expired = True
                        break
                    waiting = lock_waiters(conn)
                    ours = prisma.ours(waiting)
                    unidentifiable = bool(waiting) and not ours and not fallback and prisma.unidentifiable(conn)
                    decision = handover_decision(
                        waiting,
                        ours,
                        ordered=ordered,
                        started=prisma.started,
                        unidentifiable=unidentifiable,
                        fallback=fallback,
                    )
                    if decision.action == "refuse":
                        _abandon(conn, process, prisma, None)  # its queued session would take the lock later
                        raise MigrationLockError(
                            f"Another session (pid {decision.pid}) queued for Prisma's migration lock before "
                            "`prisma migrate deploy` did, so handing the lock over would let that one run first: "
                            "safemigrate kept the lock and stopped Prisma. Nothing was applied.",
                            "Wait for the other deploy to finish, then run again.",
                        )
                    if decision.action == "hand over":
                        with _signals_held():  # released and recorded as released, or neither
                            release_migration_lock(conn)
                            handed_over, handed_to = True, decision.pid
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
                        _abandon(conn, process, prisma, handed_to)
                        break
                    interrupt = received
                    if on_interrupt is not None:
                        on_interrupt()
            if not handed_over and process.poll() is None:  # it never queued for the lock in time
                _abandon(conn, process, prisma, None)
        finally:
            if process.poll() is None:  # leaving abnormally: Prisma must not go on alone
                if handed_over:
                    _abandon(conn, process, prisma, handed_to, kill=True)
                else:
                    _kill_group(process, signal.SIGKILL)
                    process.wait()
            if handed_over:
                acquire_migration_lock(conn, timeout=lock_timeout)
        output.seek(0)
        text = output.read()
    unidentified = () if handed_over else tuple(w.pid for w in waiting)
    return PrismaOutcome(
        process.returncode,
        text,
        handed_over,
        interrupt,
        abandoned,
        expired,
        unidentified,
        tuple(lock_waits.cancelled),
    )


LOCK_WAIT_POLL = 0.2  # seconds between two looks at Prisma's lock waits


class _LockWaits:
    """Prisma's sessions waiting for another session's lock, since when (first seen waiting), and
    those cancelled for waiting longer than the limit."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.since: dict[int, float] = {}
        self.cancelled: list[int] = []

    def cancel_long_ones(self, conn: psycopg.Connection[Any], prisma: _PrismaProcess, handed_to: int | None) -> None:
        if self.limit <= 0:
            return
        sessions = set(prisma.ours(database_sessions(conn))) | ({handed_to} if handed_to is not None else set())
        rows = conn.execute(load_sql("relation_lock_waits"), {"pids": sorted(sessions)}).fetchall()
        now = time.monotonic()
        waiting = {int(r[0]) for r in rows}
        self.since = {pid: self.since.get(pid, now) for pid in waiting}
        for pid, since in list(self.since.items()):
            if now - since >= self.limit:
                conn.execute("SELECT pg_cancel_backend(%s)", (pid,))
                self.cancelled.append(pid)
                del self.since[pid]


def _abandon(
    conn: psycopg.Connection[Any],
    process: subprocess.Popen[Any],
    prisma: _PrismaProcess,
    handed_to: int | None,
    *,
    kill: bool = False,
) -> None:
    """Stop Prisma, then end its server sessions: those tied to it (read while its sockets still
    exist) and the one the lock was handed to, never another client's."""
    sessions: set[int] = set()
    with contextlib.suppress(psycopg.Error):
        sessions |= prisma.ours(database_sessions(conn))
    if handed_to is not None:
        sessions.add(handed_to)
    if kill:
        _kill_group(process, signal.SIGKILL)
        process.wait()
    else:
        _stop(process)
    _end_sessions(conn, sessions)


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


# Linux: which TCP sockets the processes of a process session own (/proc/<pid>/stat, fd, net/tcp).


def _unix_socket(conn: psycopg.Connection[Any]) -> bool:
    """The connection goes through a Unix-domain socket (libpq's host is then its directory, or an
    abstract ``@name`` on Linux); Prisma uses the same URL."""
    return conn.info.host.startswith(("/", "@"))


def _has_proc() -> bool:
    return (PROC / "net" / "tcp").exists()


def _session_processes(session_id: int) -> list[int]:
    """The processes whose session id (field 6 of /proc/<pid>/stat) is ``session_id``."""
    found = []
    with contextlib.suppress(OSError):
        for entry in PROC.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # gone meanwhile
                continue
            fields = stat.rpartition(")")[2].split()  # after "pid (comm)": state ppid pgrp session ...
            if len(fields) > 3 and fields[3] == str(session_id):
                found.append(int(entry.name))
    return found


def _socket_inodes(pids: Sequence[int]) -> set[int]:
    inodes = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in (PROC / str(pid) / "fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes.add(int(target[8:-1]))
    return inodes


def _tcp_sockets(inodes: set[int]) -> list[tuple[Endpoint, int]]:
    """(local endpoint, remote port) of the established TCP sockets among ``inodes``."""
    if not inodes:
        return []
    found = []
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in (PROC / "net" / table).read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) < 10 or fields[3] != "01" or int(fields[9]) not in inodes:  # 01: ESTABLISHED
                    continue
                local, remote = _hex_endpoint(fields[1]), _hex_endpoint(fields[2])
                found.append((local, remote[1]))
    return found


def _hex_endpoint(text: str) -> Endpoint:
    """An address of /proc/net/tcp{,6}: "0100007F:D431" (each 32-bit word in host byte order)."""
    address, _, port = text.partition(":")
    raw = bytes.fromhex(address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4)) if sys.byteorder == "little" else raw
    return _plain(ipaddress.ip_address(words)), int(port, 16)


def _plain(address: IpAddress) -> IpAddress:
    """An IPv4-mapped IPv6 address as the IPv4 address PostgreSQL shows."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _endpoint(session: Session) -> Endpoint | None:
    if not session.client_addr or session.client_port is None or session.client_port < 0:
        return None
    try:
        return _plain(ipaddress.ip_address(session.client_addr)), session.client_port
    except ValueError:
        return None
