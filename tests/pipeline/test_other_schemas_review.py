"""Rows of another schema that a pending statement reaches without naming them: a foreign key's ON
DELETE / ON UPDATE action or a TRUNCATE ... CASCADE from a table of the URL's schema, a DROP SCHEMA of
another schema, a DROP ... CASCADE whose dependents live elsewhere. The backup holds the URL's schema
only, so such a run is refused before anything changes; within the URL's schema, the table an ON
DELETE CASCADE empties is backed up and restored by a rollback."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
from psycopg import sql

from safemigrate.migrations import list_migrations
from safemigrate.pipeline.apply import apply_migrations
from safemigrate.pipeline.migrate import migrate
from safemigrate.pipeline.rollback import rollback
from safemigrate.pipeline.touch import KeyEdge, reached_by_keys
from safemigrate.sql import model as m

PATTERNS = Path(__file__).parents[2] / "fixtures" / "patterns"

LOGIN = """CREATE TABLE audit."Login" (id serial PRIMARY KEY, "userId" int REFERENCES app."User" (id) {action});
INSERT INTO audit."Login" ("userId") SELECT id FROM app."User";"""


def _project(tmp_path: Path, database_url: str, setup: str, pending: str) -> tuple[Path, str]:
    """The drop_column pattern on schema app: "User" (100 rows, emails u1..u100) from the first migration,
    ``setup`` run after it, ``pending`` the second migration's SQL."""
    project = tmp_path / "project"
    shutil.copytree(PATTERNS / "drop_column", project)
    (project / "safemigrate.toml").write_text(f'[backup]\nstore = "{tmp_path / "backups"}"\n')
    migrations = list_migrations(project / "prisma" / "migrations")
    migrations[1].sql_path.write_text(pending)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA app")
        conn.execute("SET search_path TO app")
        apply_migrations(conn, "app", migrations[:1])
        conn.execute("""INSERT INTO app."User" (email) SELECT 'u' || i FROM generate_series(1, 100) i""")
        conn.execute("CREATE SCHEMA audit")
        conn.execute(setup)
    return project, database_url + "?schema=app"


def _count(database_url: str, schema: str, table: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))).fetchone()
        assert row is not None
        return int(row[0])


def _refused(run: object, *parts: str) -> None:
    message = str(getattr(run, "message", ""))
    assert getattr(run, "verdict", None) == "refused", message
    assert getattr(run, "backup_id", "?") is None, message
    assert message.startswith('Refused: the pending migrations change tables in schema "audit"'), message
    assert "Nothing was changed." in message and "prisma migrate deploy" in message, message
    for part in parts:
        assert part in message, message


def test_an_on_delete_cascade_into_another_schema_refuses_the_run(tmp_path: Path, database_url: str) -> None:
    """The review's case: 12 rows of audit."Login" went with the deleted users, unbacked-up, and the run
    reported success."""
    setup = LOGIN.format(action="ON DELETE CASCADE")
    project, url = _project(tmp_path, database_url, setup, """DELETE FROM "User" WHERE email LIKE 'u1%';\n""")
    run = migrate(project, database_url=url, allow=("data-loss",), skip_dry_run=True)
    _refused(run, "audit.Login", "ON DELETE CASCADE from app.User (Login_userId_fkey)")
    assert _count(database_url, "app", "User") == 100 and _count(database_url, "audit", "Login") == 100


def test_a_truncate_cascade_into_another_schema_refuses_the_run(tmp_path: Path, database_url: str) -> None:
    setup = LOGIN.format(action="")
    project, url = _project(tmp_path, database_url, setup, 'TRUNCATE "User" CASCADE;\n')
    run = migrate(project, database_url=url, allow=("data-loss",), skip_dry_run=True)
    _refused(run, "audit.Login", "TRUNCATE ... CASCADE of app.User empties it")
    assert _count(database_url, "audit", "Login") == 100


def test_an_update_of_a_key_reaching_another_schema_refuses_the_run(tmp_path: Path, database_url: str) -> None:
    setup = LOGIN.format(action="ON UPDATE SET NULL")
    project, url = _project(tmp_path, database_url, setup, 'UPDATE "User" SET id = id + 1000;\n')
    run = migrate(project, database_url=url, allow=("data-loss",), skip_dry_run=True)
    _refused(run, "audit.Login", "ON UPDATE SET NULL from app.User (Login_userId_fkey)")
    with psycopg.connect(database_url) as conn:
        assert conn.execute("""SELECT count(*) FROM audit."Login" WHERE "userId" IS NULL""").fetchone() == (0,)


