"""Prisma's migration advisory lock, held by real sessions and by the real Prisma CLI."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from safemigrate.config import DatabaseConfig
from safemigrate.db.connect import connect
from safemigrate.db.lock import PRISMA_MIGRATION_LOCK_KEY, lock_holders, migration_lock
from safemigrate.db.url import parse_database_url
from safemigrate.errors import EXIT_CHECK_FAILED, MigrationLockError
from tests.db.test_status_prisma_cli import quick_exit
from tests.pgserver import PgServer

PRISMA = Path(__file__).resolve().parents[3] / "shared" / "prisma-offline" / "prisma"
SETTINGS = DatabaseConfig(lock_timeout=5, statement_timeout=60, migrate_lock_timeout=0.2)


@pytest.fixture
def session(database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with connect(parse_database_url(database_url), command="migrate", settings=SETTINGS) as conn:
        yield conn


def held_elsewhere(database_url: str) -> bool:
    with psycopg.connect(database_url, autocommit=True) as probe:
        got = probe.execute("SELECT pg_try_advisory_lock(%s)", [PRISMA_MIGRATION_LOCK_KEY]).fetchone()
        if got == (True,):
            probe.execute("SELECT pg_advisory_unlock(%s)", [PRISMA_MIGRATION_LOCK_KEY])
        return got == (False,)


def test_lock_is_held_for_the_block_and_released(
    session: psycopg.Connection[tuple[object, ...]], database_url: str
) -> None:
    assert PRISMA_MIGRATION_LOCK_KEY == 72707369  # prisma-engines sql-schema-connector flavour/postgres.rs
    with migration_lock(session, timeout=SETTINGS.migrate_lock_timeout):
        assert held_elsewhere(database_url)
        holders = lock_holders(session)
        assert [(h.pid, h.application_name) for h in holders] == [(session.info.backend_pid, "safemigrate/migrate")]
        assert session.execute("SHOW lock_timeout").fetchone() == ("5s",)  # the wait's limit was local
    assert not held_elsewhere(database_url)


def test_timeout_names_the_session_holding_the_lock(
    session: psycopg.Connection[tuple[object, ...]], database_url: str
) -> None:
    with psycopg.connect(database_url, autocommit=True, application_name="deploy-job-42") as other:
        other.execute("SELECT pg_advisory_lock(%s)", [PRISMA_MIGRATION_LOCK_KEY])
        started = other.execute("SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()").fetchone()
        assert started is not None
        with pytest.raises(MigrationLockError) as info, migration_lock(session, timeout=SETTINGS.migrate_lock_timeout):
            pytest.fail("the lock was taken while another session held it")
        error = info.value
        assert error.exit_code == EXIT_CHECK_FAILED and error.sqlstate == "55P03"
        assert f"pid {other.info.backend_pid}" in error.message
        assert 'application_name "deploy-job-42"' in error.message
        assert f"session started {started[0].astimezone(dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC" in error.message
        assert "pg_advisory_lock(72707369)" in error.message and "waited 200ms" in error.message
        assert f"pg_terminate_backend({other.info.backend_pid})" in error.hint
        assert "\n" not in str(error)
        assert session.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert session.execute("SHOW lock_timeout").fetchone() == ("5s",)
    with migration_lock(session, timeout=SETTINGS.migrate_lock_timeout):  # free again once the holder left
        assert held_elsewhere(database_url)


def test_the_lock_is_per_database(pg_server: PgServer, session: psycopg.Connection[tuple[object, ...]]) -> None:
    with psycopg.connect(pg_server.url(), autocommit=True) as other:  # the "postgres" database
        other.execute("SELECT pg_advisory_lock(%s)", [PRISMA_MIGRATION_LOCK_KEY])
        with migration_lock(session, timeout=SETTINGS.migrate_lock_timeout):
            pass


def test_works_on_a_transactional_connection(database_url: str) -> None:
    with connect(parse_database_url(database_url), command="migrate", settings=SETTINGS, autocommit=False) as conn:
        with migration_lock(conn, timeout=1):
            assert held_elsewhere(database_url)
            conn.execute("CREATE TABLE t (id int)")
            conn.commit()
        assert not held_elsewhere(database_url)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        conn.execute("SELECT 1")  # a transaction is open now: taking the lock inside it is a programming error
        with pytest.raises(RuntimeError, match="outside a transaction"), migration_lock(conn, timeout=1):
            pass


# The real Prisma CLI: it must wait on our lock, and we on its.


def prisma_or_skip() -> Path:
    if shutil.which("node") is None or not PRISMA.is_file():
        reason = "Node.js or ../shared/prisma-offline is missing: cannot run the real Prisma CLI"
        if os.environ.get("CI", "").strip().lower() in {"true", "1"}:
            pytest.fail(f"{reason} (CI=true)")
        pytest.skip(reason)
    return PRISMA


def prisma_project(root: Path, sql_text: str) -> Path:
    migration = root / "prisma" / "migrations" / "20240101000000_init"
    migration.mkdir(parents=True)
    schema = root / "prisma" / "schema.prisma"
    schema.write_text('datasource db {\n  provider = "postgresql"\n  url = env("DATABASE_URL")\n}\n')
    (root / "prisma" / "migrations" / "migration_lock.toml").write_text('provider = "postgresql"\n')
    (migration / "migration.sql").write_text(sql_text)
    return schema


def deploy(schema: Path, database_url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(prisma_or_skip()), "--schema", str(schema), "migrate", "deploy"],
        cwd=schema.parent.parent,
        env={**os.environ, "DATABASE_URL": quick_exit(database_url)},  # node exits when done, not 10 s later
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.node
def test_prisma_migrate_deploy_waits_for_our_lock(
    tmp_path: Path, session: psycopg.Connection[tuple[object, ...]], database_url: str
) -> None:
    schema = prisma_project(tmp_path, 'CREATE TABLE "A" ("id" INTEGER NOT NULL)\n')
    prisma_or_skip()
    with migration_lock(session, timeout=1):
        output, _ = deploy(schema, database_url).communicate(timeout=300)
    assert "Timed out trying to acquire a postgres advisory lock (SELECT pg_advisory_lock(72707369))" in output
    assert session.execute("SELECT to_regclass('public.\"A\"')").fetchone() == (None,)
    process = deploy(schema, database_url)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output


@pytest.mark.node
def test_our_lock_waits_for_prisma_migrate_deploy(
    tmp_path: Path, session: psycopg.Connection[tuple[object, ...]], database_url: str
) -> None:
    schema = prisma_project(tmp_path, "SELECT pg_sleep(4)\n")  # Prisma holds its lock while this runs
    prisma_or_skip()
    process = deploy(schema, database_url)
    try:
        holders = []
        deadline = time.monotonic() + 120
        while not holders and process.poll() is None and time.monotonic() < deadline:
            holders = lock_holders(session)
            time.sleep(0.05)
        assert holders, "prisma migrate deploy never held its lock"
        with pytest.raises(MigrationLockError) as info, migration_lock(session, timeout=0.2):
            pass
        assert f"pid {holders[0].pid}" in info.value.message
    finally:
        output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    with migration_lock(session, timeout=1):
        pass
