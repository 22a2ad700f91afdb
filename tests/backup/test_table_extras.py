"""A table recreated by a restore gets back its triggers (and their enabled state), grants (table and
column level, PUBLIC, WITH GRANT OPTION), row-level security and policies, comments, storage
parameters, replica identity and owner; a table restored in place keeps what it has; a backup taken
before these were stored still restores."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from safemigrate.backup import Manifest, restore_backup, take_backup
from safemigrate.backup.manifest import TableExtras
from safemigrate.backup.store import MANIFEST
from safemigrate.db.catalog.snapshot import Table, take_snapshot
from safemigrate.db.url import parse_database_url
from safemigrate.errors import RestoreRefusedError
from tests.pgserver import PgServer

SCHEMA = """
CREATE TABLE audit_log (id serial PRIMARY KEY, what text NOT NULL);
CREATE FUNCTION audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO audit_log (what) VALUES (TG_NAME || ' ' || TG_OP || ' ' || NEW.id); RETURN NEW; END $$;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.body := NEW.body || '!'; RETURN NEW; END $$;
CREATE TABLE doc (id serial PRIMARY KEY, tenant text NOT NULL, body text, secret text)
    WITH (fillfactor = 70, toast.autovacuum_enabled = false);
CREATE TRIGGER doc_audit AFTER INSERT ON doc FOR EACH ROW EXECUTE FUNCTION audit_row();
CREATE TRIGGER doc_touch BEFORE UPDATE ON doc FOR EACH ROW WHEN (OLD.body IS DISTINCT FROM NEW.body)
    EXECUTE FUNCTION touch();
ALTER TABLE doc DISABLE TRIGGER doc_touch;
CREATE TRIGGER doc_always AFTER DELETE ON doc FOR EACH ROW EXECUTE FUNCTION audit_row();
ALTER TABLE doc ENABLE ALWAYS TRIGGER doc_always;
INSERT INTO doc (tenant, body, secret) SELECT 't' || i % 3, 'body ' || i, NULL FROM generate_series(1, 30) i;
GRANT SELECT ON doc TO {reader};
GRANT SELECT, INSERT ON doc TO {tenant} WITH GRANT OPTION;
GRANT UPDATE (body), SELECT (secret) ON doc TO {reader};
GRANT SELECT ON doc TO PUBLIC;
ALTER TABLE doc ENABLE ROW LEVEL SECURITY;
ALTER TABLE doc FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON doc AS PERMISSIVE FOR ALL TO {tenant}, {reader}
    USING (tenant = current_user) WITH CHECK (tenant = current_user);
CREATE POLICY no_secret ON doc AS RESTRICTIVE FOR SELECT TO PUBLIC USING (secret IS NULL);
COMMENT ON TABLE doc IS 'Documents: l''apostrophe ✓';
COMMENT ON COLUMN doc.body IS 'the text';
COMMENT ON CONSTRAINT doc_pkey ON doc IS 'one row per document';
COMMENT ON INDEX doc_pkey IS 'the primary key''s index';
COMMENT ON TRIGGER doc_audit ON doc IS 'writes audit_log';
COMMENT ON TRIGGER doc_touch ON doc IS 'marks edits';
COMMENT ON POLICY tenant_rows ON doc IS 'each tenant sees its own';
ALTER TABLE doc REPLICA IDENTITY FULL;
ALTER TABLE doc OWNER TO {owner};
CREATE TABLE tag (id int NOT NULL, name text);
CREATE UNIQUE INDEX tag_id ON tag (id);
ALTER TABLE tag REPLICA IDENTITY USING INDEX tag_id;
INSERT INTO tag VALUES (1, 'one');
"""

# What the catalog holds for a table besides its columns, read raw (the snapshot has no grants).
CATALOG = """
SELECT c.relacl::text, pg_get_userbyid(c.relowner)::text, c.reloptions, t.reloptions AS toast_options,
       c.relreplident::text, c.relrowsecurity, c.relforcerowsecurity, obj_description(c.oid, 'pg_class'),
       ARRAY(SELECT a.attname || ' ' || coalesce(a.attacl::text, '') || ' '
                    || coalesce(col_description(c.oid, a.attnum), '')
               FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum),
       ARRAY(SELECT g.tgname || ' ' || g.tgenabled::text || ' ' || pg_get_triggerdef(g.oid)
               FROM pg_trigger g WHERE g.tgrelid = c.oid AND NOT g.tgisinternal ORDER BY g.tgname),
       ARRAY(SELECT row(p.policyname, p.permissive, p.roles, p.cmd, p.qual, p.with_check)::text
               FROM pg_policies p WHERE p.tablename = c.relname ORDER BY p.policyname),
       (SELECT ic.relname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
         WHERE i.indrelid = c.oid AND i.indisreplident),
       ARRAY(SELECT d.classoid::regclass::text || ' ' || d.description
               FROM pg_description d
              WHERE d.objoid IN (SELECT oid FROM pg_constraint WHERE conrelid = c.oid
                                 UNION ALL SELECT indexrelid FROM pg_index WHERE indrelid = c.oid
                                 UNION ALL SELECT oid FROM pg_trigger WHERE tgrelid = c.oid
                                 UNION ALL SELECT oid FROM pg_policy WHERE polrelid = c.oid)
              ORDER BY 1)
  FROM pg_class c LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
 WHERE c.oid = %s::regclass
