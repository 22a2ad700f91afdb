"""dry-run's rehearsal on real servers: clones of the target (same server, given URL, embedded) and
the local replay of a whole history; the target is never changed and clones never stay behind."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest

from safemigrate.db.catalog.snapshot import snapshot_to_dict, take_snapshot
from safemigrate.db.fingerprint import fingerprint
from safemigrate.errors import CloneError
from safemigrate.migrations import list_migrations
from safemigrate.pipeline.apply import apply_migrations
from safemigrate.pipeline.rehearse import rehearse
from tests.pgserver import PgServer

FIXTURES = Path(__file__).parents[2] / "fixtures"


def _project(tmp_path: Path, name: str = "blog") -> Path:
    source = FIXTURES / name if name == "blog" else FIXTURES / "patterns" / name
    project = tmp_path / "project"
    shutil.copytree(source, project)
    (project / "safemigrate.toml").write_text(f'[backup]\nstore = "{tmp_path / "backups"}"\n')
    return project


def _deploy(project: Path, url: str, count: int, sql: str = "") -> None:
    migrations = list_migrations(project / "prisma" / "migrations")[:count]
    with psycopg.connect(url, autocommit=True) as conn:
        assert apply_migrations(conn, "public", migrations).committed
        if sql:
            conn.execute(sql)


def _state(url: str) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        return snapshot_to_dict(take_snapshot(conn)), fingerprint(conn).to_dict()


def _clones(pg_server: PgServer) -> list[str]:
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'safemigrate\\_clone\\_%'")
        return [str(r[0]) for r in rows]


POSTS = """
INSERT INTO "User" (email, name) VALUES ('a@example.com', 'A'), ('b@example.com', 'B');
INSERT INTO "Post" (title, "authorId", "updatedAt")
    SELECT 'post ' || i, 1 + i % 2, now() FROM generate_series(1, 40) AS i;
