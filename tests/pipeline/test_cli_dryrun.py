"""`safemigrate dry-run` as a user runs it: real processes, real servers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg

from safemigrate.migrations import list_migrations
from safemigrate.pipeline.apply import apply_migrations
from tests.pgserver import PgServer

BLOG = Path(__file__).parents[2] / "fixtures" / "blog"


def _run(project: Path, *args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if url:
        env["DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "safemigrate", "dry-run", *args, "--project", str(project)],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_without_a_database_the_history_is_replayed_locally(tmp_path: Path) -> None:
    project = tmp_path / "blog"
    shutil.copytree(BLOG, project)
    done = _run(project, "--format", "json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["ok"] is True and document["mode"] == "history"
    assert [m["outcome"] for m in document["migrations"]] == ["applied"] * 7
    assert document["schema_changes"], "creating the blog's tables is a schema change"


def test_a_failing_rehearsal_exits_1_and_names_file_and_line(
    tmp_path: Path, database_url: str, pg_server: PgServer
) -> None:
    project = tmp_path / "blog"
    shutil.copytree(BLOG, project)
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:4])
        conn.execute("""INSERT INTO "User" (email) VALUES ('a@example.com')""")
        conn.execute("""INSERT INTO "Post" (title, "authorId", "updatedAt") VALUES ('t', 1, now())""")
    text = _run(project, url=database_url)
    assert text.returncode == 1, text.stderr
    assert "prisma/migrations/20240305160000_add_post_slug/migration.sql:2:" in text.stdout
    assert "error 23502" in text.stdout and "Rehearsal FAILED" in text.stdout
    markdown = _run(project, "--format", "markdown", url=database_url)
    assert markdown.returncode == 1 and markdown.stdout.startswith("## safemigrate dry-run: FAILED")
    assert pg_server.password not in text.stdout + text.stderr + markdown.stdout + markdown.stderr


def test_cleanup_drops_left_over_clones(tmp_path: Path, database_url: str, pg_server: PgServer) -> None:
    project = tmp_path / "blog"
    shutil.copytree(BLOG, project)
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute('CREATE DATABASE "safemigrate_clone_20200101T000000_beef"')
    done = _run(project, "--cleanup", url=database_url)
    assert done.returncode == 0, done.stderr
    assert "safemigrate_clone_20200101T000000_beef" in done.stdout
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        left = conn.execute("SELECT 1 FROM pg_database WHERE datname LIKE 'safemigrate\\_clone\\_%'").fetchall()
    assert left == []
