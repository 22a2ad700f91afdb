"""`migrate` end to end on a real server: refusals, backups, rehearsal, all-or-nothing apply,
verification that rolls back by itself, lock retries, and the run ledger."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from safemigrate.backup.project import project_backups
from safemigrate.backup.stores import LocalStore
from safemigrate.db import prisma_migrations as pm
from safemigrate.db.catalog.snapshot import snapshot_to_dict, take_snapshot
from safemigrate.db.fingerprint import fingerprint
from safemigrate.migrations import list_migrations
from safemigrate.pipeline.apply import apply_migrations
from safemigrate.pipeline.migrate import Stage, migrate
from safemigrate.status import APPLIED, read_status

PATTERNS = Path(__file__).parents[2] / "fixtures" / "patterns"


def _project(tmp_path: Path, pattern: str, settings: str = "") -> Path:
    project = tmp_path / "project"
    shutil.copytree(PATTERNS / pattern, project)
    (project / "safemigrate.toml").write_text(f'[backup]\nstore = "{tmp_path / "backups"}"\n{settings}')
    return project


def _deploy_first(project: Path, url: str, sql: str) -> None:
    first = list_migrations(project / "prisma" / "migrations")[:1]
    with psycopg.connect(url, autocommit=True) as conn:
        apply_migrations(conn, "public", first)
        conn.execute(sql)


def _add(project: Path, name: str, sql: str) -> None:
    folder = project / "prisma" / "migrations" / name
    folder.mkdir()
    (folder / "migration.sql").write_text(sql)


def _state(url: str) -> Any:
    """Structure and data; not the planner's statistics, which autovacuum may take at any time."""
    with psycopg.connect(url, autocommit=True) as conn:
        schema = snapshot_to_dict(take_snapshot(conn))
        for table in schema["tables"]:
            table.pop("estimated_rows")
        return schema, fingerprint(conn).to_dict()


def _rows(url: str) -> list[pm.MigrationRow]:
    with psycopg.connect(url, autocommit=True) as conn:
        return list(pm.read_migration_rows(conn, "public"))


USERS = """INSERT INTO "User" (email, nickname)
           SELECT 'u' || i || '@example.com', 'nick' || i FROM generate_series(1, 30) i"""


def test_a_data_losing_migration_is_refused_then_applied_with_allow(tmp_path: Path, database_url: str) -> None:
    project = _project(tmp_path, "drop_column")
    _deploy_first(project, database_url, USERS)
    before = _state(database_url)
    refused = migrate(project, database_url=database_url)
    assert refused.verdict == "refused" and not refused.ok
    assert refused.blockers[0].rule == "drop-column" and "--allow data-loss" in refused.message
    assert _state(database_url) == before
    assert project_backups(project) == (), "a refused run takes no backup"

    applied = migrate(project, database_url=database_url, allow=("data-loss",))
    assert applied.verdict == "applied", applied.message
    assert applied.backup_id is not None
    (backup,) = project_backups(project)
    assert backup.reason.kind == "pre-migrate" and backup.reason.migrations == applied.migrations
    assert [t.name for t in backup.tables] == ["User"] and backup.table("User").rows == 30  # type: ignore[union-attr]
    assert [s.name for s in applied.stages] == ["lint", "preflight", "lock", "backup", "rehearsal", "apply"]
    with psycopg.connect(database_url, autocommit=True) as conn:
        report = read_status(conn, list_migrations(project / "prisma" / "migrations"), schema="public")
    assert [s.state for s in report.migrations] == [APPLIED, APPLIED]
    runs = LocalStore(tmp_path / "backups").list_runs()
    assert [r["verdict"] for r in runs] == ["refused", "applied"]
    assert runs[1]["schema_changes"] and runs[1]["backup_id"] == applied.backup_id


def test_an_in_file_allow_lets_the_run_through(tmp_path: Path, database_url: str) -> None:
    project = _project(tmp_path, "drop_column")
    _deploy_first(project, database_url, USERS)
    path = list_migrations(project / "prisma" / "migrations")[1].sql_path
    path.write_text("-- safemigrate: allow drop-column reason: nicknames are no longer used\n" + path.read_text())
    run = migrate(project, database_url=database_url)
    assert run.verdict == "applied", run.message


