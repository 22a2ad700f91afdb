"""Domains, composite types, row-level security, policies and plain inheritance: in the snapshot
(the same on PostgreSQL 15 and 18), in the diff (the same migration gives the same changes on two
databases, as the rehearsal's clone and the target must), in `validate`'s drift, in rollback's
lists, and in snapshot files of format version 1 (still readable)."""

from __future__ import annotations

import json
import shutil
from dataclasses import fields
from pathlib import Path

import psycopg
import pytest

from safemigrate.db.catalog.snapshot import (
    CompositeAttribute,
    DomainConstraint,
    Policy,
    Snapshot,
    as_version_1,
    read_snapshot,
    snapshot_to_dict,
    snapshot_to_json,
    take_snapshot,
)
from safemigrate.db.diff import Change, diff_snapshot_files, diff_snapshots, diff_to_dict
from safemigrate.errors import RestoreRefusedError
from safemigrate.pipeline import rollback
from safemigrate.validate import validate
from tests.db.test_snapshot import _other_server_bindir
from tests.db.test_validate import BLOG, deploy, run_sql
from tests.pgserver import PgServer, cluster

SCHEMA = """
CREATE COLLATION ci FROM "C";
CREATE DOMAIN posint AS integer DEFAULT 1 NOT NULL CONSTRAINT posint_check CHECK (VALUE > 0);
ALTER DOMAIN posint ADD CONSTRAINT posint_small CHECK (VALUE < 1000) NOT VALID;
CREATE DOMAIN label AS varchar(20) COLLATE ci;
CREATE TYPE pair AS (a integer, b text COLLATE "C", c label);
CREATE TYPE gap AS (x integer, y integer);
ALTER TYPE gap DROP ATTRIBUTE x;
CREATE TABLE parent (id integer);
CREATE TABLE parent2 (id integer, note text);
CREATE TABLE child (id integer, note text, qty posint) INHERITS (parent2, parent);
CREATE TABLE doc (id integer, owner text);
ALTER TABLE doc ENABLE ROW LEVEL SECURITY;
ALTER TABLE doc FORCE ROW LEVEL SECURITY;
CREATE POLICY doc_read ON doc FOR SELECT TO pg_read_all_data, pg_monitor USING (owner = current_user);
CREATE POLICY doc_write ON doc AS RESTRICTIVE FOR INSERT WITH CHECK (id > 0);
CREATE TABLE part (d date) PARTITION BY RANGE (d);
CREATE TABLE part_all PARTITION OF part DEFAULT;
"""


def _build(conn: psycopg.Connection[tuple[object, ...]]) -> Snapshot:
    conn.execute(SCHEMA.encode())
    return take_snapshot(conn)


