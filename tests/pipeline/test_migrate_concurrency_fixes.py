"""`migrate` against an app that keeps working during the run (review /tmp/review-migrate):

1. a data-moving statement (``INSERT ... SELECT``, ``UPDATE ... FROM``, a subquery, ``CREATE TABLE AS``)
   reads its source tables under the apply transaction's snapshot: a row the app committed after the
   snapshot was not copied, then the source column or table was dropped, and the row's value was
   gone. The source tables are now locked against writes before the snapshot, so the app's write
   either lands before it (and is copied) or waits for the commit;
2. objects another session creates while the run goes on (a table made while a ``CREATE INDEX
   CONCURRENTLY`` builds, or while ``prisma migrate deploy`` runs) were recorded as the run's own, and
   a rollback (or ``--engine prisma``'s automatic undo) dropped them with their rows. What a run
   records as its own is now limited to what its statements create; the rest is listed and left alone.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from safemigrate.lint.reader import parse_source
from safemigrate.migrations import list_migrations
from safemigrate.pipeline.apply import apply_migrations
from safemigrate.pipeline.migrate import Stage, migrate
from safemigrate.pipeline.rollback import rollback
from safemigrate.pipeline.touch import read_touches
from tests.db.test_status_prisma_cli import PrismaCli, prisma, project  # noqa: F401 - fixtures

PATTERNS = Path(__file__).parents[2] / "fixtures" / "patterns"
APPLICATION = "safemigrate/migrate"
USERS = """INSERT INTO "User" (email, nickname) SELECT 'u' || i || '@x.io', 'nick' || i FROM generate_series(1, 30) i"""
LUCY = """INSERT INTO "User" (email, nickname) VALUES ('late@x.io', 'Late Lucy')"""


def _query(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query).fetchall()


def _poll(condition: Callable[[], Any], what: str, seconds: float = 60.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"gave up after {seconds:g} s waiting for {what}")


def _statements(text: str) -> list[tuple[str, Any]]:
    return [("m.sql", s) for s in parse_source(text.encode()).statements]


# --- 1. source tables of data-moving statements are locked before the snapshot -------------------------


def test_the_tables_a_data_moving_statement_reads_are_read_under_the_snapshot() -> None:
    """Pure: which existing tables must not take writes between the snapshot and the statements."""
    touches = read_touches(
        _statements(
            'CREATE TABLE "Profile" ("userId" INTEGER, "nickname" TEXT);\n'
            'INSERT INTO "Profile" SELECT "id", "nickname" FROM "User";\n'  # User: a source
            'INSERT INTO "Profile" SELECT "id", "x" FROM "Profile";\n'  # created by the deploy: nothing to lock
            'UPDATE "Post" SET "title" = u."email" FROM "Author" u WHERE u."id" = "Post"."authorId";\n'
            'DELETE FROM "Comment" WHERE "postId" IN (SELECT "id" FROM "Banned");\n'
            'CREATE TABLE "Archive" AS SELECT * FROM "Old";\n'
            'INSERT INTO "Log" ("what") VALUES (\'plain values: Log is not read\');\n'
        ),
        "public",
    )
    assert touches.rows_read == {"User", "Post", "Author", "Comment", "Banned", "Old"}


COPY_THEN_DROP_COLUMN = """CREATE TABLE "Profile" ("userId" INTEGER NOT NULL, "nickname" TEXT NOT NULL,
    CONSTRAINT "Profile_pkey" PRIMARY KEY ("userId"));
