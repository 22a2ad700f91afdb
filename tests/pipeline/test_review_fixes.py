"""Cases a review of the pipeline found: each would have lost data or misreported."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from safemigrate.errors import CloneError
from safemigrate.migrations import list_migrations
from safemigrate.pipeline.apply import apply_migrations
from safemigrate.pipeline.migrate import migrate
from safemigrate.pipeline.recover import diagnose
from safemigrate.pipeline.rehearse import rehearse
from safemigrate.pipeline.rollback import rollback

PATTERNS = Path(__file__).parents[2] / "fixtures" / "patterns"


def _project(tmp_path: Path, pattern: str = "index_added") -> Path:
    project = tmp_path / "project"
    shutil.copytree(PATTERNS / pattern, project)
    (project / "safemigrate.toml").write_text(f'[backup]\nstore = "{tmp_path / "backups"}"\n')
    return project


def test_a_url_clone_spelling_the_target_differently_is_refused(tmp_path: Path, database_url: str) -> None:
    project = _project(tmp_path)
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
        conn.execute("""INSERT INTO "User" (email) VALUES ('keep@x.io')""")
    other_spelling = database_url.replace("@127.0.0.1:", "@localhost:")
    with pytest.raises(CloneError, match="names the target database itself"):
        rehearse(project, database_url=database_url, clone="url", clone_url=other_spelling)
    with psycopg.connect(database_url) as conn:
        assert conn.execute('SELECT count(*) FROM "User"').fetchone() == (1,), "nothing was wiped"


def test_rolling_back_a_rename_renames_back_and_keeps_the_rows(tmp_path: Path, database_url: str) -> None:
    project = _project(tmp_path)
    migrations = list_migrations(project / "prisma" / "migrations")
    shutil.rmtree(migrations[1].path)
    folder = project / "prisma" / "migrations" / "20240401000000_rename"
    folder.mkdir()
    (folder / "migration.sql").write_text('ALTER TABLE "Post" RENAME TO "Article";\n')
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", migrations[:1])
        conn.execute("""INSERT INTO "User" (email) VALUES ('a@x.io')""")
        conn.execute("""INSERT INTO "Post" (title, "authorId") VALUES ('kept', 1)""")
    run = migrate(project, database_url=database_url, allow=("breaking", "data-loss"))
    assert run.verdict == "applied", run.message
    rollback(project, database_url=database_url, confirm=lambda preview: True)
    with psycopg.connect(database_url) as conn:
        assert conn.execute('SELECT title FROM "Post"').fetchall() == [("kept",)]
        assert conn.execute("""SELECT to_regclass('"Article"')""").fetchone() == (None,)


def test_recover_never_drops_an_object_that_was_there_before(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute('CREATE TABLE "Tag" (id int); INSERT INTO "Tag" VALUES (1)')
        script = b'CREATE TABLE "Tag" (id int);\n'
        logs = "A migration failed to apply.\n\nDatabase error code: 42P07\n\nDatabase error:\nrelation exists\n"
        diagnosis = diagnose(conn, "public", "20240401000000_tag", script, logs)
    assert diagnosis.blocker is not None and "42P07" in diagnosis.blocker.note


def test_a_restore_into_another_schema_is_refused_before_anything_changes(tmp_path: Path, database_url: str) -> None:
    from safemigrate.backup import restore_backup, take_backup
    from safemigrate.db.url import parse_database_url
    from safemigrate.errors import RestoreRefusedError

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int); INSERT INTO t VALUES (1); CREATE SCHEMA other")
    take_backup(parse_database_url(database_url), tmp_path / "store")
    with pytest.raises(RestoreRefusedError, match="another schema is not supported"):
        restore_backup(parse_database_url(database_url + "?schema=other"), tmp_path / "store")
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT to_regclass('other.t')").fetchone() == (None,)


def test_an_echoed_bare_token_never_reaches_the_report() -> None:
    from safemigrate.notify.send import _scrub

    url = "https://hooks.example.com/services/T000/B000?token=s3cr3tT0ken42"
    echoed = "403 Forbidden: invalid token s3cr3tT0ken42 for https://TOKEN12345@hooks.example.com"
    assert "s3cr3tT0ken42" not in _scrub(echoed, url)
    assert "TOKEN12345" not in _scrub(echoed, "https://TOKEN12345@hooks.example.com/x")