def test_drop_schema_of_another_schema_refuses_the_run(tmp_path: Path, database_url: str) -> None:
    """The review's case 2: DROP SCHEMA "audit" CASCADE ran with no backup, and no rollback brings it back."""
    setup = LOGIN.format(action="")
    project, url = _project(tmp_path, database_url, setup, 'DROP SCHEMA "audit" CASCADE;\n')
    run = migrate(project, database_url=url, allow=("data-loss",), skip_dry_run=True)
    _refused(run, "audit.Login", "DROP SCHEMA audit drops it")
    assert _count(database_url, "audit", "Login") == 100


def test_drop_type_cascade_with_a_column_in_another_schema_refuses_the_run(tmp_path: Path, database_url: str) -> None:
    setup = """CREATE TYPE app."Mood" AS ENUM ('ok', 'meh');
    CREATE TABLE audit."Feeling" (id int, mood app."Mood"); INSERT INTO audit."Feeling" VALUES (1, 'ok');"""
    project, url = _project(tmp_path, database_url, setup, 'DROP TYPE "Mood" CASCADE;\n')
    run = migrate(project, database_url=url, allow=("data-loss",), skip_dry_run=True)
    _refused(run, "audit.Feeling", "DROP TYPE ... CASCADE of app.Mood drops a part of it")
    with psycopg.connect(database_url) as conn:
        assert conn.execute("""SELECT mood::text FROM audit."Feeling" """).fetchall() == [("ok",)]


def test_drop_table_cascade_with_a_view_in_another_schema_refuses_the_run(tmp_path: Path, database_url: str) -> None:
    setup = """CREATE TABLE app."Note" (id int); CREATE VIEW audit."Notes" AS SELECT id FROM app."Note";"""
    project, url = _project(tmp_path, database_url, setup, 'DROP TABLE "Note" CASCADE;\n')
    run = migrate(project, database_url=url, allow=("data-loss",), skip_dry_run=True)
    _refused(run, "audit.Notes", "DROP TABLE ... CASCADE of app.Note drops")
    assert _count(database_url, "audit", "Notes") == 0  # still there


def test_a_cascade_within_the_urls_schema_is_backed_up_and_rolled_back(tmp_path: Path, database_url: str) -> None:
    """The same DELETE with app."Login" in the URL's schema: Login's rows go with the users, so the backup
    holds Login and the rollback restores its 100 rows."""
    setup = LOGIN.format(action="ON DELETE CASCADE").replace("audit.", "app.")
    project, url = _project(tmp_path, database_url, setup, """DELETE FROM "User" WHERE email LIKE 'u1%';\n""")
    run = migrate(project, database_url=url, allow=("data-loss",), skip_dry_run=True)
    assert run.verdict == "applied", run.message
    assert _count(database_url, "app", "Login") == 88
    undone = rollback(project, database_url=url, confirm=lambda preview: True)
    assert _count(database_url, "app", "User") == 100, undone
    assert _count(database_url, "app", "Login") == 100, undone


# --- the foreign-key walk, without a database ----------------------------------------------------------


def _statement(summary: m.Summary) -> list[tuple[str, m.Statement]]:
    return [("m/migration.sql", m.Statement(0, "", 1, 1, 1, 1, summary))]


def _edge(child: tuple[str, str], parent: tuple[str, str], on_delete: str = "a", on_update: str = "a") -> KeyEdge:
    return KeyEdge(child[0], child[1], ("parentId",), parent[0], parent[1], ("id",), on_delete, on_update, "fk")


def test_the_walk_follows_cascades_through_the_urls_schema_into_another() -> None:
    keys = [_edge(("app", "Session"), ("app", "User"), on_delete="c"), _edge(("audit", "Log"), ("app", "Session"), "n")]
    found = reached_by_keys(_statement(m.Delete(m.Name("User"), has_where=True)), "app", keys)
    assert [(e.table, e.why) for e in found] == [(m.Name("Log", "audit"), "ON DELETE SET NULL from app.Session (fk)")]


def test_an_update_of_other_columns_reaches_nothing() -> None:
    keys = [_edge(("audit", "Log"), ("app", "User"), on_update="c")]
    assert reached_by_keys(_statement(m.Update(m.Name("User"), ("email",), has_where=False)), "app", keys) == []
    found = reached_by_keys(_statement(m.Update(m.Name("User"), ("id",), has_where=False)), "app", keys)
    assert [e.table for e in found] == [m.Name("Log", "audit")]


def test_restrict_and_no_action_reach_nothing() -> None:
    keys = [_edge(("audit", "Log"), ("app", "User"), on_delete="r"), _edge(("audit", "Old"), ("app", "User"))]
    assert reached_by_keys(_statement(m.Delete(m.Name("User"), has_where=True)), "app", keys) == []