SELECT pg_sleep(1);
INSERT INTO "Profile" ("userId", "nickname") SELECT "id", "nickname" FROM "User" WHERE "nickname" IS NOT NULL;
-- safemigrate: allow drop-column reason: nicknames are copied to Profile first
ALTER TABLE "User" DROP COLUMN "nickname";
"""
LUCY_COPIED = """SELECT p."nickname" FROM "Profile" p JOIN "User" u ON u."id" = p."userId"
                 WHERE u."email" = 'late@x.io'"""

COPY_THEN_DROP_TABLE = """CREATE TABLE "User2" ("id" SERIAL NOT NULL, "email" TEXT NOT NULL, "nickname" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, CONSTRAINT "User2_pkey" PRIMARY KEY ("id"));
SELECT pg_sleep(1);
INSERT INTO "User2" ("id", "email", "nickname", "createdAt") SELECT "id", "email", "nickname", "createdAt" FROM "User";
-- safemigrate: allow drop-table reason: rows copied to User2 above
DROP TABLE "User";
ALTER TABLE "User2" RENAME TO "User";
"""
LUCY_KEPT = """SELECT "nickname" FROM "User" WHERE "email" = 'late@x.io'"""


@pytest.mark.parametrize(
    ("pending", "check"),
    [(COPY_THEN_DROP_COLUMN, LUCY_COPIED), (COPY_THEN_DROP_TABLE, LUCY_KEPT)],
    ids=["copy-then-drop-column", "copy-then-drop-table"],
)
def test_a_row_the_app_commits_during_the_run_is_copied_before_its_source_is_dropped(
    tmp_path: Path, database_url: str, pending: str, check: str
) -> None:
    """The app's transaction inserts "Late Lucy" just before the apply and commits once the run is
    either waiting for a lock (it waits for the app: the insert is then seen by the copy) or already
    past its snapshot (sleeping before the copy: the insert would be missed, then dropped)."""
    root = tmp_path / "project"
    shutil.copytree(PATTERNS / "drop_column", root)
    (root / "safemigrate.toml").write_text(f'[backup]\nstore = "{tmp_path / "backups"}"\n')
    first, second = list_migrations(root / "prisma" / "migrations")
    second.sql_path.write_text(pending)
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", [first])
        conn.execute(USERS)

    app = psycopg.connect(database_url)
    committer: list[threading.Thread] = []

    def commit_once_the_run_is_past_its_start() -> None:
        def waiting_or_sleeping() -> bool:
            return bool(
                _query(
                    database_url,
                    "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = "
                    f"'{APPLICATION}' AND state = 'active' AND (wait_event_type = 'Lock' OR query ILIKE '%pg_sleep%')",
                )
            )

        _poll(waiting_or_sleeping, "the run to wait for the app's lock, or to sleep before its copy")
        app.commit()

    def on_stage(stage: Stage) -> None:
        if stage.name == "rehearsal":  # the apply is next: the app writes a user, not committed yet
            app.execute(LUCY)
            committer.append(threading.Thread(target=commit_once_the_run_is_past_its_start))
            committer[0].start()

    try:
        run = migrate(root, database_url=database_url, skip_dry_run=True, allow=("unchecked",), progress=on_stage)
    finally:
        for thread in committer:
            thread.join(timeout=120)
        app.close()
    assert committer, "the hook ran"
    assert run.verdict == "applied", run.message
    assert _query(database_url, check) == [("Late Lucy",)], "the app's committed row lost its nickname"
    assert _query(database_url, 'SELECT count(*) FROM "User"') == [(31,)]


# --- 2. objects another session creates during the run are not the run's -----------------------------


def test_only_what_the_statements_create_is_the_runs_own() -> None:
    """Pure: a created table, column, index (named or not), constraint, sequence, type, renamed table."""
    from safemigrate.pipeline.touch import read_creations

    creations = read_creations(
        _statements(
            'CREATE TABLE "A" ("id" SERIAL NOT NULL, CONSTRAINT "A_pkey" PRIMARY KEY ("id"));\n'
            'ALTER TABLE "A" RENAME TO "B";\n'
            'ALTER TABLE "User" ADD COLUMN "age" INTEGER, ADD CONSTRAINT "User_age_check" CHECK ("age" > 0);\n'
            'CREATE INDEX CONCURRENTLY "Post_title_idx" ON "Post"("title");\n'
            'CREATE INDEX ON "Comment"("body");\n'
            "CREATE TYPE \"Mood\" AS ENUM ('happy');\n"
        ),
        "public",
    )
    own = [
        {"kind": "table_added", "schema": "public", "table": "B"},
        {"kind": "sequence_added", "schema": "public", "sequence": "A_id_seq"},
        {"kind": "column_added", "schema": "public", "table": "User", "column": "age"},
        {"kind": "constraint_added", "schema": "public", "table": "User", "constraint": "User_age_check"},
        {"kind": "index_added", "schema": "public", "table": "Post", "index": "Post_title_idx"},
        {"kind": "index_added", "schema": "public", "table": "Comment", "index": "Comment_body_idx"},
        {"kind": "enum_added", "schema": "public", "enum": "Mood"},
        {"kind": "column_dropped", "schema": "public", "table": "Post", "column": "old"},  # not an addition
    ]
    foreign = [
        {"kind": "table_added", "schema": "public", "table": "JobQueue"},
        {"kind": "sequence_added", "schema": "public", "sequence": "JobQueue_id_seq"},
        {"kind": "column_added", "schema": "public", "table": "User", "column": "hotfix"},
        {"kind": "index_added", "schema": "public", "table": "Post", "index": "Post_hotfix_idx"},
        {"kind": "table_added", "schema": "public", "table": "A"},  # renamed to B by the deploy
        {"kind": "view_added", "schema": "public", "view": "report"},
    ]
    assert [creations.owns(c) for c in own] == [True] * len(own)
    assert [creations.owns(c) for c in foreign] == [False] * len(foreign)


def _app_blocks_post(url: str) -> psycopg.Connection[Any]:
    """An app transaction that wrote a row of "Post" and has not committed: a CREATE INDEX CONCURRENTLY
    or an ALTER TABLE of "Post" waits for it."""
    app = psycopg.connect(url)
    app.execute("""UPDATE "Post" SET "title" = "title" WHERE "id" = 1""")
    return app


def _job_queue_while(url: str, app: psycopg.Connection[Any], waiting_statement: str) -> threading.Thread:
    """Once a session waits for a lock in ``waiting_statement`` (a LIKE pattern), another session of the
    app creates its own table "JobQueue" with 50 rows; then the app's transaction commits."""

    def act() -> None:
        waiting = (
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
            f"AND state = 'active' AND query LIKE '{waiting_statement}'"
        )
        try:
            _poll(lambda: _query(url, waiting), f"a session to wait in {waiting_statement}", 120)
            with psycopg.connect(url, autocommit=True) as other:
                other.execute('CREATE TABLE "JobQueue" ("id" SERIAL PRIMARY KEY, "payload" TEXT)')
                other.execute("""INSERT INTO "JobQueue" ("payload") SELECT 'job' || i FROM generate_series(1, 50) i""")
        finally:
            app.commit()

    thread = threading.Thread(target=act)
    thread.start()
    return thread