"""


@dataclass(frozen=True)
class Roles:
    owner: str
    reader: str
    tenant: str


@pytest.fixture
def roles(pg_server: PgServer) -> Iterator[Roles]:
    """Three roles with unique names (roles are cluster-wide), dropped at the end."""
    suffix = uuid.uuid4().hex[:8]
    made = Roles(f"owner_{suffix}", f"reader_{suffix}", f"tenant_{suffix}")
    names = (made.owner, made.reader, made.tenant)
    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        for name in names:
            admin.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(name)))
    try:
        yield made
    finally:
        with psycopg.connect(pg_server.url(), autocommit=True) as admin:
            for name in names:
                admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def _drop_owned(url: str, roles: Roles) -> None:
    """Before the roles go: what they own or were granted in this database."""
    with psycopg.connect(url, autocommit=True) as conn:
        for name in (roles.owner, roles.reader, roles.tenant):
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone():
                conn.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture
def source(database_url: str, roles: Roles) -> Iterator[str]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL(SCHEMA).format(
                owner=sql.Identifier(roles.owner),
                reader=sql.Identifier(roles.reader),
                tenant=sql.Identifier(roles.tenant),
            )
        )
    yield database_url
    _drop_owned(database_url, roles)


def _catalog(url: str, table: str) -> tuple[Any, ...]:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(CATALOG, [table]).fetchone()
    assert row is not None
    return tuple(row)


def _snapshot_table(url: str, name: str) -> Table:
    with psycopg.connect(url, autocommit=True) as conn:
        table = next(t for t in take_snapshot(conn).tables if t.name == name)
    return replace(table, estimated_rows=None, size_bytes=0)  # statistics, not structure


def _audit_rows(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM audit_log").fetchone()
    return int(row[0]) if row else -1


def _execute(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement.encode())


def _backup(url: str, store: Path) -> Manifest:
    return take_backup(parse_database_url(url), store)


def _restore(url: str, store: Path, **kwargs: Any) -> Any:
    return restore_backup(parse_database_url(url, source="--to-url"), store, **kwargs)


def test_the_backup_holds_the_extras(source: str, roles: Roles, tmp_path: Path) -> None:
    manifest = _backup(source, tmp_path / "store")
    entry = manifest.table("doc")
    assert entry is not None and entry.ddl.extras is not None
    extras = entry.ddl.extras
    assert extras.owner == roles.owner
    assert [(t.name, t.enabled, t.function) for t in extras.triggers] == [
        ("doc_always", "A", "public.audit_row()"),
        ("doc_audit", "O", "public.audit_row()"),
        ("doc_touch", "D", "public.touch()"),
    ]
    assert {(g.grantee, g.privileges, g.column, g.grantable) for g in extras.grants} == {
        (None, ("SELECT",), None, False),
        (roles.reader, ("SELECT",), None, False),
        (roles.tenant, ("INSERT", "SELECT"), None, True),
        (roles.reader, ("UPDATE",), "body", False),
        (roles.reader, ("SELECT",), "secret", False),
    }
    assert (extras.row_security, extras.force_row_security) == (True, True)
    assert [(p.name, p.permissive, p.command, p.to_public, p.roles) for p in extras.policies] == [
        ("no_secret", False, "SELECT", True, ()),
        ("tenant_rows", True, "ALL", False, tuple(sorted((roles.reader, roles.tenant)))),
    ]
    assert extras.comment == "Documents: l'apostrophe ✓"
    assert [(c.column, c.comment) for c in extras.column_comments] == [("body", "the text")]
    assert [(c.kind, c.name, c.comment) for c in extras.object_comments] == [
        ("constraint", "doc_pkey", "one row per document"),
        ("index", "doc_pkey", "the primary key's index"),
        ("policy", "tenant_rows", "each tenant sees its own"),
        ("trigger", "doc_audit", "writes audit_log"),
        ("trigger", "doc_touch", "marks edits"),
    ]
    assert set(extras.reloptions) == {"fillfactor=70", "toast.autovacuum_enabled=false"}
    assert extras.replica_identity == "f"
    tag = manifest.table("tag")
    assert tag is not None and tag.ddl.extras is not None
    assert (tag.ddl.extras.replica_identity, tag.ddl.extras.replica_identity_index) == ("i", "tag_id")
    again = Manifest.from_dict(json.loads(manifest.to_json()), "manifest.json")
    assert again == manifest, "the extras survive the manifest's JSON"


def test_a_dropped_table_comes_back_with_its_extras(source: str, tmp_path: Path) -> None:
    store = tmp_path / "store"
    before = {name: (_catalog(source, name), _snapshot_table(source, name)) for name in ("doc", "tag")}
    _backup(source, store)
    audit_before = _audit_rows(source)
    _execute(source, "DROP TABLE doc, tag")
    result = _restore(source, store, tables=["doc", "tag"])
    assert [t.recreated for t in result.tables] == [True, True]
    assert result.warnings == ()
    for name in ("doc", "tag"):
        catalog, table = before[name]
        assert _catalog(source, name) == catalog, f"{name}: grants, owner, options, comments, triggers, policies"
        assert _snapshot_table(source, name) == table, f"{name}: the snapshot sees the same table"
    assert _audit_rows(source) == audit_before, "no trigger fired while the rows were loaded"
    _execute(source, "INSERT INTO doc (tenant, body) VALUES ('t1', 'after')")
    assert _audit_rows(source) == audit_before + 1, "the audit trigger fires again"


def test_default_privileges_of_the_restoring_role_are_taken_back(source: str, roles: Roles, tmp_path: Path) -> None:
    store = tmp_path / "store"
    before = _catalog(source, "doc")
    _backup(source, store)
    _execute(source, "DROP TABLE doc")
    _execute(source, f'ALTER DEFAULT PRIVILEGES GRANT DELETE ON TABLES TO "{roles.reader}"')
    try:
        _restore(source, store, tables=["doc"])
        assert _catalog(source, "doc") == before
    finally:
        _execute(source, f'ALTER DEFAULT PRIVILEGES REVOKE DELETE ON TABLES FROM "{roles.reader}"')


def test_a_table_restored_in_place_keeps_what_it_has(source: str, tmp_path: Path) -> None:
    store = tmp_path / "store"
    _backup(source, store)
    _execute(source, "DROP POLICY no_secret ON doc; DROP TRIGGER doc_always ON doc; COMMENT ON TABLE doc IS 'now'")
    now = _catalog(source, "doc")
    result = _restore(source, store, tables=["doc"])
    assert [t.recreated for t in result.tables] == [False]
    assert _catalog(source, "doc") == now, "no trigger or policy added twice, nothing put back"


def test_a_missing_trigger_function_is_a_warning_or_stops_the_restore(source: str, tmp_path: Path) -> None:
    """Left out with a warning by default (a fresh target, backup --verify's scratch database); refused
    when asked (rollback)."""
    store = tmp_path / "store"
    _backup(source, store)
    _execute(source, "DROP TABLE doc; DROP FUNCTION touch()")
    with pytest.raises(RestoreRefusedError) as caught:
        _restore(source, store, tables=["doc"], table_extras="apply")
    assert caught.value.message == (
        "Table 'doc' had trigger 'doc_touch', whose function public.touch() does not exist here, so the table "
        "cannot be recreated as it was; nothing was restored."
    )
    with psycopg.connect(source, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('doc')").fetchone() == (None,), "rolled back"
    result = _restore(source, store, tables=["doc"])
    assert result.warnings == (
        "table 'doc': trigger 'doc_touch' was left out: its function public.touch() does not exist here.",
        "table 'doc': the comment on trigger 'doc_touch' was left out: that trigger is not there.",
    )
    with psycopg.connect(source, autocommit=True) as conn:
        found = conn.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = 'doc'::regclass AND NOT tgisinternal")
        assert sorted(r[0] for r in found) == ["doc_always", "doc_audit"]


def test_a_role_that_is_gone_is_a_warning(source: str, roles: Roles, tmp_path: Path) -> None:
    store = tmp_path / "store"
    _backup(source, store)
    _execute(source, f'DROP TABLE doc; DROP ROLE "{roles.reader}"')
    result = _restore(source, store, tables=["doc"])
    assert result.warnings == (
        f"table 'doc': the grant of SELECT to role {roles.reader!r} was left out: that role does not exist here.",
        f"table 'doc': the grant of UPDATE on column 'body' to role {roles.reader!r} was left out: that role does "
        "not exist here.",
        f"table 'doc': the grant of SELECT on column 'secret' to role {roles.reader!r} was left out: that role does "
        "not exist here.",
        f"table 'doc': policy 'tenant_rows' was created without {roles.reader}: role(s) {roles.reader} do not exist "
        "here (a policy applies to nobody through a missing role).",
    )
    with psycopg.connect(source, autocommit=True) as conn:
        policy = conn.execute("SELECT roles::text[] FROM pg_policies WHERE policyname = 'tenant_rows'").fetchone()
    assert policy == ([roles.tenant],)


def test_an_owner_the_restoring_role_may_not_give_it_to_is_a_warning(
    source: str, roles: Roles, pg_server: PgServer, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    _backup(source, store)
    restorer = f"restorer_{uuid.uuid4().hex[:8]}"
    database = urlsplit(source).path.lstrip("/")
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'restorer-pw'").format(sql.Identifier(restorer)))
        conn.execute(sql.SQL("GRANT CREATE ON SCHEMA public TO {}").format(sql.Identifier(restorer)))
        conn.execute("DROP TABLE doc")
    parts = urlsplit(source)
    as_restorer = urlunsplit(parts._replace(netloc=f"{restorer}:restorer-pw@{parts.hostname}:{parts.port}"))
    try:
        result = _restore(as_restorer, store, tables=["doc"])
        assert result.warnings == (
            f"table 'doc' is owned by {restorer!r}, not by {roles.owner!r} as when backed up ({restorer!r} may not "
            f'give it); to give it back, run as a member of {roles.owner!r}: ALTER TABLE "public"."doc" OWNER TO '
            f'"{roles.owner}";',
        )
        with psycopg.connect(source, autocommit=True) as conn:
            row = conn.execute(
                "SELECT pg_get_userbyid(relowner), relforcerowsecurity FROM pg_class WHERE oid = 'doc'::regclass"
            ).fetchone()
        assert row == (restorer, True), "kept going: everything else is back"
    finally:
        with psycopg.connect(pg_server.url(database), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(restorer)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(restorer)))


def test_a_backup_taken_before_extras_were_stored_still_restores(source: str, tmp_path: Path) -> None:
    store = tmp_path / "store"
    manifest = _backup(source, store)
    path = store / manifest.id / MANIFEST
    document = json.loads(path.read_text("utf-8"))
    for table in document["tables"]:
        del table["ddl"]["extras"]
    path.write_text(json.dumps(document), "utf-8")
    _execute(source, "DROP TABLE doc")
    result = _restore(source, store, tables=["doc"])
    assert [t.recreated for t in result.tables] == [True] and result.warnings == ()
    with psycopg.connect(source, autocommit=True) as conn:
        found = conn.execute("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'doc'::regclass AND NOT tgisinternal")
        assert found.fetchone() == (0,), "restored as before: nothing to re-apply"
        assert conn.execute("SELECT count(*) FROM doc").fetchone() == (30,)


def test_backup_verify_of_a_table_with_a_trigger_still_verifies(source: str, tmp_path: Path) -> None:
    """The scratch database has none of the source's functions: the trigger is left out there."""
    from safemigrate.backup.stores import LocalStore
    from safemigrate.backup.verify import verify_backup

    store = tmp_path / "store"
    manifest = _backup(source, store)
    verified = verify_backup(parse_database_url(source), LocalStore(store), manifest)
    assert verified.manifest.verified is True


def test_unknown_keys_in_the_extras_are_ignored() -> None:
    """A newer safemigrate may store more per table: this one reads what it knows."""
    extras = TableExtras.from_dict({"owner": "app", "row_security": True, "some_future_key": [1, 2]})
    assert extras == TableExtras("app", row_security=True)


def test_the_restore_command_shows_what_it_left_out(source: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    project = tmp_path / "app"
    project.mkdir()
    (project / "safemigrate.toml").write_text(f'[backup]\nstore = "{tmp_path / "store"}"\n')
    manifest = _backup(source, tmp_path / "store")
    _execute(source, "DROP TABLE doc; DROP FUNCTION touch()")
    command = ["restore", "--id", manifest.id, "--tables", "doc", "--yes", "--project", str(project)]
    done = subprocess.run(
        [sys.executable, "-m", "safemigrate", *command, "--database-url", source],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (
        "warning: table 'doc': trigger 'doc_touch' was left out: its function public.touch() does not exist here."
        in done.stderr.splitlines()
    )


def test_an_unlogged_table_comes_back_unlogged(database_url: str, tmp_path: Path) -> None:
    _execute(
        database_url, "CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY, v text); INSERT INTO scratch VALUES (1, 'a')"
    )
    store = tmp_path / "store"
    _backup(database_url, store)
    _execute(database_url, "DROP TABLE scratch")
    _restore(database_url, store, tables=["scratch"])
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute("SELECT relpersistence::text FROM pg_class WHERE oid = 'scratch'::regclass").fetchone() == (
            "u",
        )
        assert conn.execute("SELECT * FROM scratch").fetchall() == [(1, "a")]
