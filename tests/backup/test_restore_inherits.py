"""A recreated table gets its INHERITS links back, on a real PostgreSQL server: SELECT from a parent
returns the restored child's rows again, the child keeps its backed-up column order (and with it its
fingerprint), a parent that is not there or no longer fits leaves the child plain with a warning,
and a manifest written before the parents were stored still restores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg

from safemigrate.backup import restore_backup, take_backup
from safemigrate.backup.manifest import Manifest, ParentTable
from safemigrate.db.fingerprint import fingerprint
from safemigrate.db.url import parse_database_url

# "Admin" inherits from two tables, in that order; "Root" from "Admin". "User" gets a column after
# its children were created (the last column of each, after their own) and a check added NOT VALID
# over a row that breaks it (on the children too: the link needs it there).
FAMILY = """
CREATE TABLE "User" (id serial PRIMARY KEY, email text NOT NULL CHECK (email <> ''));
CREATE TABLE "Person" (nickname text);
CREATE TABLE "Admin" (level int CHECK (level > 0)) INHERITS ("User", "Person");
CREATE TABLE "Root" (since int) INHERITS ("Admin");
ALTER TABLE "User" ADD COLUMN joined int;
INSERT INTO "User" (email) VALUES ('u@example.com');
INSERT INTO "Person" VALUES ('pat');
INSERT INTO "Admin" (id, email, nickname, level, joined) VALUES (-1, 'a@example.com', 'al', 2, 2020);
INSERT INTO "Root" (email, level, since, joined) VALUES ('r@example.com', 9, 1999, 2021);
ALTER TABLE "User" ADD CONSTRAINT "User_id_positive" CHECK (id > 0) NOT VALID;
"""

INHERITANCE = """
SELECT c.relname::text, p.relname::text, i.inhseqno
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
 ORDER BY c.relname COLLATE "C", i.inhseqno
"""
COLUMNS = """
SELECT c.relname::text, a.attnum, a.attname::text, a.attnotnull, a.attinhcount
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY c.relname COLLATE "C", a.attnum
"""
CHECKS = """
SELECT c.relname::text, con.conname::text, pg_get_constraintdef(con.oid), con.coninhcount
  FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
 WHERE c.relnamespace = 'public'::regnamespace AND con.contype = 'c'
 ORDER BY c.relname COLLATE "C", con.conname COLLATE "C"
"""
# The rows each table holds itself, and the rows SELECT from it returns (its descendants' too).
COUNTS = """
SELECT (SELECT count(*) FROM ONLY "User"), (SELECT count(*) FROM "User"),
       (SELECT count(*) FROM ONLY "Person"), (SELECT count(*) FROM "Person"),
       (SELECT count(*) FROM ONLY "Admin"), (SELECT count(*) FROM "Admin")