def test_snapshot_content(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        snap = _build(conn)
    label, posint = snap.domains
    assert (posint.name, posint.type, posint.not_null, posint.default, posint.collation) == (
        "posint",
        "integer",
        True,
        "1",
        None,
    )
    # The domain's NOT NULL is not a constraint (PostgreSQL 17+ also lists it in pg_constraint).
    assert posint.constraints == (
        DomainConstraint("posint_check", "CHECK ((VALUE > 0))", True),
        DomainConstraint("posint_small", "CHECK ((VALUE < 1000)) NOT VALID", False),
    )
    assert (label.type, label.collation, label.constraints) == ("character varying(20)", "public.ci", ())
    # Composite types, not the row types of tables; dropped attributes left out.
    assert [(c.name, c.attributes) for c in snap.composite_types] == [
        ("gap", (CompositeAttribute("y", "integer", None),)),
        (
            "pair",
            (
                CompositeAttribute("a", "integer", None),
                CompositeAttribute("b", "text", '"C"'),
                CompositeAttribute("c", "label", None),
            ),
        ),
    ]
    tables = {t.name: t for t in snap.tables}
    assert tables["child"].inherits == ("public.parent2", "public.parent")  # in INHERITS order
    assert tables["part_all"].inherits == () and tables["part_all"].partition_of == "public.part"
    doc = tables["doc"]
    assert (doc.row_security, doc.force_row_security) == (True, True)
    assert (tables["parent"].row_security, tables["parent"].policies) == (False, ())
    assert doc.policies == (
        Policy("doc_read", "select", True, ("pg_monitor", "pg_read_all_data"), "(owner = CURRENT_USER)", None),
        Policy("doc_write", "insert", False, ("public",), None, "(id > 0)"),
    )
    assert doc.policies[1].definition == "AS RESTRICTIVE FOR INSERT TO public WITH CHECK ((id > 0))"


def test_the_same_on_postgresql_15_and_18(database_url: str, pg_server: PgServer) -> None:
    other = _other_server_bindir(pg_server.version)
    if other is None:
        pytest.skip(f"only PostgreSQL {pg_server.version} is available here")
    with psycopg.connect(database_url, autocommit=True) as conn:
        here = _build(conn)
    with cluster(other, "other") as server, psycopg.connect(server.url(), autocommit=True) as conn:
        there = _build(conn)
    assert snapshot_to_json(there) == snapshot_to_json(here)


# Hand changes a reviewer made to a live schema that `validate` used to call "no drift".
HAND_CHANGES = {
    "ALTER DOMAIN posint DROP CONSTRAINT posint_check": "check posint_check dropped from domain public.posint",
    "CREATE DOMAIN email AS text": "domain public.email added (as text)",
    'ALTER TABLE "Post" ENABLE ROW LEVEL SECURITY': 'table public."Post": row level security enabled',
    'CREATE POLICY p ON "Post" USING (false)': (
        'policy p added on public."Post": AS PERMISSIVE FOR ALL TO public USING (false)'
    ),
    'ALTER TABLE "Post" INHERIT "Parent"': 'table public."Post" now inherits from public."Parent"',
    "CREATE TYPE comp AS (a int, b text)": "composite type public.comp added (a integer, b text)",
}


def test_hand_changes_are_drift(tmp_path: Path, database_url: str) -> None:
    project = tmp_path / "blog"
    shutil.copytree(BLOG, project)
    extra = project / "prisma" / "migrations" / "20250101000000_domain_and_parent"
    extra.mkdir()
    (extra / "migration.sql").write_text(
        'CREATE DOMAIN posint AS integer CONSTRAINT posint_check CHECK (VALUE > 0);\nCREATE TABLE "Parent" ();\n'
    )
    deploy(project, database_url)
    assert not validate(project, database_url=database_url).failed
    run_sql(database_url, ";\n".join(HAND_CHANGES))
    report = validate(project, database_url=database_url)
    assert report.failed and report.drift is not None
    assert sorted(c.describe() for c in report.drift.changes) == sorted(HAND_CHANGES.values())


MIGRATION = """
ALTER DOMAIN posint DROP CONSTRAINT posint_check;
ALTER DOMAIN posint ADD CONSTRAINT posint_check CHECK (VALUE >= 0);
ALTER DOMAIN label SET DEFAULT 'none';
CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');
ALTER TYPE pair ADD ATTRIBUTE d boolean;
CREATE TYPE comp AS (a int, b text);
ALTER TABLE child NO INHERIT parent;
CREATE TABLE child2 (id integer);
ALTER TABLE child2 INHERIT parent;
ALTER TABLE doc NO FORCE ROW LEVEL SECURITY;
ALTER TABLE parent ENABLE ROW LEVEL SECURITY;
CREATE POLICY p ON parent USING (false);
ALTER POLICY doc_read ON doc TO public;
DROP POLICY doc_write ON doc;
"""


def test_the_same_migration_gives_the_same_diff_on_two_databases(database_url: str, other_database: str) -> None:
    """The rehearsal's clone and the target must agree change for change, or migrate rolls back."""
    diffs = []
    for url in (database_url, other_database):
        with psycopg.connect(url, autocommit=True) as conn:
            if diffs:  # other OIDs on the second database
                conn.execute("CREATE TABLE burn_some_oids (a int); DROP TABLE burn_some_oids")
            before = _build(conn)
            conn.execute(MIGRATION.encode())
            diffs.append(diff_to_dict(diff_snapshots(before, take_snapshot(conn)))["changes"])
    assert diffs[0] == diffs[1]
    assert {c["kind"] for c in diffs[0]} == {
        "domain_constraint_changed",
        "domain_changed",
        "domain_added",
        "composite_type_added",
        "composite_type_changed",
        "inheritance_removed",
        "row_security_changed",
        "policy_added",
        "policy_changed",
        "policy_dropped",
        "table_added",
    }


def test_version_1_snapshot_files_stay_readable(database_url: str, tmp_path: Path) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        snap = _build(conn)
    document = snapshot_to_dict(snap)
    old = json.loads(json.dumps(document))
    old["version"] = 1
    del old["domains"], old["composite_types"]
    for table in old["tables"]:
        for member in ("row_security", "force_row_security", "inherits", "policies"):
            del table[member]
    old_file, new_file = tmp_path / "old.json", tmp_path / "new.json"
    old_file.write_text(json.dumps(old))
    new_file.write_text(snapshot_to_json(snap))
    assert read_snapshot(old_file) == as_version_1(snap)
    assert read_snapshot(new_file) == snap
    # A version 1 file did not record these parts: comparing it with a newer one does not invent changes.
    assert diff_snapshot_files(old_file, new_file).equal
    assert not diff_snapshots(read_snapshot(old_file), snap).equal


def _kinds_without_a_table() -> set[str]:
    found: set[str] = set()
    pending = list(Change.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "table" not in {f.name for f in fields(cls)}:
            found.add(cls.kind)
    return found


def test_rollback_knows_every_change_kind_outside_tables() -> None:
    """A change outside any table is either undone by rollback or refused, never passed over."""
    undone = {"table_probably_renamed", "enum_added"}  # renamed back; DROP TYPE
    with_their_table = {"sequence_added", "sequence_dropped", "sequence_changed"}  # a table's own sequence
    unknown = _kinds_without_a_table() - set(rollback._NOT_UNDOABLE) - undone - with_their_table
    assert unknown == set()


@pytest.mark.parametrize(
    ("change", "refused"),
    [
        ({"kind": "domain_constraint_dropped", "schema": "public", "domain": "posint", "constraint": "c"}, True),
        ({"kind": "composite_type_added", "schema": "public", "composite": "comp", "attributes": ""}, True),
        ({"kind": "row_security_changed", "schema": "public", "table": "T", "attribute": "enabled"}, True),
        ({"kind": "policy_dropped", "schema": "public", "table": "T", "policy": "p"}, True),
        ({"kind": "inheritance_removed", "schema": "public", "table": "T", "parent": "public.P"}, True),
        ({"kind": "policy_added", "schema": "public", "table": "T", "policy": "p"}, False),  # restored without it
        ({"kind": "policy_added", "schema": "public", "table": "Other", "policy": "p"}, True),  # not backed up
        ({"kind": "inheritance_added", "schema": "public", "table": "T", "parent": "public.P"}, False),
    ],
)
def test_rollback_refuses_what_a_backup_cannot_undo(change: dict[str, str], refused: bool) -> None:
    run = {"id": "r1", "schema_changes": [change]}
    if refused:
        with pytest.raises(RestoreRefusedError):
            rollback.refuse_unundoable(run, {"T"})
    else:
        rollback.refuse_unundoable(run, {"T"})


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"kind": "domain_constraint_dropped", "schema": "public", "domain": "posint", "constraint": "c"}, "posint"),
        ({"kind": "composite_type_added", "schema": "public", "composite": "comp", "attributes": ""}, "comp"),
        ({"kind": "policy_dropped", "schema": "public", "table": "T", "policy": "only_mine"}, "only_mine"),
        ({"kind": "row_security_changed", "schema": "public", "table": "T", "attribute": "enabled"}, "T"),
    ],
)
def test_a_refused_rollback_names_what_it_cannot_undo(change: dict[str, str], named: str) -> None:
    with pytest.raises(RestoreRefusedError) as caught:
        rollback.refuse_unundoable({"id": "r1", "schema_changes": [change]}, {"T"})
    assert f"changed {named!r}" in caught.value.message


def test_the_text_listing_shows_domains_composites_security_policies_and_parents(database_url: str) -> None:
    from safemigrate.report.diff_text import render_snapshot_text

    with psycopg.connect(database_url, autocommit=True) as conn:
        lines = render_snapshot_text(_build(conn)).splitlines()
    assert "domain public.posint integer NOT NULL DEFAULT 1" in lines
    assert "    constraint posint_check: CHECK ((VALUE > 0))" in lines
    assert "    constraint posint_small: CHECK ((VALUE < 1000)) NOT VALID" in lines
    assert 'composite type public.pair (a integer, b text COLLATE "C", c label)' in lines
    assert any(line.startswith("table public.child (inherits public.parent2, public.parent, ") for line in lines)
    assert any(line.startswith("table public.doc (") and "row-level security forced" in line for line in lines)
    assert "    policy doc_write: RESTRICTIVE FOR INSERT TO public WITH CHECK ((id > 0))" in lines
    read = next(line for line in lines if line.startswith("    policy doc_read: "))
    assert read.startswith("    policy doc_read: PERMISSIVE FOR SELECT TO ")
    assert read.endswith("USING ((owner = CURRENT_USER))")