def test_a_failing_third_statement_changes_nothing_and_leaves_no_failed_row(tmp_path: Path, database_url: str) -> None:
    project = _project(tmp_path, "index_added")
    _deploy_first(project, database_url, "INSERT INTO \"User\" (email) VALUES ('a@x.io'), ('a@x.io')")
    shutil.rmtree(list_migrations(project / "prisma" / "migrations")[1].path)
    _add(
        project,
        "20240401000000_three",
        'CREATE TABLE "Tag" ("id" SERIAL NOT NULL, CONSTRAINT "Tag_pkey" PRIMARY KEY ("id"));\n'
        'ALTER TABLE "Post" ADD COLUMN "tagId" INTEGER;\n'
        'CREATE UNIQUE INDEX "User_email_key" ON "User"("email");\n',
    )
    before = _state(database_url)
    rows_before = _rows(database_url)
    predicted = migrate(project, database_url=database_url)
    assert predicted.verdict == "refused" and "offending" in predicted.message and "a@x.io" in predicted.message
    assert [s.name for s in predicted.stages][-1] == "preflight"
    rehearsed = migrate(project, database_url=database_url, allow=("may-fail",))
    assert rehearsed.verdict == "refused" and "rehearsal" in rehearsed.message
    assert "migration.sql:3:1" in rehearsed.message
    direct = migrate(project, database_url=database_url, allow=("may-fail",), skip_dry_run=True)
    assert direct.verdict == "rolled back" and "23505" in direct.message
    assert _state(database_url) == before
    assert _rows(database_url) == rows_before, "no failed row: Prisma can still deploy"


def test_an_enum_value_added_by_one_pending_migration_and_used_by_the_next_says_what_to_do(
    tmp_path: Path, database_url: str
) -> None:
    """Both pending: Prisma commits the ADD VALUE file before the next; this engine's one transaction
    cannot use the value (55P04). The lint check refuses it first, before any backup; accepted, the
    rehearsal and the apply fail on it, and their refusal says so, with what to do."""
    project = _project(tmp_path, "enum_value_added")
    _deploy_first(project, database_url, "INSERT INTO \"Post\" (title) VALUES ('a')")
    _add(
        project,
        "20240315000000_archive_by_default",
        '-- AlterTable\nALTER TABLE "Post" ALTER COLUMN "status" SET DEFAULT \'ARCHIVED\';\n',
    )
    before = _state(database_url)
    linted = migrate(project, database_url=database_url)
    assert linted.verdict == "refused" and "enum-value-used-same-transaction" in linted.message, linted.message
    assert [s.name for s in linted.stages][-1] == "lint" and linted.backup_id is None
    rehearsed = migrate(project, database_url=database_url, allow=("may-fail",))
    assert rehearsed.verdict == "refused" and "55P04" in rehearsed.message, rehearsed.message
    assert "deploy the migration that adds the value first" in rehearsed.message
    assert "--engine prisma" in rehearsed.message
    direct = migrate(project, database_url=database_url, skip_dry_run=True, allow=("may-fail",))
    assert direct.verdict == "rolled back" and "55P04" in direct.message, direct.message
    assert "deploy the migration that adds the value first" in direct.message
    assert _state(database_url) == before


def test_a_trigger_that_deletes_other_rows_is_caught_and_rolled_back(tmp_path: Path, database_url: str) -> None:
    project = _project(tmp_path, "index_added")
    _deploy_first(
        project,
        database_url,
        """
        INSERT INTO "User" (email) SELECT 'u' || i || '@x.io' FROM generate_series(1, 5) i;
        CREATE TABLE audit (id int);
        INSERT INTO audit SELECT generate_series(1, 10);
        CREATE FUNCTION wipe_audit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN DELETE FROM audit WHERE id > 5; RETURN NEW; END $$;
        CREATE TRIGGER user_wipes AFTER UPDATE ON "User" FOR EACH STATEMENT EXECUTE FUNCTION wipe_audit();
        """,
    )
    _add(project, "20240401000000_backfill", 'UPDATE "User" SET email = lower(email);\n')
    before = _state(database_url)
    run = migrate(project, database_url=database_url, allow=("data-loss", "may-fail", "lock"))
    assert run.verdict == "rolled back", run.message
    assert [(p.kind, p.subject) for p in run.problems] == [("data", "audit")]
    assert _state(database_url) == before


