"""Every command, run with a password-bearing URL, successful or failing: the password is in no output."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from safemigrate.db import prisma_migrations as pm
from safemigrate.migrations import list_migrations
from tests.pgserver import PgServer

BLOG = Path(__file__).parents[2] / "fixtures" / "blog"


@pytest.fixture
def project(tmp_path: Path, database_url: str) -> Path:
    project = tmp_path / "blog"
    shutil.copytree(BLOG, project)
    with psycopg.connect(database_url, autocommit=True) as conn:
        pm.create_migrations_table(conn, "public")
        for migration in list_migrations(project / "prisma" / "migrations")[:3]:
            conn.execute(migration.data, prepare=False)
            pm.record_migration_deployed(conn, "public", migration.name, migration.data)
    return project


def test_no_command_ever_prints_the_password(
    project: Path, database_url: str, pg_server: PgServer, tmp_path: Path
) -> None:
    password = pg_server.password
    wrong_database = database_url.rsplit("/", 1)[0] + "/no_such_database"
    wrong_port = database_url.replace(f":{pg_server.port}/", ":1/")
    snapshot_file = tmp_path / "snapshot.json"
    commands = [
        ["lint", "--pending"],
        ["status"],
        ["status", "--format", "json"],
        ["snapshot", "--format", "json", "--output", str(snapshot_file)],
        ["snapshot"],
        ["fingerprint", "--format", "json"],
        ["validate"],
        ["validate", "--format", "json", "--no-drift"],
    ]
    outputs: list[str] = []

    def run(args: list[str], url: str, via_option: bool) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DATABASE_URL": url}
        args = [*args, "--project", str(project), *(["--database-url", url] if via_option else [])]
        completed = subprocess.run(
            [sys.executable, "-m", "safemigrate", *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=120,
        )
        outputs.append(completed.stdout + completed.stderr)
        return completed

    # Every command succeeds, with the URL given on the command line and through the project's .env way.
    for command in commands:
        for via_option in (True, False):
            run(command, database_url, via_option)
    # Failures go through the same connection layer: each kind once per command family, with and
    # without --debug (whose traceback is redacted too).
    for i, command in enumerate([["lint", "--pending"], ["status"], ["fingerprint"], ["validate"]]):
        for url in (wrong_database, wrong_port):
            debug = ["--debug"] if i % 2 else []
            completed = run([*debug, *command], url, via_option=bool(i % 2))
            assert completed.returncode == 2, (command, completed.stderr)
            assert debug or "Traceback" not in completed.stderr, completed.stderr
    assert snapshot_file.is_file()
    outputs.append(snapshot_file.read_text())
    diff = subprocess.run(
        [sys.executable, "-m", "safemigrate", "diff", str(snapshot_file), str(snapshot_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    outputs.append(diff.stdout + diff.stderr)
    leaked = [o for o in outputs if password in o]
    assert not leaked, leaked[0][:2000]
    assert any("no_such_database" in o for o in outputs)  # the failures did report something useful
