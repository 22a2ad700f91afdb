"""Schemas other than public: a database URL's ?schema= is where unqualified names live for lint
--pending and plan (as for Prisma), and a migration changing tables in another schema than the URL's
(Prisma's multi-schema projects) is refused: it could neither be backed up nor verified."""

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
from safemigrate.pipeline.migrate import migrate

PATTERNS = Path(__file__).parents[2] / "fixtures" / "patterns"


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(PATTERNS / "drop_column", project)
    (project / "safemigrate.toml").write_text(f'[backup]\nstore = "{tmp_path / "backups"}"\n')
    return project


def _run(project: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "safemigrate", *args, "--project", str(project)],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_the_urls_schema_is_where_unqualified_names_live(tmp_path: Path, database_url: str) -> None:
    """app."User" holds the rows; a public."User" of the same name must not be the one read."""
    project = _project(tmp_path)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA app")
        conn.execute("SET search_path TO app")
        apply_migrations(conn, "app", list_migrations(project / "prisma" / "migrations")[:1])
        conn.execute("""INSERT INTO app."User" (email) SELECT 'u' || i FROM generate_series(1, 5) i""")
        conn.execute("""CREATE TABLE public."User" (id int)""")  # a decoy
    url = database_url + "?schema=app"
    linted = _run(project, url, "lint", "--pending", "--format", "json", "--fail-on", "never")
    assert linted.returncode == 0, linted.stderr
    objects = {(f["rule"], f["object"].get("schema")) for f in json.loads(linted.stdout)["findings"]}
    assert ("drop-column", "app") in objects and not any(schema == "public" for _, schema in objects)
    planned = _run(project, url, "plan", "--format", "json")
    assert planned.returncode in (0, 1), planned.stderr
    scope = json.dumps(json.loads(planned.stdout)["backup_scope"])
    assert '"User"' in scope and "not backed up" not in scope and "public" not in scope


def test_a_migration_changing_another_schema_is_refused_before_anything(tmp_path: Path, database_url: str) -> None:
    project = _project(tmp_path)
    pending = list_migrations(project / "prisma" / "migrations")[1].sql_path
    pending.write_text('ALTER TABLE "auth"."User" DROP COLUMN "nickname";\n')
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
        conn.execute("""CREATE SCHEMA auth; CREATE TABLE auth."User" (id int, nickname text)""")
        conn.execute("""INSERT INTO auth."User" VALUES (1, 'kept')""")
    run = migrate(project, database_url=database_url, allow=("data-loss",))
    assert run.verdict == "refused" and run.backup_id is None
    assert run.message.startswith('Refused: the pending migrations change tables in schema "auth" (first auth.User at ')
    assert 'verifies only the database URL\'s schema "public"' in run.message and "Nothing was changed." in run.message
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute("""SELECT nickname FROM auth."User" """).fetchall() == [("kept",)]


def test_a_child_in_another_schema_of_a_changed_table_refuses_the_run(tmp_path: Path, database_url: str) -> None:
    """archive."User2020" inherits "User": a DROP COLUMN on "User" drops its column too, and it can be
    neither backed up nor verified from the URL's schema."""
    project = _project(tmp_path)
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
        conn.execute("""CREATE SCHEMA archive; CREATE TABLE archive."User2020" () INHERITS ("User")""")
        conn.execute("""INSERT INTO archive."User2020" (email, nickname) VALUES ('old@example.com', 'kept')""")
    run = migrate(project, database_url=database_url, allow=("data-loss",))
    assert run.verdict == "refused" and run.backup_id is None
    assert 'change tables in schema "archive" (first archive.User2020 at ' in run.message
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute("""SELECT nickname FROM archive."User2020" """).fetchall() == [("kept",)]


def test_a_data_loss_on_a_partitioned_table_is_refused_not_run_unbacked_up(tmp_path: Path, database_url: str) -> None:
    """Backups cannot hold partitioned tables yet: the run said "backup skipped: the pending migrations
    touch no existing table's rows", dropped the column, and rollback then refused."""
    project = _project(tmp_path)
    pending = list_migrations(project / "prisma" / "migrations")[1].sql_path
    pending.write_text('ALTER TABLE "Log" DROP COLUMN "payload";\n')
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
        conn.execute("""CREATE TABLE "Log" (id int, at date, payload text) PARTITION BY RANGE (at)""")
        conn.execute("""CREATE TABLE "Log_2024" PARTITION OF "Log" FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')""")
        conn.execute("""INSERT INTO "Log" VALUES (1, '2024-05-01', 'kept')""")
    run = migrate(project, database_url=database_url, allow=("data-loss",))
    assert run.verdict == "refused" and run.backup_id is None
    assert "put rows of Log at risk (a partitioned table or a partition)" in run.message
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute("""SELECT payload FROM "Log" """).fetchall() == [("kept",)]