def test_a_lock_timeout_is_retried_with_backoff(tmp_path: Path, database_url: str) -> None:
    project = _project(tmp_path, "index_added", '[database]\nlock_timeout = "300ms"\n')
    _deploy_first(project, database_url, "INSERT INTO \"User\" (email) VALUES ('a@x.io')")
    holding = threading.Event()

    def hold() -> None:
        with psycopg.connect(database_url) as conn:
            conn.execute('LOCK TABLE "Post" IN ACCESS EXCLUSIVE MODE')
            holding.set()
            time.sleep(1.5)
            conn.rollback()

    holder = threading.Thread(target=hold)

    def on_stage(stage: Stage) -> None:
        if stage.name == "lock":  # another session grabs the table just before the apply
            holder.start()
            assert holding.wait(10)

    try:
        run = migrate(
            project, database_url=database_url, allow=("lock",), skip_dry_run=True, retry_delay=0.5, progress=on_stage
        )
    finally:
        holder.join()
    assert run.verdict == "applied", run.message
    assert run.attempts >= 2
    assert any(s.status == "retry" for s in run.stages)


def test_nothing_pending_is_up_to_date(tmp_path: Path, database_url: str) -> None:
    project = _project(tmp_path, "index_added")
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations"))
    run = migrate(project, database_url=database_url)
    assert run.verdict == "up to date" and run.ok


def test_a_failed_migration_in_the_database_is_refused(tmp_path: Path, database_url: str) -> None:
    project = _project(tmp_path, "index_added")
    first, second = list_migrations(project / "prisma" / "migrations")
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", [first])
        pm.record_migration_failed(conn, "public", second.name, second.data, "boom")
    refused = migrate(project, database_url=database_url)
    assert refused.verdict == "refused" and "failed state" in refused.message
    (run,) = LocalStore(tmp_path / "backups").list_runs()
    assert run["verdict"] == "refused" and "failed state" in run["message"]


def test_an_enum_value_rename_is_expected_in_the_tables_that_use_the_enum(tmp_path: Path, database_url: str) -> None:
    """The verifier finds the columns of a renamed enum (catalog query) and expects their rows to change."""
    project = _project(tmp_path, "enum_value_added")
    _deploy_first(
        project, database_url, """INSERT INTO "Post" (title, status) VALUES ('a', 'DRAFT'), ('b', 'PUBLISHED')"""
    )
    shutil.rmtree(list_migrations(project / "prisma" / "migrations")[1].path)
    _add(project, "20240310000000_rename_value", """ALTER TYPE "PostStatus" RENAME VALUE 'DRAFT' TO 'WIP';\n""")
    run = migrate(project, database_url=database_url)
    assert run.verdict == "applied", run.message
    with psycopg.connect(database_url, autocommit=True) as conn:
        labels = conn.execute("""SELECT status::text FROM "Post" ORDER BY id""").fetchall()
    assert labels == [("WIP",), ("PUBLISHED",)]


def test_a_data_loss_rule_turned_off_in_the_config_still_stops_the_run(tmp_path: Path, database_url: str) -> None:
    """Turning drop-column off quiets lint; the drop still needs --allow data-loss (or an in-file allow)."""
    project = _project(tmp_path, "drop_column", '[lint]\ndisable = ["drop-column"]\n')
    _deploy_first(project, database_url, USERS)
    before = _state(database_url)
    refused = migrate(project, database_url=database_url)
    assert refused.verdict == "refused", refused.message
    assert [f.rule for f in refused.blockers] == ["drop-column"]
    assert _state(database_url) == before
    applied = migrate(project, database_url=database_url, allow=("data-loss",))
    assert applied.verdict == "applied", applied.message


def _own_project(tmp_path: Path, init: str) -> Path:
    """A project whose only applied migration is ``init``."""
    project = _project(tmp_path, "drop_column")
    for migration in list_migrations(project / "prisma" / "migrations"):
        shutil.rmtree(migration.path)
    _add(project, "20240101000000_init", init)
    return project


TRIGGER_INIT = """CREATE TABLE "Post" ("id" SERIAL PRIMARY KEY, "title" TEXT NOT NULL);
CREATE TABLE "Audit" ("id" SERIAL PRIMARY KEY, "postId" INTEGER NOT NULL);
CREATE FUNCTION purge_journal() RETURNS trigger AS $$
BEGIN DELETE FROM "Journal" WHERE "postId" = NEW.id; RETURN NEW; END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER "Post_purge" AFTER UPDATE ON "Post" FOR EACH ROW EXECUTE FUNCTION purge_journal();
"""


