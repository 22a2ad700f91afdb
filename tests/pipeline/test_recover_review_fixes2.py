"""`recover` (and the undo after a failed `migrate --engine prisma`, which uses its diagnosis), as a
review found it: it dropped what an IF NOT EXISTS statement found already there (data lost), and it
counted the INVALID index a failed CREATE INDEX CONCURRENTLY leaves behind as built."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from safemigrate.db import prisma_migrations as pm
from safemigrate.db.catalog.snapshot import take_snapshot
from safemigrate.pipeline.recover import diagnose, recover
from tests.db.test_status_prisma_cli import PrismaCli, prisma, project  # noqa: F401 - fixtures

FAILS = 'ALTER TABLE "Missing" ADD COLUMN "x" INTEGER;\n'
HOTFIX = """
CREATE TABLE "Audit" (id serial PRIMARY KEY, what text NOT NULL);
INSERT INTO "Audit" (what) SELECT 'event ' || i FROM generate_series(1, 200) i;
ALTER TABLE "User" ADD COLUMN "phone" TEXT;
INSERT INTO "User" (email, phone) SELECT 'u' || i || '@x.io', '+33 6 ' || i FROM generate_series(1, 50) i;
"""
IDEMPOTENT = (
    '-- CreateTable\nCREATE TABLE IF NOT EXISTS "Audit" ("id" SERIAL NOT NULL, "what" TEXT NOT NULL, '
    'CONSTRAINT "Audit_pkey" PRIMARY KEY ("id"));\n\n'
    '-- AlterTable\nALTER TABLE "User" ADD COLUMN IF NOT EXISTS "phone" TEXT;\n\n'
    '-- CreateIndex\nCREATE INDEX "Post_title_idx" ON "Posts"("title");\n'
)


def _add(root: Path, name: str, text: str) -> None:
    folder = root / "prisma" / "migrations" / name
    folder.mkdir()
    (folder / "migration.sql").write_text(text)


def _cli_recover(root: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "safemigrate", "recover", "--project", str(root), *args],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _one(url: str, query: str) -> object:
    with psycopg.connect(url) as conn:
        row = conn.execute(query.encode()).fetchone()
        return row[0] if row else None


def _failed(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r.migration_name for r in pm.read_migration_rows(conn, "public") if r.failed]


def test_recover_keeps_a_table_and_a_column_an_if_not_exists_migration_found_there(
    prisma: PrismaCli,  # noqa: F811
    project: Path,  # noqa: F811
    database_url: str,
) -> None:
    assert prisma.deploy(project, database_url).returncode == 0
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(HOTFIX.encode())
    _add(project, "20240301000000_audit", IDEMPOTENT)
    assert prisma.deploy(project, database_url).returncode != 0
    assert _failed(database_url) == ["20240301000000_audit"]

    report = _cli_recover(project, database_url, "--yes")
    assert report.returncode == 1, report.stdout + report.stderr
    assert "line    2: cannot tell" in report.stdout and "line    5: cannot tell" in report.stdout, report.stdout
    message = report.stdout[report.stdout.index("Cannot recover automatically") :]
    assert '"Audit"' in message and '"phone"' in message and "IF NOT EXISTS" in message, message
    assert "predate" in message and "Nothing was changed" in message, message

    diagnosis, recovery = recover(project, database_url=database_url, confirm=lambda d: True)
    assert recovery is None and diagnosis.blocker is not None and diagnosis.blocker.line == 2
    assert [e.took_effect for e in diagnosis.effects] == [None, None, False]
    assert _one(database_url, 'SELECT count(*) FROM "Audit"') == 200, "the hand-made table keeps its rows"
    assert _one(database_url, 'SELECT count(phone) FROM "User"') == 50, "the hand-made column keeps its values"
    assert _failed(database_url) == ["20240301000000_audit"], "nothing was marked"


def test_recover_keeps_a_table_a_plain_create_table_failed_on(
    prisma: PrismaCli,  # noqa: F811
    project: Path,  # noqa: F811
    database_url: str,
) -> None:
    """Prisma's logs say "relation ... already exists" without a SQLSTATE: the CREATE TABLE is what
    failed, and its table predates the migration."""
    assert prisma.deploy(project, database_url).returncode == 0
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(HOTFIX.encode())
    _add(
        project,
        "20240301000000_audit",
        '-- CreateTable\nCREATE TABLE "Audit" ("id" SERIAL NOT NULL, CONSTRAINT "Audit_pkey" PRIMARY KEY ("id"));\n\n'
        '-- CreateIndex\nCREATE INDEX "Post_title_idx" ON "Post"("title");\n',
    )
    deploy = prisma.deploy(project, database_url)
    assert deploy.returncode != 0 and "already exists" in deploy.stdout + deploy.stderr
    diagnosis, recovery = recover(project, database_url=database_url, confirm=lambda d: True)
    assert recovery is None and diagnosis.blocker is not None and diagnosis.blocker.line == 2
    assert "already exists" in diagnosis.blocker.note
    assert _one(database_url, 'SELECT count(*) FROM "Audit"') == 200
    assert _failed(database_url) == ["20240301000000_audit"]


def test_recover_drops_the_invalid_index_a_failed_concurrent_build_left_and_marks_it_rolled_back(
    prisma: PrismaCli,  # noqa: F811
    project: Path,  # noqa: F811
    database_url: str,
) -> None:
    assert prisma.deploy(project, database_url).returncode == 0
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("""INSERT INTO "User" (email) VALUES ('a@x.io')""")
        conn.execute("""INSERT INTO "Post" (title, "authorId", views) VALUES ('a', 1, 1), ('b', 1, 1)""")
    _add(
        project,
        "20240301000000_unique_views",
        'CREATE UNIQUE INDEX CONCURRENTLY "Post_views_key" ON "Post"("views");\n',
    )
    assert prisma.deploy(project, database_url).returncode != 0
    invalid = """SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('"Post_views_key"')"""
    assert _one(database_url, invalid) is False, "Prisma left an invalid index"

    report = _cli_recover(project, database_url)
    assert report.returncode == 1, report.stdout + report.stderr
    assert "line    1: did not run" in report.stdout and "invalid" in report.stdout, report.stdout
    assert "resolve --applied" not in report.stdout and "Nothing was changed (run with --yes" in report.stdout

    diagnosis, recovery = recover(project, database_url=database_url, confirm=lambda d: True)
    assert diagnosis.blocker is None and diagnosis.stopped_at == 0 and recovery is not None
    assert _one(database_url, """SELECT to_regclass('"Post_views_key"')""") is None, "the invalid index is gone"
    assert _failed(database_url) == []

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("""UPDATE "Post" SET views = 2 WHERE title = 'b'""")
    redeploy = prisma.deploy(project, database_url)
    assert redeploy.returncode == 0, redeploy.stdout + redeploy.stderr
    assert _one(database_url, invalid) is True


@pytest.mark.parametrize(
    ("setup", "statement"),
    [
        ('CREATE TABLE "T" (v int); INSERT INTO "T" VALUES (1)', 'CREATE TABLE IF NOT EXISTS "T" (v int);'),
        (
            'CREATE TABLE "T" (v int, w int); INSERT INTO "T" VALUES (1, 2)',
            'ALTER TABLE "T" ADD COLUMN IF NOT EXISTS "w" int;',
        ),
        (
            'CREATE TABLE "T" (v int, w int)',
            'ALTER TABLE "T" ADD COLUMN IF NOT EXISTS "w" int CONSTRAINT "T_w_key" UNIQUE;',
        ),
        (
            'CREATE TABLE "T" (v int); CREATE INDEX "T_v_idx" ON "T" (v)',
            'CREATE INDEX IF NOT EXISTS "T_v_idx" ON "T"(v);',
        ),
        (
            'CREATE TABLE "T" (v int); CREATE INDEX "T_v_idx" ON "T" (v)',
            'CREATE INDEX CONCURRENTLY IF NOT EXISTS "T_v_idx" ON "T"(v);',
        ),
        ('CREATE TABLE "T" (v int)', 'CREATE EXTENSION IF NOT EXISTS "plpgsql";'),
        ("CREATE TYPE \"Mood\" AS ENUM ('sad')", "ALTER TYPE \"Mood\" ADD VALUE IF NOT EXISTS 'sad';"),
    ],
    ids=["table", "column", "column-with-constraint", "index", "index-concurrently", "extension", "enum-value"],
)
def test_an_if_not_exists_object_found_in_the_catalog_cannot_be_told_from_one_already_there(
    database_url: str, setup: str, statement: str
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(setup.encode())
        diagnosis = diagnose(conn, "public", "20240301000000_x", f"{statement}\n{FAILS}".encode(), "")
    first = diagnosis.effects[0]
    assert first.took_effect is None and first.undo is None, first
    assert diagnosis.blocker is not None and diagnosis.blocker.line == 1
    assert "IF NOT EXISTS" in diagnosis.blocker.note and "predate" in diagnosis.blocker.note


def test_a_before_snapshot_tells_what_an_if_not_exists_migration_created(database_url: str) -> None:
    script = (
        'CREATE TABLE IF NOT EXISTS "Audit" (id int);\n'
        'CREATE TABLE IF NOT EXISTS "Fresh" (id int);\n'
        'ALTER TABLE "User" ADD COLUMN IF NOT EXISTS "phone" TEXT;\n'
        'ALTER TABLE "User" ADD COLUMN IF NOT EXISTS "nick" TEXT;\n'
        'CREATE INDEX IF NOT EXISTS "User_phone_idx" ON "User"("phone");\n'
        'CREATE EXTENSION IF NOT EXISTS "plpgsql";\n'
        'ALTER TABLE "User" ALTER COLUMN "email" SET NOT NULL;\n' + FAILS
    )
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE \"User\" (id int, email text NOT NULL, phone text); INSERT INTO \"User\" VALUES (1, 'a', 'b')"
        )
        conn.execute('CREATE TABLE "Audit" (id int); INSERT INTO "Audit" VALUES (1)')
        before = take_snapshot(conn, ("public",))
        for statement in script.splitlines()[:-1]:
            conn.execute(statement.encode())
        diagnosis = diagnose(conn, "public", "20240301000000_x", script.encode(), "", before=before)
        assert diagnosis.blocker is None and diagnosis.stopped_at == 7, diagnosis.blocker
        undo = [s.as_string(conn) for e in diagnosis.applied for s in e.undo or ()]
    assert [e.took_effect for e in diagnosis.applied] == [None, True, None, True, True, None, None]
    assert undo == [
        'DROP TABLE "public"."Fresh"',
        'ALTER TABLE "public"."User" DROP COLUMN "nick"',
        'DROP INDEX "public"."User_phone_idx"',
    ], "only what was not there before is dropped; the NOT NULL was already set"


def test_a_before_snapshot_shows_a_plain_create_of_an_existing_table_is_where_it_failed(database_url: str) -> None:
    script = 'CREATE TABLE "Audit" (id int);\nCREATE INDEX "Audit_id_idx" ON "Audit"("id");\n'
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute('CREATE TABLE "Audit" (id int); INSERT INTO "Audit" VALUES (1)')
        before = take_snapshot(conn, ("public",))
        diagnosis = diagnose(conn, "public", "20240301000000_x", script.encode(), "", before=before)
    assert diagnosis.stopped_at == 0 and diagnosis.applied == () and diagnosis.blocker is None


def _invalid_index(conn: psycopg.Connection[object]) -> None:
    """What an interrupted CREATE INDEX CONCURRENTLY leaves: an index marked invalid."""
    conn.execute("""CREATE TABLE "Post" (id int, views int); INSERT INTO "Post" VALUES (1, 1), (2, 1)""")
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("""CREATE UNIQUE INDEX CONCURRENTLY "Post_views_key" ON "Post"(views)""")


def test_an_invalid_index_did_not_take_effect_and_is_dropped_concurrently(database_url: str) -> None:
    script = b'CREATE TABLE "Tag" (id int);\nCREATE UNIQUE INDEX CONCURRENTLY "Post_views_key" ON "Post"("views");\n'
    with psycopg.connect(database_url, autocommit=True) as conn:
        _invalid_index(conn)
        conn.execute('CREATE TABLE "Tag" (id int)')
        diagnosis = diagnose(conn, "public", "20240301000000_x", script, "")
        cleanup = [s.as_string(conn) for s in diagnosis.cleanup]
    assert [e.took_effect for e in diagnosis.effects] == [True, False] and diagnosis.stopped_at == 1
    assert diagnosis.blocker is None and "invalid" in diagnosis.effects[1].note
    assert cleanup == ['DROP INDEX CONCURRENTLY IF EXISTS "public"."Post_views_key"']


def test_an_index_another_session_is_still_building_is_left_alone(database_url: str) -> None:
    script = b'CREATE INDEX CONCURRENTLY "Post_views_idx" ON "Post"("views");\n'
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("""CREATE TABLE "Post" (id int, views int); INSERT INTO "Post" VALUES (1, 1)""")
    with psycopg.connect(database_url) as writer, psycopg.connect(database_url, autocommit=True) as builder:
        writer.execute('UPDATE "Post" SET views = 2')  # open: the concurrent build waits for it
        build = threading.Thread(target=lambda: builder.execute(script), daemon=True)
        build.start()
        with psycopg.connect(database_url, autocommit=True) as conn:
            for _ in range(100):
                row = conn.execute("SELECT count(*) FROM pg_stat_progress_create_index").fetchone()
                if row and row[0]:
                    break
                threading.Event().wait(0.05)
            diagnosis = diagnose(conn, "public", "20240301000000_x", script, "")
        writer.rollback()
        build.join(30)
    assert diagnosis.effects[0].took_effect is None and "being built" in diagnosis.effects[0].note
    assert diagnosis.blocker is not None and diagnosis.cleanup == ()
