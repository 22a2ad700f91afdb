"""Review fixes of the apply stage and of migrate's refusals, on a real server:

- a file that cannot run in a transaction and fails part-way has what its earlier statements built
  dropped before it is marked rolled back (else the next deploy fails with 42P07 forever); what
  cannot be undone leaves it failed, named;
- a run with no transactional part does not say that part was committed;
- a history Prisma would not deploy past (P3009, an applied migration edited since) refuses the run:
  verdict "refused", exit 1 for migrate and dry-run (2 is for usage, config and connection errors).
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from safemigrate.backup.stores import LocalStore
from safemigrate.db import prisma_migrations as pm
from safemigrate.migrations import list_migrations
from safemigrate.pipeline.apply import apply_migrations
from safemigrate.pipeline.migrate import migrate
from tests.cli_run import run_cli
from tests.pipeline.test_migrate import _add
from tests.pipeline.test_migrate import _project as migrate_project

PATTERNS = Path(__file__).parents[2] / "fixtures" / "patterns"
LATE = "20990101000000_indexes"
INDEXES = (
    'CREATE INDEX CONCURRENTLY "Post_createdAt_idx" ON "Post"("createdAt");\n'
    'CREATE UNIQUE INDEX CONCURRENTLY "Post_title_key" ON "Post"("title");\n'
)
ALLOW = ("may-fail", "lock", "unchecked")


def _project(tmp_path: Path) -> Path:
    return migrate_project(tmp_path, "index_added")


def _deployed_with_duplicate_titles(project: Path, url: str) -> None:
    """Every migration of the fixture applied, and two posts with one title (a unique index on it fails)."""
    with psycopg.connect(url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations"))
        conn.execute("""INSERT INTO "User" (email) VALUES ('a@example.com')""")
        conn.execute("""INSERT INTO "Post" (title, "authorId") VALUES ('same', 1), ('same', 1), ('other', 1)""")


def _relation(url: str, name: str) -> str | None:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT to_regclass(%s)::text", (f'"{name}"',)).fetchone()
    return row[0] if row else None


def _late_rows(url: str) -> list[pm.MigrationRow]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [r for r in pm.read_migration_rows(conn, "public") if r.migration_name == LATE]


def _fix_titles(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("""UPDATE "Post" SET title = 'renamed' WHERE id = 2""")


# --- item 3: a non-transactional file that fails part-way -------------------------------------------


def test_a_failed_concurrently_file_drops_the_valid_index_it_built_so_it_can_run_again(
    tmp_path: Path, database_url: str
) -> None:
    project = _project(tmp_path)
    _deployed_with_duplicate_titles(project, database_url)
    _add(project, LATE, INDEXES)
    late = list_migrations(project / "prisma" / "migrations")[-1:]
    with psycopg.connect(database_url, autocommit=True) as conn:
        result = apply_migrations(conn, "public", late)
    failed = result.failed
    assert failed is not None and failed.error is not None and failed.error.sqlstate == "23505"
    # Line 1 built a valid index, line 2 failed and left an INVALID one: both are dropped.
    assert failed.undone == ('index "public"."Post_createdAt_idx"', 'index "public"."Post_title_key"')
    assert failed.left == ()
    assert _relation(database_url, "Post_createdAt_idx") is None
    assert _relation(database_url, "Post_title_key") is None
    (row,) = _late_rows(database_url)
    assert row.rolled_back and not row.failed

    _fix_titles(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        again = apply_migrations(conn, "public", late)  # no 42P07 "relation already exists"
    assert again.failed is None and [t.outcome for t in again.migrations] == ["applied"]
    assert _relation(database_url, "Post_createdAt_idx") == '"Post_createdAt_idx"'


def test_an_index_that_existed_before_the_file_is_never_dropped(tmp_path: Path, database_url: str) -> None:
    project = _project(tmp_path)
    _deployed_with_duplicate_titles(project, database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute('CREATE INDEX "Post_createdAt_idx" ON "Post"("createdAt")')
    _add(project, LATE, INDEXES.replace('INDEX CONCURRENTLY "Post_c', 'INDEX CONCURRENTLY IF NOT EXISTS "Post_c'))
    with psycopg.connect(database_url, autocommit=True) as conn:
        result = apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[-1:])
    assert result.failed is not None and result.failed.undone == ('index "public"."Post_title_key"',)
    assert _relation(database_url, "Post_createdAt_idx") == '"Post_createdAt_idx"'
    assert _late_rows(database_url)[0].rolled_back


def test_what_cannot_be_undone_leaves_the_migration_failed_and_named(tmp_path: Path, database_url: str) -> None:
    project = _project(tmp_path)
    _deployed_with_duplicate_titles(project, database_url)
    _add(project, LATE, 'CREATE TABLE "Audit" ("id" INTEGER);\n' + INDEXES)
    with psycopg.connect(database_url, autocommit=True) as conn:
        result = apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[-1:])
    failed = result.failed
    assert failed is not None and failed.undone == (
        'index "public"."Post_createdAt_idx"',
        'index "public"."Post_title_key"',
    )
    assert [(left.line, left.text, left.undo) for left in failed.left] == [
        (1, 'CREATE TABLE "Audit" ("id" INTEGER)', None)
    ]
    (row,) = _late_rows(database_url)
    assert row.failed and not row.rolled_back, "not marked rolled back: the Audit table stays"
    assert row.logs and "23505" in row.logs


def test_indexes_built_after_the_files_own_search_path_are_named_not_guessed(tmp_path: Path, database_url: str) -> None:
    # After SET search_path the unqualified "Post" is other."Post": looking in the URL's schema found
    # nothing new, and the file was marked rolled back with both indexes left in other.
    project = _project(tmp_path)
    _deployed_with_duplicate_titles(project, database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute('CREATE SCHEMA other; CREATE TABLE other."Post" (LIKE public."Post" INCLUDING DEFAULTS)')
        conn.execute("""INSERT INTO other."Post" (id, title, "authorId") VALUES (1, 'same', 1), (2, 'same', 1)""")
    _add(project, LATE, "SET search_path TO other;\n" + INDEXES)
    with psycopg.connect(database_url, autocommit=True) as conn:
        result = apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[-1:])
    failed = result.failed
    assert failed is not None and failed.undone == ()
    assert [(left.line, left.undo) for left in failed.left] == [(2, None), (3, None)]
    (row,) = _late_rows(database_url)
    assert row.failed and not row.rolled_back, "the indexes in other stay: not marked rolled back"


def test_a_run_of_only_a_concurrently_file_is_rolled_back_without_a_transactional_part(
    tmp_path: Path, database_url: str
) -> None:
    project = _project(tmp_path)
    _deployed_with_duplicate_titles(project, database_url)
    _add(project, LATE, INDEXES)
    run = migrate(project, database_url=database_url, allow=ALLOW, skip_dry_run=True)
    assert run.verdict == "rolled back", run.message
    assert "transactional part" not in run.message
    assert 'dropped (index "public"."Post_createdAt_idx", index "public"."Post_title_key")' in run.message
    assert "as it was" in run.message
    assert _relation(database_url, "Post_createdAt_idx") is None

    _fix_titles(database_url)
    again = migrate(project, database_url=database_url, allow=ALLOW, skip_dry_run=True)
    assert again.verdict == "applied", again.message


def test_a_transactional_part_that_committed_is_said_and_what_stays_is_named(tmp_path: Path, database_url: str) -> None:
    project = _project(tmp_path)
    _deployed_with_duplicate_titles(project, database_url)
    _add(project, "20990100000000_column", 'ALTER TABLE "Post" ADD COLUMN "note" TEXT;\n')
    _add(project, LATE, 'CREATE TABLE "Audit" ("id" INTEGER);\n' + INDEXES)
    run = migrate(project, database_url=database_url, allow=ALLOW, skip_dry_run=True)
    assert run.verdict == "failed", run.message
    assert "The transactional part was committed and verified." in run.message
    assert "stays in Prisma's failed state (P3009)" in run.message
    assert 'line 1 (CREATE TABLE "Audit" ("id" INTEGER))' in run.message
    assert f"prisma migrate resolve --rolled-back {LATE}" in run.message
    assert _late_rows(database_url)[0].failed


# --- item 6: refusals before anything is applied ----------------------------------------------------


def test_a_failed_migration_in_the_database_refuses_migrate_and_dry_run_with_exit_1(
    tmp_path: Path, database_url: str
) -> None:
    project = _project(tmp_path)
    first, second = list_migrations(project / "prisma" / "migrations")
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", [first])
        pm.record_migration_failed(conn, "public", second.name, second.data, "boom")

    run = migrate(project, database_url=database_url)
    assert run.verdict == "refused" and "P3009" in run.message and "Nothing was changed" in run.message
    assert [(s.name, s.status) for s in run.stages] == [("status", "refused")]
    (recorded,) = LocalStore(tmp_path / "backups").list_runs()
    assert recorded["verdict"] == "refused" and "P3009" in recorded["message"]

    cli = run_cli(project, "migrate", "--yes", "--format", "json", "--database-url", database_url)
    assert cli.returncode == 1, cli.stderr
    assert json.loads(cli.stdout)["verdict"] == "refused"
    rehearsal = run_cli(project, "dry-run", "--database-url", database_url)
    assert rehearsal.returncode == 1, rehearsal.stderr
    assert "P3009" in rehearsal.stderr and "Traceback" not in rehearsal.stderr


def test_a_schema_with_tables_but_no_history_is_refused_before_the_backup(tmp_path: Path, database_url: str) -> None:
    # Prisma's P3005: the tables must be baselined first. It surfaced in the rehearsal, after a backup,
    # with exit 2; it is refused first now, with exit 1 as `status` gives.
    project = _project(tmp_path)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute('CREATE TABLE "Legacy" (id int)')
    run = migrate(project, database_url=database_url)
    assert run.verdict == "refused" and "P3005" in run.message and run.backup_id is None, run.message
    assert "prisma migrate resolve --applied" in run.message
    rehearsal = run_cli(project, "dry-run", "--database-url", database_url)
    assert rehearsal.returncode == 1 and "P3005" in rehearsal.stderr, rehearsal.stderr
    assert [p.name for p in (tmp_path / "backups").iterdir() if p.name != "runs"] == []


@pytest.mark.parametrize("pending", [False, True], ids=["nothing pending", "one pending"])
def test_an_applied_migration_edited_since_refuses_with_exit_1(
    tmp_path: Path, database_url: str, pending: bool
) -> None:
    project = _project(tmp_path)
    migrations = list_migrations(project / "prisma" / "migrations")
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", migrations)
    with (migrations[0].sql_path).open("a") as handle:
        handle.write("-- edited after it was applied\n")
    if pending:
        _add(project, LATE, 'ALTER TABLE "Post" ADD COLUMN "note" TEXT;\n')

    cli = run_cli(project, "migrate", "--yes", "--format", "json", "--database-url", database_url)
    assert cli.returncode == 1, cli.stderr
    document = json.loads(cli.stdout)
    assert document["verdict"] == "refused" and "edited after it was applied" in document["message"]
    (recorded,) = LocalStore(tmp_path / "backups").list_runs()
    assert recorded["verdict"] == "refused"
    rehearsal = run_cli(project, "dry-run", "--database-url", database_url)
    assert rehearsal.returncode == 1, rehearsal.stderr
    assert "edited after it was applied" in rehearsal.stderr