def test_rows_deleted_from_a_table_renamed_twice_are_caught(tmp_path: Path, database_url: str) -> None:
    """Audit -> Log -> Journal in one deploy: Journal is still Audit's data, and a trigger emptying it
    is a verification difference (the rename chain is followed, a missing table is never skipped)."""
    project = _own_project(tmp_path, TRIGGER_INIT)
    _deploy_first(
        project,
        database_url,
        """INSERT INTO "Post" (title) SELECT 't' || g FROM generate_series(1, 20) g;
           INSERT INTO "Audit" ("postId") SELECT 1 + g % 20 FROM generate_series(1, 60) g;""",
    )
    _add(project, "20240201000000_a", 'ALTER TABLE "Audit" RENAME TO "Log";\n')
    _add(
        project,
        "20240202000000_b",
        'ALTER TABLE "Log" RENAME TO "Journal";\nUPDATE "Post" SET "title" = "title" || \'!\';\n',
    )
    before = _state(database_url)
    run = migrate(project, database_url=database_url, allow=("data-loss",))
    assert run.verdict == "rolled back", run.message
    assert any(p.subject in ("Audit", "Journal") and "disappeared" in p.detail for p in run.problems), run.problems
    assert _state(database_url) == before


CASCADE_INIT = """CREATE TABLE "Author" ("id" SERIAL PRIMARY KEY, "name" TEXT NOT NULL);
CREATE TABLE "Book" ("id" SERIAL PRIMARY KEY,
    "authorId" INTEGER NOT NULL REFERENCES "Author"("id") ON DELETE CASCADE);
"""


def test_a_delete_cascading_into_a_renamed_table_is_expected(tmp_path: Path, database_url: str) -> None:
    """The live foreign keys carry the names before the migrations: a cascade into (or from) a table
    renamed in the same deploy is followed under its new name, not reported as lost rows."""
    project = _own_project(tmp_path, CASCADE_INIT)
    _deploy_first(
        project,
        database_url,
        """INSERT INTO "Author" (name) SELECT 'a' || g FROM generate_series(1, 10) g;
           INSERT INTO "Book" ("authorId") SELECT 1 + g % 10 FROM generate_series(1, 40) g;""",
    )
    _add(
        project,
        "20240201000000_rename_and_prune",
        'ALTER TABLE "Book" RENAME TO "Title";\nALTER TABLE "Author" RENAME TO "Writer";\n'
        'DELETE FROM "Writer" WHERE "id" > 5;\n',
    )
    run = migrate(project, database_url=database_url, allow=("data-loss",))
    assert run.verdict == "applied", run.message
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute('SELECT count(*) FROM "Title"').fetchone() == (20,)


def test_a_backfill_sees_a_row_committed_while_migrate_waits_for_its_lock(tmp_path: Path, database_url: str) -> None:
    """The app has an INSERT in flight when migrate starts its transaction. migrate locks the table it
    backfills before its snapshot, so it waits for that INSERT and then backfills its row too, as
    `prisma migrate deploy` (READ COMMITTED) would; the snapshot no longer predates the row."""
    project = _own_project(tmp_path, 'CREATE TABLE "User" ("id" SERIAL PRIMARY KEY, "email" TEXT NOT NULL);\n')
    _deploy_first(project, database_url, """INSERT INTO "User" (email) SELECT 'u' || g FROM generate_series(1, 10) g""")
    _add(
        project,
        "20240201000000_display",
        'ALTER TABLE "User" ADD COLUMN "display" TEXT;\nUPDATE "User" SET "display" = "email";\n',
    )
    app = psycopg.connect(database_url)  # a transaction in flight: its row is not committed yet
    app.execute("""INSERT INTO "User" (email) VALUES ('late@example.com')""")
    outcome: list[Any] = []
    worker = threading.Thread(
        target=lambda: outcome.append(migrate(project, database_url=database_url, allow=("data-loss",)))
    )
    worker.start()
    try:
        with psycopg.connect(database_url, autocommit=True) as monitor:
            for _ in range(1200):  # until migrate's transaction waits for the app's lock
                waiting = monitor.execute(
                    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "WHERE NOT l.granted AND c.relname = 'User'"
                ).fetchone()
                if waiting and waiting[0]:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("migrate never waited for the app's lock")
        app.commit()
    finally:
        worker.join(120)
        app.close()
    (run,) = outcome
    assert run.verdict == "applied", run.message
    with psycopg.connect(database_url, autocommit=True) as conn:
        missing = conn.execute('SELECT email FROM "User" WHERE "display" IS DISTINCT FROM "email"').fetchall()
    assert missing == [], "every row, the one committed during the wait included, is backfilled"
