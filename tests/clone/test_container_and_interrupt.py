"""The container clone (only where a Docker engine answers) and Ctrl-C during a dry-run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from safemigrate.clone.providers import container_clone
from safemigrate.clone.servers import docker_answers
from safemigrate.errors import CloneError
from safemigrate.migrations import list_migrations
from safemigrate.pipeline.apply import apply_migrations
from tests.pgserver import PgServer

PATTERNS = Path(__file__).parents[2] / "fixtures" / "patterns"


def test_container_clone_is_refused_clearly_without_docker() -> None:
    if docker_answers():
        pytest.skip("a Docker engine answers here: the refusal cannot be shown")
    with pytest.raises(CloneError, match="No Docker engine answers"), container_clone(16):
        pass


def test_container_clone_runs_the_targets_major() -> None:
    if not docker_answers():
        pytest.skip("no Docker engine answers on this machine (testcontainers needs one)")
    with container_clone(16) as clone, psycopg.connect(clone.url.conninfo) as conn:
        assert conn.info.server_version // 10000 == 16 and clone.provider == "container"


def _clones(pg_server: PgServer) -> list[str]:
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'safemigrate\\_clone\\_%'")
        return [str(r[0]) for r in rows]


def test_ctrl_c_during_a_rehearsal_removes_the_clone(tmp_path: Path, database_url: str, pg_server: PgServer) -> None:
    project = tmp_path / "project"
    shutil.copytree(PATTERNS / "index_added", project)
    (project / "safemigrate.toml").write_text(f'[backup]\nstore = "{tmp_path / "backups"}"\n')
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
    slow = project / "prisma" / "migrations" / "20240401000000_slow"
    slow.mkdir()
    (slow / "migration.sql").write_text("SELECT pg_sleep(30);\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "safemigrate", "dry-run", "--project", str(project)],
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            with psycopg.connect(pg_server.url(), autocommit=True) as conn:
                sleeping = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE 'safemigrate\\_clone\\_%' "
                    "AND query LIKE '%pg_sleep%' AND state = 'active'"
                ).fetchone()
            if sleeping and sleeping[0]:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the rehearsal never reached the slow statement")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130 and "Interrupted." in err and "Traceback" not in err, (out, err)
    assert _clones(pg_server) == []
