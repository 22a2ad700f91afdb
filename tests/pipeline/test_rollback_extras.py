"""`rollback` drops each backed-up table and recreates it from the backup: the table keeps its
triggers, grants, row-level security, policies, comments and storage parameters; and a run that
dropped a policy or turned row-level security off can now be rolled back, when its backup holds them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from safemigrate.backup.project import project_backups
from safemigrate.db.catalog.snapshot import Table, take_snapshot
from safemigrate.errors import RestoreRefusedError
from safemigrate.migrations import list_migrations
from safemigrate.pipeline import rollback as rollback_module
from safemigrate.pipeline.apply import apply_migrations
from safemigrate.pipeline.migrate import migrate
from safemigrate.pipeline.rollback import rollback
from tests.pgserver import PgServer, throwaway_roles

PATTERNS = Path(__file__).parents[2] / "fixtures" / "patterns"
EXTRAS = """
CREATE TABLE audit_log (id serial PRIMARY KEY, what text NOT NULL);
CREATE FUNCTION audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO audit_log (what) VALUES (TG_NAME || ' ' || TG_OP); RETURN NEW; END $$;
INSERT INTO "User" (email, nickname) SELECT 'u' || i || '@example.com', 'nick ' || i FROM generate_series(1, 20) i;
CREATE TRIGGER user_audit AFTER INSERT OR UPDATE ON "User" FOR EACH ROW EXECUTE FUNCTION audit_row();
CREATE TRIGGER user_audit_off AFTER DELETE ON "User" FOR EACH ROW EXECUTE FUNCTION audit_row();
ALTER TABLE "User" DISABLE TRIGGER user_audit_off;
GRANT SELECT, INSERT, UPDATE ON "User" TO {app};
GRANT SELECT (email) ON "User" TO {reporting};
ALTER TABLE "User" ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON "User" FOR ALL TO {app} USING (email = current_user) WITH CHECK (email = current_user);
COMMENT ON TABLE "User" IS 'people';
COMMENT ON COLUMN "User".email IS 'unique per person';
ALTER TABLE "User" SET (fillfactor = 80);
"""

CATALOG = """
SELECT c.relacl::text, pg_get_userbyid(c.relowner)::text, c.reloptions, c.relrowsecurity, c.relforcerowsecurity,
       obj_description(c.oid, 'pg_class'),
       ARRAY(SELECT a.attname || ' ' || coalesce(a.attacl::text, '') || ' '
                    || coalesce(col_description(c.oid, a.attnum), '')
               FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum),
       ARRAY(SELECT g.tgname || ' ' || g.tgenabled::text || ' ' || pg_get_triggerdef(g.oid)
               FROM pg_trigger g WHERE g.tgrelid = c.oid AND NOT g.tgisinternal ORDER BY g.tgname),
       ARRAY(SELECT row(p.policyname, p.permissive, p.roles, p.cmd, p.qual, p.with_check)::text
               FROM pg_policies p WHERE p.tablename = c.relname ORDER BY p.policyname)
  FROM pg_class c WHERE c.oid = '"User"'::regclass
"""


@pytest.fixture
def roles(pg_server: PgServer, database_url: str) -> Iterator[tuple[str, str]]:
    """Two roles with unique names (roles are cluster-wide), dropped at the end with what they hold."""
    with throwaway_roles(pg_server, database_url, "app", "reporting") as (first, second):
        yield first, second


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(PATTERNS / "drop_column", project)
    (project / "safemigrate.toml").write_text(f'[backup]\nstore = "{tmp_path / "backups"}"\n')
    return project


def _catalog(url: str) -> tuple[Any, ...]:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(CATALOG).fetchone()
    assert row is not None
    return tuple(row)


def _user_table(url: str) -> Table:
    with psycopg.connect(url, autocommit=True) as conn:
        table = next(t for t in take_snapshot(conn).tables if t.name == "User")
    return replace(table, estimated_rows=None, size_bytes=0)  # statistics, not structure


def _audit_rows(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM audit_log").fetchone()
    return int(row[0]) if row else -1


def _deployed_with_extras(tmp_path: Path, database_url: str, roles: tuple[str, str]) -> Path:
    """The project with its first migration applied and the User table's extras added by hand."""
    app, reporting = roles
    project = _project(tmp_path)
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
        conn.execute(sql.SQL(EXTRAS).format(app=sql.Identifier(app), reporting=sql.Identifier(reporting)))
    return project


def test_rollback_keeps_the_tables_triggers_grants_and_policy(
    tmp_path: Path, database_url: str, roles: tuple[str, str]
) -> None:
    app, reporting = roles
    project = _deployed_with_extras(tmp_path, database_url, roles)
    catalog, table = _catalog(database_url), _user_table(database_url)
    run = migrate(project, database_url=database_url, allow=("data-loss",))
    assert run.verdict == "applied", run.message
    assert _user_table(database_url) != table, "the migration dropped a column"
    audited = _audit_rows(database_url)

    result = rollback(project, database_url=database_url, confirm=lambda preview: True)
    assert result.restored == ("User",) and result.warnings == ()
    assert _catalog(database_url) == catalog, "triggers (one disabled), grants, policy, comments, fillfactor"
    assert _user_table(database_url) == table, "the snapshot sees the table as before the run"
    assert _audit_rows(database_url) == audited, "the rows came back without firing the audit trigger"
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute(
            "SELECT has_table_privilege(%s, '\"User\"', 'INSERT'), has_column_privilege(%s, '\"User\"', 'email', "
            "'SELECT'), has_column_privilege(%s, '\"User\"', 'nickname', 'SELECT')",
            [app, reporting, reporting],
        ).fetchone() == (True, True, False)
        conn.execute("""UPDATE "User" SET email = email WHERE id = 1""")
    assert _audit_rows(database_url) == audited + 1, "the audit trigger fires again"