def _job_queue_rows(url: str) -> list[tuple[Any, ...]]:
    return _query(url, """SELECT to_regclass('"JobQueue"') IS NOT NULL, (SELECT count(*) FROM "JobQueue")""")


def test_a_table_the_app_creates_while_an_index_builds_concurrently_is_not_rolled_back(
    tmp_path: Path, database_url: str
) -> None:
    root = tmp_path / "project"
    shutil.copytree(PATTERNS / "index_added", root)
    (root / "safemigrate.toml").write_text(f'[backup]\nstore = "{tmp_path / "backups"}"\n')
    first, second = list_migrations(root / "prisma" / "migrations")
    shutil.rmtree(second.path)
    for name, text in (
        ("20240401000000_age", 'ALTER TABLE "User" ADD COLUMN "age" INTEGER;\n'),
        ("20240402000000_idx", 'CREATE INDEX CONCURRENTLY "Post_title_idx" ON "Post"("title");\n'),
    ):
        (root / "prisma" / "migrations" / name).mkdir()
        (root / "prisma" / "migrations" / name / "migration.sql").write_text(text)
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", [first])
        conn.execute("""INSERT INTO "User" (email) SELECT 'u' || i || '@x.io' FROM generate_series(1, 10) i""")
        conn.execute(
            """INSERT INTO "Post" (title, "authorId") SELECT 't' || i, 1 + i % 10 FROM generate_series(1, 20) i"""
        )

    app = _app_blocks_post(database_url)
    thread = _job_queue_while(database_url, app, "CREATE INDEX CONCURRENTLY%")
    try:
        run = migrate(root, database_url=database_url, skip_dry_run=True)
    finally:
        thread.join(timeout=180)
        app.close()
    assert run.verdict == "applied", run.message
    assert run.schema_diff is not None
    assert sorted(c.describe() for c in run.schema_diff.changes) == [
        'column public."User".age added (integer NULL)',
        'index "Post_title_idx" added on public."Post": CREATE INDEX "Post_title_idx" ON public."Post" USING btree '
        "(title)",
    ]
    assert any('"JobQueue"' in note and "left alone" in note for note in run.notes), run.notes

    done = rollback(root, run_id=run.id, database_url=database_url, confirm=lambda preview: True)
    assert sorted(done.dropped) == ["column User.age", "index Post_title_idx"]
    assert _job_queue_rows(database_url) == [(True, 50)], "the app's table and its rows are kept"


@pytest.mark.node
def test_a_table_the_app_creates_while_prisma_deploys_is_neither_undone_nor_rolled_back(
    prisma: PrismaCli,  # noqa: F811
    project: Path,  # noqa: F811
    database_url: str,
    monkeypatch: Any,
) -> None:
    """With --engine prisma the schema after the deploy differed from the rehearsal's by the app's
    table, so the run "undid" the deploy from the backup, dropping that table and its rows."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    (project / "safemigrate.toml").write_text(
        f'[backup]\nstore = "{project.parent / "backups"}"\n[database]\nlock_timeout = "120s"\n'
    )
    assert migrate(project).verdict == "applied"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("""INSERT INTO "User" (email) SELECT 'u' || i || '@x.io' FROM generate_series(1, 10) i""")
        conn.execute(
            """INSERT INTO "Post" (title, "authorId") SELECT 't' || i, 1 + i % 10 FROM generate_series(1, 20) i"""
        )
    folder = project / "prisma" / "migrations" / "20240201000000_slug"
    folder.mkdir()
    (folder / "migration.sql").write_text(
        'ALTER TABLE "Post" ADD COLUMN "slug" TEXT;\nUPDATE "Post" SET "slug" = lower("title");\n'
    )

    app = _app_blocks_post(database_url)
    thread = _job_queue_while(database_url, app, 'ALTER TABLE "Post"%')
    try:
        run = migrate(
            project,
            engine="prisma",
            prisma_command=(str(prisma.wrapper), "--schema", str(project / "prisma" / "schema.prisma")),
            allow=("data-loss",),
        )
    finally:
        thread.join(timeout=300)
        app.close()
    assert run.verdict == "applied", run.message
    assert run.backup_id is not None and run.rehearsal is not None
    assert any('"JobQueue"' in note and "left alone" in note for note in run.notes), run.notes
    assert _job_queue_rows(database_url) == [(True, 50)]

    done = rollback(project, run_id=run.id, confirm=lambda preview: True)
    assert "table JobQueue" not in done.dropped, done.dropped
    assert _job_queue_rows(database_url) == [(True, 50)], "the app's table and its rows are kept"