"""


def _run(url: str, statements: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statements)


def _rows(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query).fetchall()


def _structure(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """What the links change: pg_inherits, columns (order, NOT NULL, inherited), checks, counts."""
    queries = {"inherits": INHERITANCE, "columns": COLUMNS, "checks": CHECKS, "counts": COUNTS}
    return {name: _rows(url, query) for name, query in queries.items()}


def _prints(url: str) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        return {t["table"]: t for t in fingerprint(conn).to_dict()["tables"]}


def _backup(url: str, store: Path) -> Manifest:
    return take_backup(parse_database_url(url), store)


def _restore(url: str, store: Path, **kwargs: Any) -> Any:
    return restore_backup(parse_database_url(url, source="--to-url"), store, **kwargs)


def test_a_recreated_child_is_linked_to_its_present_parent(database_url: str, tmp_path: Path) -> None:
    _run(database_url, FAMILY)
    before, prints = _structure(database_url), _prints(database_url)
    assert before["counts"] == [(1, 3, 1, 3, 1, 2)]
    store = tmp_path / "store"
    _backup(database_url, store)
    _run(database_url, 'DROP TABLE "Root"')
    assert _rows(database_url, COUNTS) == [(1, 2, 1, 2, 1, 1)]  # Root's row is gone from its ancestors
    result = _restore(database_url, store, tables=["Root"])
    assert [(t.name, t.recreated) for t in result.tables] == [("Root", True)]
    assert result.warnings == ()
    # linked again: SELECT from "User", "Person" and "Admin" returns Root's row; columns, checks, counts as before
    assert _structure(database_url) == before
    assert _prints(database_url) == prints


def test_parents_and_children_restored_into_an_empty_database_are_linked(
    database_url: str, other_database: str, tmp_path: Path
) -> None:
    _run(database_url, FAMILY)
    store = tmp_path / "store"
    manifest = _backup(database_url, store)
    admin = manifest.table("Admin")
    assert admin is not None and admin.ddl.parents == (ParentTable("public", "User"), ParentTable("public", "Person"))
    result = _restore(other_database, store)
    assert result.warnings == ()
    assert _structure(other_database) == _structure(database_url)
    assert _rows(other_database, INHERITANCE) == [("Admin", "User", 1), ("Admin", "Person", 2), ("Root", "Admin", 1)]
    assert _prints(other_database) == _prints(database_url)


def test_a_parent_that_is_not_there_leaves_the_child_plain_with_a_warning(database_url: str, tmp_path: Path) -> None:
    _run(database_url, FAMILY)
    store = tmp_path / "store"
    _backup(database_url, store)
    _run(database_url, 'DROP TABLE "Admin" CASCADE')  # Root goes with it; only Root is restored
    result = _restore(database_url, store, tables=["Root"])
    assert result.warnings == (
        """table 'Root' was recreated without inheriting from public.Admin (that table is not there: restore or """
        """create it first), so SELECT from public.Admin does not return its rows; to link them: """
        """ALTER TABLE "public"."Root" INHERIT "public"."Admin";""",
    )
    assert _rows(database_url, INHERITANCE) == []
    assert _rows(database_url, 'SELECT email, level, since, joined FROM "Root"') == [("r@example.com", 9, 1999, 2021)]


def test_a_parent_that_no_longer_fits_leaves_the_child_plain_with_a_warning(database_url: str, tmp_path: Path) -> None:
    _run(database_url, FAMILY)
    store = tmp_path / "store"
    _backup(database_url, store)
    # The "Admin" there now has a column the backed-up "Root" lacks: ALTER TABLE ... INHERIT refuses it.
    _run(database_url, 'DROP TABLE "Admin" CASCADE; CREATE TABLE "Admin" (id int, email text, badge text)')
    result = _restore(database_url, store, tables=["Root"])
    (warning,) = result.warnings
    assert warning.startswith(
        "table 'Root' was recreated without inheriting from public.Admin (PostgreSQL refused the link: "
        'child table is missing column "badge"), so SELECT from public.Admin does not return its rows'
    )
    assert _rows(database_url, INHERITANCE) == []
    assert _rows(database_url, 'SELECT count(*) FROM "Root"') == [(1,)]


def test_a_manifest_written_before_parents_were_stored_still_restores(
    database_url: str, other_database: str, tmp_path: Path
) -> None:
    _run(database_url, FAMILY)
    store = tmp_path / "store"
    taken = _backup(database_url, store)
    path = store / taken.id / "manifest.json"
    data = json.loads(path.read_text())
    assert [t["ddl"]["parents"] for t in data["tables"]] == [
        [{"schema": "public", "name": "User"}, {"schema": "public", "name": "Person"}],
        [],
        [{"schema": "public", "name": "Admin"}],
        [],
    ]
    for table in data["tables"]:
        del table["ddl"]["parents"]
    path.write_text(json.dumps(data))
    assert all(t.ddl.parents == () for t in Manifest.from_dict(data, str(path)).tables)
    result = _restore(other_database, store)
    assert result.warnings == ()
    assert _rows(other_database, INHERITANCE) == []  # plain tables, as such a backup was restored before
    assert _rows(other_database, COUNTS) == [(1, 1, 1, 1, 1, 1)]