"""


def test_a_required_column_without_default_fails_on_the_clone_with_file_and_line(
    tmp_path: Path, database_url: str, pg_server: PgServer
) -> None:
    project = _project(tmp_path)
    _deploy(project, database_url, 4, POSTS)
    before = _state(database_url)
    rehearsal = rehearse(project, database_url=database_url, clone="database")
    assert not rehearsal.ok
    failed = rehearsal.result.failed
    assert failed is not None and failed.name == "20240305160000_add_post_slug"
    assert failed.error is not None and failed.error.sqlstate == "23502"
    assert failed.error.file == "prisma/migrations/20240305160000_add_post_slug/migration.sql"
    assert failed.error.line == 2
    assert [t.outcome for t in rehearsal.result.migrations] == ["failed", "not run", "not run"]
    assert "Post" in rehearsal.data_tables and "User" in rehearsal.data_tables  # Post's rows need their authors
    assert rehearsal.backup_id is not None
    assert _state(database_url) == before, "the target is only read"
    assert _clones(pg_server) == []


def test_a_type_change_is_reported_as_a_rewrite_under_access_exclusive(tmp_path: Path, database_url: str) -> None:
    project = _project(tmp_path)
    _deploy(project, database_url, 3, POSTS)
    shutil.rmtree(project / "prisma" / "migrations" / "20240305160000_add_post_slug")
    rehearsal = rehearse(project, database_url=database_url, clone="database")
    assert rehearsal.ok, rehearsal.result.failed
    change = rehearsal.result.migrations[0]
    assert change.name == "20240220101000_post_title_varchar_viewcount_bigint"
    (statement,) = change.statements
    assert statement.rewritten == ("Post",)
    assert any(lock.relation == "Post" and lock.mode == "AccessExclusiveLock" for lock in statement.locks)


def test_a_safe_migration_rehearses_and_its_diff_is_what_is_later_applied(tmp_path: Path, database_url: str) -> None:
    project = _project(tmp_path, "index_added")
    migrations = list_migrations(project / "prisma" / "migrations")
    _deploy(project, database_url, len(migrations) - 1)
    rehearsal = rehearse(project, database_url=database_url, clone="database")
    assert rehearsal.ok and rehearsal.schema_diff is not None and not rehearsal.schema_diff.equal
    with psycopg.connect(database_url, autocommit=True) as conn:
        snapshot_before = take_snapshot(conn, exclude_tables=("_prisma_migrations",))
        apply_migrations(conn, "public", migrations[-1:])
        snapshot_after = take_snapshot(conn, exclude_tables=("_prisma_migrations",))
    from safemigrate.db.diff import diff_snapshots

    assert diff_snapshots(snapshot_before, snapshot_after) == rehearsal.schema_diff


def test_stale_clones_of_a_killed_run_are_dropped(tmp_path: Path, database_url: str, pg_server: PgServer) -> None:
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute('CREATE DATABASE "safemigrate_clone_20200101T000000_abcd"')
    project = _project(tmp_path, "index_added")
    _deploy(project, database_url, 1)
    rehearsal = rehearse(project, database_url=database_url, clone="database")
    assert "safemigrate_clone_20200101T000000_abcd" in rehearsal.dropped_stale
    assert _clones(pg_server) == []


def test_url_clone_is_wiped_and_never_the_target(tmp_path: Path, database_url: str, pg_server: PgServer) -> None:
    project = _project(tmp_path, "index_added")
    _deploy(project, database_url, 1)
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS shadow")
        conn.execute("CREATE DATABASE shadow")
    shadow = pg_server.url("shadow")
    with psycopg.connect(shadow, autocommit=True) as conn:
        conn.execute("CREATE TABLE leftover (id int)")
    rehearsal = rehearse(project, database_url=database_url, clone="url", clone_url=shadow)
    assert rehearsal.ok and rehearsal.clone_provider == "url"
    with psycopg.connect(shadow) as conn:
        assert conn.execute("SELECT to_regclass('public.leftover')").fetchone() == (None,)
    with pytest.raises(CloneError, match="names the target database itself"):
        rehearse(project, database_url=database_url, clone="url", clone_url=database_url)


def test_without_a_database_the_whole_history_is_replayed_on_an_embedded_server(tmp_path: Path) -> None:
    project = _project(tmp_path)
    rehearsal = rehearse(project, local=True)
    assert rehearsal.mode == "history" and rehearsal.clone_provider == "embedded"
    assert rehearsal.ok and len(rehearsal.migrations) == 7
    assert rehearsal.schema_diff is not None and not rehearsal.schema_diff.equal

    bad = project / "prisma" / "migrations" / "20240501000000_typo"
    bad.mkdir()
    (bad / "migration.sql").write_text('ALTER TABLE "Post" ADD COLUMN "x" NOSUCHTYPE;\n')
    failed = rehearse(project, local=True).result.failed
    assert failed is not None and failed.error is not None
    assert (failed.error.file, failed.error.line) == ("prisma/migrations/20240501000000_typo/migration.sql", 1)


def test_without_a_fitting_pg_dump_the_clone_is_built_from_the_catalog(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAFEMIGRATE_PG_DUMP", str(tmp_path / "no-such-pg_dump"))
    project = _project(tmp_path)
    _deploy(project, database_url, 3, POSTS)
    shutil.rmtree(project / "prisma" / "migrations" / "20240305160000_add_post_slug")
    rehearsal = rehearse(project, database_url=database_url, clone="database")
    assert rehearsal.ok, rehearsal.result.failed
    assert any("copied from the catalog" in w for w in rehearsal.warnings)
    change = rehearsal.result.migrations[0]
    assert change.statements[0].rewritten == ("Post",)


def _only_pending(project: Path, applied: int, sql: str) -> None:
    """Keep the first ``applied`` migrations and replace the rest by one migration holding ``sql``."""
    folder = project / "prisma" / "migrations"
    for migration in list_migrations(folder)[applied:]:
        shutil.rmtree(migration.path)
    (folder / "20250101000000_data_change").mkdir()
    (folder / "20250101000000_data_change" / "migration.sql").write_text(sql)


def test_an_insert_gets_the_rows_its_foreign_keys_reference(tmp_path: Path, database_url: str) -> None:
    # Nothing here is backed up for safety (an INSERT loses nothing), yet the clone needs User's rows:
    # on an empty User the key refused the row and the rehearsal failed a migration that works.
    project = _project(tmp_path)
    _deploy(project, database_url, 4, POSTS)
    _only_pending(project, 4, """INSERT INTO "Post" (title, "authorId", "updatedAt") VALUES ('new', 1, now());\n""")
    rehearsal = rehearse(project, database_url=database_url, clone="database")
    assert rehearsal.ok, rehearsal.result.failed
    assert {"Post", "User"} <= set(rehearsal.data_tables)


def test_a_delete_refused_by_a_restrict_key_fails_on_the_clone_too(tmp_path: Path, database_url: str) -> None:
    # Post references User ON DELETE RESTRICT: the target refuses this DELETE, so must the rehearsal,
    # which needs Post's rows for it (they used to be left out, and the rehearsal passed).
    project = _project(tmp_path)
    _deploy(project, database_url, 4, POSTS)
    _only_pending(project, 4, """DELETE FROM "User" WHERE "email" = 'a@example.com';\n""")
    rehearsal = rehearse(project, database_url=database_url, clone="database")
    assert not rehearsal.ok
    failed = rehearsal.result.failed
    assert failed is not None and failed.error is not None and failed.error.sqlstate == "23503"
    assert "Post" in rehearsal.data_tables


def test_the_tables_a_data_change_reads_get_their_rows(tmp_path: Path, database_url: str) -> None:
    # The copy needs Post's rows: on an empty Post it would insert nothing, and a NOT NULL or unique
    # violation the target meets would pass unseen.
    project = _project(tmp_path)
    _deploy(project, database_url, 4, POSTS)
    _only_pending(
        project,
        4,
        """INSERT INTO "User" (email, name) SELECT 'copy' || p.id || '@example.com', 'copy' FROM "Post" p
           JOIN "User" u ON u.id = p."authorId" WHERE p.id <= 3;\n"""
        """ALTER TABLE "User" ADD CONSTRAINT three_copies CHECK (email NOT LIKE 'copy3@%');\n""",
    )
    rehearsal = rehearse(project, database_url=database_url, clone="database")
    assert "Post" in rehearsal.data_tables
    assert not rehearsal.ok  # the check meets a copied row, as it would on the target
    failed = rehearsal.result.failed
    assert failed is not None and failed.error is not None and failed.error.sqlstate == "23514"


def test_a_wrong_url_clone_is_refused_before_the_backup(tmp_path: Path, database_url: str) -> None:
    # The refusal used to come after a full pre-migrate backup (dry-run) or after a backup and a
    # recorded failed run (migrate): nothing is taken now.
    from safemigrate.pipeline.migrate import migrate

    ALLOW_ALL = ("data-loss", "may-fail", "lock", "breaking", "unchecked")
    project = _project(tmp_path)
    _deploy(project, database_url, 4, POSTS)
    store = tmp_path / "backups"
    for clone_url, refusal in ((None, "needs a throwaway database URL"), (database_url, "names the target")):
        with pytest.raises(CloneError, match=refusal):
            rehearse(project, database_url=database_url, clone="url", clone_url=clone_url, environ={})
        with pytest.raises(CloneError, match=refusal):
            migrate(project, database_url=database_url, clone="url", clone_url=clone_url, allow=ALLOW_ALL)
    taken = [p.name for p in store.iterdir() if p.name != "runs" and not p.name.startswith(".")]
    assert taken == [], "no backup was taken"


def test_a_catalog_built_clone_keeps_inheritance(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A column added to "User" reaches its inheritance child "Admin" on the target: the clone built
    from the catalog must link the child too, or its schema diff differs from what the deploy does."""
    monkeypatch.setenv("SAFEMIGRATE_PG_DUMP", str(tmp_path / "no-such-pg_dump"))
    project = _project(tmp_path)
    _deploy(project, database_url, 4, POSTS + """CREATE TABLE "Admin" (level int) INHERITS ("User");""")
    _only_pending(project, 4, 'ALTER TABLE "User" ADD COLUMN "nick" TEXT;\n')
    rehearsal = rehearse(project, database_url=database_url, clone="database")
    assert rehearsal.ok, rehearsal.result.failed
    assert rehearsal.schema_diff is not None
    added = {(c.table, c.column) for c in rehearsal.schema_diff.changes if type(c).__name__ == "ColumnAdded"}
    assert added == {("User", "nick"), ("Admin", "nick")}