def test_a_trigger_function_dropped_since_stops_the_rollback(
    tmp_path: Path, database_url: str, roles: tuple[str, str]
) -> None:
    project = _deployed_with_extras(tmp_path, database_url, roles)
    run = migrate(project, database_url=database_url, allow=("data-loss",))
    assert run.verdict == "applied", run.message
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP FUNCTION audit_row() CASCADE")  # by hand, with its triggers
    table = _user_table(database_url)
    with pytest.raises(RestoreRefusedError) as caught:
        rollback(project, database_url=database_url, confirm=lambda preview: True)
    assert caught.value.message == (
        "Table 'User' had trigger 'user_audit', whose function public.audit_row() does not exist here, so the "
        "table cannot be recreated as it was; nothing was restored."
    )
    assert _user_table(database_url) == table, "nothing changed"


@pytest.mark.parametrize("kind", ["policy_dropped", "policy_changed", "row_security_changed"])
def test_a_backup_holding_the_security_undoes_a_policy_change(kind: str) -> None:
    run = {"id": "r1", "schema_changes": [{"kind": kind, "schema": "public", "table": "T", "policy": "p"}]}
    rollback_module.refuse_unundoable(run, {"T"}, secured={"T"})  # the recreated table gets it back
    with pytest.raises(RestoreRefusedError):
        rollback_module.refuse_unundoable(run, {"T"})  # a backup taken before policies were stored
    with pytest.raises(RestoreRefusedError):
        rollback_module.refuse_unundoable(
            {"id": "r1", "schema_changes": [{"kind": kind, "schema": "public", "table": "Other", "policy": "p"}]},
            {"T"},
            secured={"T"},
        )


def test_a_run_that_removed_inheritance_is_rolled_back_with_the_link(tmp_path: Path, database_url: str) -> None:
    """The backup holds "User"'s INHERITS parent: the recreated table is linked to it again."""
    project = _project(tmp_path)
    pending = list_migrations(project / "prisma" / "migrations")[1].sql_path
    pending.write_text('ALTER TABLE "User" NO INHERIT "Person";\n' + pending.read_text())
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
        conn.execute("""CREATE TABLE "Person" (email text NOT NULL); ALTER TABLE "User" INHERIT "Person";""")
        conn.execute("""INSERT INTO "User" (email) VALUES ('a@example.com'), ('b@example.com')""")
    run = migrate(project, database_url=database_url, allow=("data-loss",))
    assert run.verdict == "applied", run.message

    result = rollback(project, database_url=database_url, confirm=lambda preview: True)
    assert set(result.restored) == {"Person", "User"} and result.warnings == ()  # the parent is backed up too
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute("""SELECT count(*) FROM "Person" """).fetchone() == (2,)  # through the link
        assert conn.execute("SELECT inhparent::regclass::text FROM pg_inherits").fetchall() == [('"Person"',)]

    stale = {"id": "r1", "schema_changes": [{"kind": "inheritance_removed", "table": "User", "parent": 'public."X"'}]}
    with pytest.raises(RestoreRefusedError, match="inheritance is not in the backup"):
        rollback_module.refuse_unundoable(stale, {"User"}, parents={"User": {("public", "Person")}})


@pytest.mark.parametrize(
    ("pending", "child"),
    [
        ('ALTER TABLE "User" DROP COLUMN "nickname";\n', "Admin"),  # reaches "Admin", which inherits the column
        ("DELETE FROM \"User\" WHERE email = 'a@example.com';\n", "Admin"),  # deletes "Admin"'s row through "User"
        ('ALTER TABLE "User" DROP COLUMN "nickname";\n', "Zadmin"),  # dropped with "User" before its own turn
    ],
    ids=["alter-the-parent", "delete-through-the-parent", "child-after-the-parent-by-name"],
)
def test_a_change_to_a_parent_reaches_its_inheritance_child_and_is_verified(
    tmp_path: Path, database_url: str, pending: str, child: str
) -> None:
    """The verification counted the child as untouched, saw its data change and rolled back a good migration."""
    project = _project(tmp_path)
    list_migrations(project / "prisma" / "migrations")[1].sql_path.write_text(pending)
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
        conn.execute(sql.SQL('CREATE TABLE {} (level int) INHERITS ("User")').format(sql.Identifier(child)))
        conn.execute(
            sql.SQL("INSERT INTO {} (email, nickname, level) VALUES ('a@example.com', 'boss', 1)").format(
                sql.Identifier(child)
            )
        )
        conn.execute("""INSERT INTO "User" (email, nickname) VALUES ('u@example.com', 'user')""")
    run = migrate(project, database_url=database_url, allow=("data-loss",))
    assert run.verdict == "applied", run.message
    # What reached "User" reached the child's rows: the pre-migrate backup holds both, and a rollback
    # (which recreates "User") puts the child back too, linked.
    (backup,) = [b for b in project_backups(project) if b.id == run.backup_id]
    assert {t.name for t in backup.tables} == {"User", child}
    previews: list[Any] = []
    rollback(project, database_url=database_url, confirm=lambda preview: previews.append(preview) or True)
    # Each table's own rows, as the backup counts them (not the child's through the parent).
    child_rows_now = 0 if pending.startswith("DELETE") else 1  # the DELETE through "User" took the child's row
    assert {(loss.table, loss.rows_now, loss.rows_in_backup) for loss in previews[0].losses} == {
        ("User", 1, 1),
        (child, child_rows_now, 1),
    }
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute(sql.SQL("SELECT nickname FROM {}").format(sql.Identifier(child))).fetchall() == [("boss",)]
        assert conn.execute("""SELECT count(*) FROM "User" """).fetchone() == (2,)
