"""`safemigrate backup --scope-from-migrations` as a user runs it: a real server, a real process."""

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

BLOG = Path(__file__).parents[2] / "fixtures" / "blog"


def _run(project: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "safemigrate", *args, "--project", str(project)],
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": url},
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_scoped_backup_takes_what_the_pending_migrations_touch(tmp_path: Path, database_url: str) -> None:
    project = tmp_path / "blog"
    shutil.copytree(BLOG, project)
    migrations = list_migrations(project / "prisma" / "migrations")
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", migrations[:1])
        conn.execute("""INSERT INTO "User" (email, name, bio) VALUES ('a@example.com', 'A', 'about A')""")

    done = _run(project, database_url, "backup", "--scope-from-migrations")
    assert done.returncode == 0, done.stderr
    assert 'scope: "User": 20240115093000_drop_user_bio_unique_email: drop-column' in done.stderr
    listed = json.loads(_run(project, database_url, "backups", "list", "--format", "json").stdout)["backups"]
    (entry,) = listed
    assert "User" in entry["tables"] and entry["reason"]["kind"] == "pre-migrate"
    assert entry["migrations"] == [m.name for m in migrations[1:]]

    both = _run(project, database_url, "backup", "--scope-from-migrations", "--tables", "User")
    assert both.returncode == 2 and "not both" in both.stderr


def test_nothing_pending_means_nothing_to_back_up(tmp_path: Path, database_url: str) -> None:
    project = tmp_path / "blog"
    shutil.copytree(BLOG, project)
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations"))
    done = _run(project, database_url, "backup", "--scope-from-migrations")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "No pending migrations: nothing to back up."
    assert not (project / ".safemigrate" / "backups").exists() or not any(
        (project / ".safemigrate" / "backups").iterdir()
    )


def test_a_rule_turned_off_in_the_config_still_scopes_its_table(tmp_path: Path, database_url: str) -> None:
    """Silencing drop-column for review must not leave the table it drops out of the backup."""
    project = tmp_path / "blog"
    shutil.copytree(BLOG, project)
    (project / "safemigrate.toml").write_text('[lint]\ndisable = ["drop-column"]\n', encoding="utf-8")
    migrations = list_migrations(project / "prisma" / "migrations")
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", migrations[:1])

    linted = _run(project, database_url, "lint", "--pending", "--format", "json", "--fail-on", "never")
    assert linted.returncode == 0, linted.stderr
    assert "drop-column" not in {f["rule"] for f in json.loads(linted.stdout)["findings"]}

    done = _run(project, database_url, "backup", "--scope-from-migrations")
    assert done.returncode == 0, done.stderr
    assert 'scope: "User": 20240115093000_drop_user_bio_unique_email: drop-column' in done.stderr

    planned = _run(project, database_url, "plan", "--format", "json")
    assert planned.returncode in (0, 1), planned.stderr
    plan = json.loads(planned.stdout)
    assert "drop-column" not in json.dumps(plan["findings"])
    assert "User" in json.dumps(plan["backup_scope"])


def test_migrations_option_names_the_folder_the_scope_reads(tmp_path: Path, database_url: str) -> None:
    """A project whose migrations live outside prisma/migrations: --migrations points at them."""
    project = tmp_path / "blog"
    shutil.copytree(BLOG, project)
    elsewhere = tmp_path / "db-migrations"
    shutil.move(project / "prisma" / "migrations", elsewhere)
    migrations = list_migrations(elsewhere)
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", migrations[:1])

    done = _run(project, database_url, "backup", "--scope-from-migrations", "--migrations", str(elsewhere))
    assert done.returncode == 0, done.stderr
    assert 'scope: "User": 20240115093000_drop_user_bio_unique_email: drop-column' in done.stderr
    (entry,) = json.loads(_run(project, database_url, "backups", "list", "--format", "json").stdout)["backups"]
    assert entry["migrations"] == [m.name for m in migrations[1:]]

    alone = _run(project, database_url, "backup", "--migrations", str(elsewhere))
    assert alone.returncode == 2 and "--scope-from-migrations" in alone.stderr
