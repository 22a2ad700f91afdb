"""Row-level security never makes a backup partial: rows a policy hides from the backing-up role stop
the backup with one sentence (as pg_dump's ``row_security = off`` does), and nothing is saved."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from safemigrate.backup import take_backup
from safemigrate.backup.take import _begin_snapshot
from safemigrate.db.url import parse_database_url
from safemigrate.errors import EXIT_USAGE, DatabasePermissionError

PASSWORD = "rls-test-pw"
# Three rows, one of which the policy shows to the owner (its name is written into the row).
TABLE = """
CREATE TABLE doc (id int PRIMARY KEY, owner_name text NOT NULL);
INSERT INTO doc VALUES (1, {owner_name}), (2, 'alice'), (3, 'bob');
CREATE TABLE plain (id int PRIMARY KEY);
INSERT INTO plain VALUES (1), (2);
ALTER TABLE doc ENABLE ROW LEVEL SECURITY;
CREATE POLICY mine ON doc USING (owner_name = current_user);
GRANT SELECT ON doc, plain TO {reader}, {bypasser};
ALTER TABLE doc OWNER TO {owner};
ALTER TABLE plain OWNER TO {owner};
"""


@dataclass(frozen=True)
class Roles:
    owner: str
    reader: str  # SELECT only, no BYPASSRLS
    bypasser: str  # SELECT and BYPASSRLS


@pytest.fixture
def roles(database_url: str) -> Iterator[Roles]:
    """Login roles with unique names (roles are cluster-wide) owning or reading ``doc``, dropped at the end."""
    suffix = uuid.uuid4().hex[:8]
    made = Roles(f"rls_owner_{suffix}", f"rls_reader_{suffix}", f"rls_bypass_{suffix}")
    names = (made.owner, made.reader, made.bypasser)
    with psycopg.connect(database_url, autocommit=True) as admin:
        for name in names:
            bypass = sql.SQL(" BYPASSRLS" if name == made.bypasser else "")
            admin.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}{}").format(
                    sql.Identifier(name), sql.Literal(PASSWORD), bypass
                )
            )
        admin.execute(
            sql.SQL(TABLE).format(
                owner_name=sql.Literal(made.owner),
                owner=sql.Identifier(made.owner),
                reader=sql.Identifier(made.reader),
                bypasser=sql.Identifier(made.bypasser),
            )
        )
    try:
        yield made
    finally:
        with psycopg.connect(database_url, autocommit=True) as admin:
            for name in names:
                admin.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(name)))
                admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def _as(database_url: str, role: str) -> str:
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(netloc=f"{role}:{PASSWORD}@{parts.hostname}:{parts.port}"))


def _force(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE doc FORCE ROW LEVEL SECURITY")


def _nothing_saved(store: Path) -> bool:
    return not list(store.glob("*/manifest.json")) and not list(store.glob(".*.partial"))


def _refused(url: str, store: Path, role: str, jobs: int) -> None:
    store.mkdir()
    with pytest.raises(DatabasePermissionError) as raised:
        take_backup(parse_database_url(url), store, tables=["plain", "doc"], jobs=jobs)
    assert raised.value.sqlstate == "42501"
    assert raised.value.message == (
        f"Row-level security hides rows of table 'doc' from the role {role!r}, "
        "so a backup taken by it would leave them out; nothing was saved."
    )
    assert raised.value.hint == (
        "Back up as a superuser, as a role with BYPASSRLS, or as the table's owner "
        "when the table does not FORCE ROW LEVEL SECURITY."
    )
    assert _nothing_saved(store)


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_owner_of_a_table_that_forces_row_security_is_refused(
    database_url: str, roles: Roles, tmp_path: Path, jobs: int
) -> None:
    _force(database_url)
    _refused(_as(database_url, roles.owner), tmp_path / "store", roles.owner, jobs)


def test_a_reader_without_bypassrls_is_refused(database_url: str, roles: Roles, tmp_path: Path) -> None:
    _refused(_as(database_url, roles.reader), tmp_path / "store", roles.reader, 1)


@pytest.mark.parametrize("who", ["superuser", "bypasser"])
def test_a_superuser_or_a_bypassrls_role_backs_up_every_row(
    database_url: str, roles: Roles, tmp_path: Path, who: str
) -> None:
    _force(database_url)
    url = database_url if who == "superuser" else _as(database_url, roles.bypasser)
    manifest = take_backup(parse_database_url(url), tmp_path / "store", tables=["doc"], jobs=2)
    (entry,) = manifest.tables
    assert entry.rows == 3


def test_the_owner_of_a_table_that_does_not_force_row_security_backs_up_every_row(
    database_url: str, roles: Roles, tmp_path: Path
) -> None:
    manifest = take_backup(parse_database_url(_as(database_url, roles.owner)), tmp_path / "store", jobs=1)
    assert {entry.name: entry.rows for entry in manifest.tables} == {"doc": 3, "plain": 2}


def test_backup_sessions_turn_row_security_off(database_url: str) -> None:
    # Should a policy appear after the check, the server then raises an error rather than filter rows.
    with psycopg.connect(database_url) as conn:
        _begin_snapshot(conn, None)
        assert conn.execute("SELECT current_setting('row_security')").fetchone() == ("off",)


def test_the_command_line_says_it_in_one_line(database_url: str, roles: Roles, tmp_path: Path) -> None:
    _force(database_url)
    url = _as(database_url, roles.owner)
    args = ["backup", "--tables", "doc", "--database-url", url, "--project", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-m", "safemigrate", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == EXIT_USAGE, done.stderr
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: Row-level security hides rows of table 'doc'")
    assert "Traceback" not in done.stderr and "BYPASSRLS" in done.stderr and done.stdout == ""
    assert PASSWORD not in done.stderr
    assert _nothing_saved(tmp_path / ".safemigrate" / "backups")


def test_a_restore_into_a_table_whose_row_security_applies_is_refused(
    database_url: str, roles: Roles, tmp_path: Path
) -> None:
    """Backed up by a superuser (every row), restored by the owner of a table that forces row-level
    security: COPY FROM refuses such a table and the check would see a subset; refused by name first."""
    from safemigrate.backup import restore_backup
    from safemigrate.errors import RestoreRefusedError

    store = tmp_path / "store"
    take_backup(parse_database_url(database_url), store, tables=["doc"])
    _force(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM doc WHERE id = 3")
    with pytest.raises(RestoreRefusedError) as refused:
        restore_backup(parse_database_url(_as(database_url, roles.owner), source="--to-url"), store)
    assert refused.value.message == (
        f"Row-level security applies to the role {roles.owner!r} on table 'doc', so the restore could neither load "
        "every row nor check them; nothing was restored."
    )
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute("SELECT id FROM doc ORDER BY id").fetchall() == [(1,), (2,)]
    # A superuser restores every row.
    restore_backup(parse_database_url(database_url, source="--to-url"), store)
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute("SELECT id FROM doc ORDER BY id").fetchall() == [(1,), (2,), (3,)]
