"""The apply engine (shared by dry-run and migrate) on a real server: one transaction, Prisma's rows,
BEGIN/COMMIT absorbed, traces of locks and rewrites, errors mapped to file:line:column."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from safemigrate.db import prisma_migrations as pm
from safemigrate.migrations import list_migrations
from safemigrate.pipeline.apply import apply_migrations
from safemigrate.status import APPLIED, read_status

BLOG = Path(__file__).parents[2] / "fixtures" / "blog"


def _write(project: Path, name: str, sql: str) -> None:
    folder = project / "prisma" / "migrations" / name
    folder.mkdir()
    (folder / "migration.sql").write_text(sql)


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {str(r[0]) for r in rows}


@pytest.fixture
def blog(tmp_path: Path) -> Path:
    project = tmp_path / "blog"
    shutil.copytree(BLOG, project)
    return project


def test_all_pending_migrations_apply_in_one_transaction_with_prismas_rows(blog: Path, database_url: str) -> None:
    migrations = list_migrations(blog / "prisma" / "migrations")
    with psycopg.connect(database_url, autocommit=True) as conn:
        result = apply_migrations(conn, "public", migrations)
        assert result.committed and result.failed is None
        assert [t.outcome for t in result.migrations] == ["applied"] * len(migrations)
        report = read_status(conn, migrations, schema="public")
    assert [s.state for s in report.migrations] == [APPLIED] * len(migrations)
    assert {"User", "Post", "comments", "_prisma_migrations"} <= _tables(database_url)
    # the enum-removal migration's own BEGIN/COMMIT were absorbed, not executed
    removal = next(t for t in result.migrations if t.name.endswith("remove_moderator_role"))
    assert not any(s.text.upper().startswith(("BEGIN", "COMMIT")) for s in removal.statements)


def test_a_failing_statement_rolls_everything_back_and_points_at_file_line_column(
    blog: Path, database_url: str
) -> None:
    _write(
        blog,
        "20240501000000_bad",
        'CREATE TABLE "Extra" (id int);\n\nINSERT INTO "Extra" VALUES (1), (1);\n'
        'CREATE UNIQUE INDEX "Extra_id_key" ON "Extra"(id);\n',
    )
    _write(blog, "20240502000000_after", 'CREATE TABLE "Later" (id int);\n')
    migrations = list_migrations(blog / "prisma" / "migrations")
    with psycopg.connect(database_url, autocommit=True) as conn:
        result = apply_migrations(conn, "public", migrations, trace=True)
    assert not result.committed
    failed = result.failed
    assert failed is not None and failed.name == "20240501000000_bad"
    assert failed.error is not None and failed.error.sqlstate == "23505"
    assert failed.error.file.endswith("20240501000000_bad/migration.sql")
    assert (failed.error.line, failed.error.column) == (4, 1)
    assert [s.line for s in failed.statements] == [1, 3]  # what ran before the error, traced
    outcomes = [t.outcome for t in result.migrations]
    assert outcomes == ["rolled back"] * 7 + ["failed", "not run"]
    assert _tables(database_url) == set(), "nothing is left behind, not even _prisma_migrations"


def test_error_position_inside_a_statement_maps_to_its_line_and_column(blog: Path, database_url: str) -> None:
    _write(blog, "20240501000000_typo", '-- a comment\nCREATE TABLE "T" (\n  id int,\n  x nosuchtype\n);\n')
    migrations = list_migrations(blog / "prisma" / "migrations")
    with psycopg.connect(database_url, autocommit=True) as conn:
        result = apply_migrations(conn, "public", migrations)
    error = result.failed.error if result.failed else None
    assert error is not None and error.sqlstate == "42704"
    assert (error.line, error.column) == (4, 5)


def test_trace_shows_rewrites_and_access_exclusive_locks(blog: Path, database_url: str) -> None:
    migrations = list_migrations(blog / "prisma" / "migrations")
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", migrations[:3])
        conn.execute("""INSERT INTO "User" (email, name) VALUES ('a@example.com', 'A')""")
        result = apply_migrations(conn, "public", migrations[3:4], trace=True)
    (trace,) = result.migrations
    (statement,) = trace.statements  # one ALTER TABLE over two lines
    assert statement.rewritten == ("Post",)
    assert any(lock.relation == "Post" and lock.mode == "AccessExclusiveLock" for lock in statement.locks)
    assert statement.seconds >= 0


def test_a_rehearsal_commits_nothing(blog: Path, database_url: str) -> None:
    migrations = list_migrations(blog / "prisma" / "migrations")
    with psycopg.connect(database_url, autocommit=True) as conn:
        result = apply_migrations(conn, "public", migrations, commit=False)
    assert not result.committed and result.failed is None
    assert {t.outcome for t in result.migrations} == {"rolled back"}
    assert _tables(database_url) == set()


def test_a_concurrent_index_file_runs_alone_after_the_transaction(blog: Path, database_url: str) -> None:
    _write(blog, "20240501000000_concurrent", 'CREATE INDEX CONCURRENTLY "Post_title_idx" ON "Post"("title");\n')
    migrations = list_migrations(blog / "prisma" / "migrations")
    with psycopg.connect(database_url, autocommit=True) as conn:
        result = apply_migrations(conn, "public", migrations)
        assert result.committed and result.failed is None
        assert result.migrations[-1].transactional is False and result.migrations[-1].outcome == "applied"
        index = conn.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = '\"Post_title_idx\"'::regclass")
        assert index.fetchone() == (True,)
        rows = pm.read_migration_rows(conn, "public")
    assert all(row.applied for row in rows) and len(rows) == len(migrations)


def test_a_failed_concurrent_index_leaves_no_invalid_index_and_prisma_not_stuck(blog: Path, database_url: str) -> None:
    _write(
        blog, "20240501000000_unique_title", 'CREATE UNIQUE INDEX CONCURRENTLY "Post_title_key" ON "Post"("title");\n'
    )
    migrations = list_migrations(blog / "prisma" / "migrations")
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", migrations[:-1])
        conn.execute("""INSERT INTO "User" (email) VALUES ('a@x.io')""")
        conn.execute(
            """INSERT INTO "Post" (title, "authorId", "updatedAt", slug)
               VALUES ('t', 1, now(), 'a'), ('t', 1, now(), 'b')"""
        )
        result = apply_migrations(conn, "public", migrations[-1:])
        failed = result.failed
        assert failed is not None and failed.error is not None and failed.error.sqlstate == "23505"
        assert conn.execute("SELECT to_regclass('\"Post_title_key\"')").fetchone() == (None,)
        (row,) = [
            r for r in pm.read_migration_rows(conn, "public") if r.migration_name == "20240501000000_unique_title"
        ]
    assert row.rolled_back and not row.failed and row.logs and "23505" in row.logs


def test_a_concurrent_index_then_a_constraint_using_it_keeps_file_order(blog: Path, database_url: str) -> None:
    from safemigrate.pipeline.migrate import migrate

    _write(blog, "20240501000000_index", 'CREATE UNIQUE INDEX CONCURRENTLY "Post_slug_idx" ON "Post"("slug");\n')
    _write(
        blog,
        "20240502000000_constraint",
        'ALTER TABLE "Post" ADD CONSTRAINT "Post_slug_key" UNIQUE USING INDEX "Post_slug_idx";\n',
    )
    migrations = list_migrations(blog / "prisma" / "migrations")
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", migrations[:-2])
    (blog / "safemigrate.toml").write_text(f'[backup]\nstore = "{blog.parent / "backups"}"\n')
    refused = migrate(blog, database_url=database_url, allow=("lock", "may-fail"))
    assert refused.verdict == "refused" and "--engine prisma" in refused.message
    with psycopg.connect(database_url, autocommit=True) as conn:
        result = apply_migrations(conn, "public", migrations[-2:])  # a rehearsal's way: in file order
        assert result.committed and [t.outcome for t in result.migrations] == ["applied", "applied"]
        row = conn.execute("SELECT conname FROM pg_constraint WHERE conname = 'Post_slug_key'").fetchone()
    assert row == ("Post_slug_key",)
