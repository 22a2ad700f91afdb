"""Snapshot diffs: golden folders on a real server (before.sql, after.sql, expected.json, as migra's
tests), and the comparison rules on hand-made snapshots (no database)."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, get_type_hints

import psycopg
import pytest

from safemigrate.db.catalog.snapshot import (
    Column,
    CompositeAttribute,
    CompositeType,
    Constraint,
    DbSequence,
    Domain,
    DomainConstraint,
    EnumType,
    Extension,
    Function,
    Index,
    Policy,
    Snapshot,
    Table,
    Trigger,
    View,
    take_snapshot,
)
from safemigrate.db.diff import (
    DERIVED_FIELDS,
    Change,
    ConstraintChanged,
    EnumValuesReordered,
    IndexChanged,
    SnapshotDiff,
    TableAdded,
    TableDropped,
    TableProbablyRenamed,
    diff_snapshots,
    diff_to_dict,
)
from safemigrate.report.diff_text import render_diff_text

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())


def _golden_diff(database_url: str, case: str, *, data: bool = False) -> SnapshotDiff:
    folder = GOLDEN / case
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute((folder / "before.sql").read_bytes())
        before = take_snapshot(conn)
        conn.execute((folder / "after.sql").read_bytes())
        after = take_snapshot(conn)
    return diff_snapshots(before, after, data=data)


def test_golden_cases_exist() -> None:
    assert len(CASES) >= 10
    for case in CASES:
        assert {p.name for p in (GOLDEN / case).iterdir()} == {"before.sql", "after.sql", "expected.json"}, case


@pytest.mark.parametrize("case", CASES)
def test_golden(database_url: str, case: str) -> None:
    diff = _golden_diff(database_url, case)
    expected = json.loads((GOLDEN / case / "expected.json").read_text())
    assert diff_to_dict(diff)["changes"] == expected
    for change in diff.changes:
        line = change.describe()
        assert line and "\n" not in line, change


def test_golden_text_rendering(database_url: str) -> None:
    diff = _golden_diff(database_url, "column_changes")
    assert render_diff_text(diff).splitlines() == [
        "11 differences:",
        '  - column public."User".name dropped (was text)',
        '  ~ column public."User".id: identity changed from none to always',
        '  ~ column public."User".age: type changed from integer to bigint',
        '  ~ column public."User".age: NULL changed to NOT NULL',
        '  ~ column public."User".email: NOT NULL changed to NULL',
        "  ~ column public.\"User\".bio: default changed from 'none'::text to none",
        '  ~ column public."User".role: default changed from \'USER\'::"Role" to \'ADMIN\'::"Role"',
        '  + column public."User"."fullName" added (text NULL)',
        '  ~ column public."User".code: collation changed from none to "C"',
        '  + column public."User"."createdAt" added '
        "(timestamp(3) without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP)",
        '  + sequence public."User_id_seq" added',
    ]
    colored = render_diff_text(diff, color=True)
    assert "\x1b[31m-\x1b[0m" in colored and "\x1b[32m+\x1b[0m" in colored


def test_data_dependent_fields_only_when_asked(database_url: str) -> None:
    diff = _golden_diff(database_url, "data_only", data=True)
    found = {(c["kind"], c.get("attribute")): c for c in diff_to_dict(diff)["changes"]}
    assert set(found) == {
        ("table_changed", "estimated_rows"),
        ("table_changed", "size_bytes"),
        ("sequence_changed", "last_value"),
        ("sequence_changed", "is_called"),
    }
    rows = found["table_changed", "estimated_rows"]
    last = found["sequence_changed", "last_value"]
    assert (rows["before"], rows["after"]) == (None, 100)
    assert (last["before"], last["after"]) == (1, 100)
    document = diff_to_dict(diff)
    assert (document["equal"], document["data"]) == (False, True)


# ---------------------------------------------------------------------------------------------
# Hand-made snapshots


def col(name: str, type_: str = "integer", *, not_null: bool = False, default: str | None = None) -> Column:
    return Column(name, type_, not_null, True, default, None, None, None)


def table(name: str, *columns: Column, schema: str = "public", **changes: Any) -> Table:
    base = Table(schema, name, "logged", None, None, None, columns, (), (), (), None, 0)
    return replace(base, **changes)


def snap(*tables: Table, **changes: Any) -> Snapshot:
    return replace(Snapshot(("public",), (), (), tables, (), (), ()), **changes)


def test_equal_snapshots() -> None:
    a = snap(table("User", col("id", not_null=True)))
    diff = diff_snapshots(a, a)
    assert diff.equal and diff.changes == ()
    assert render_diff_text(diff) == "No differences (schema compared)."
    assert diff_to_dict(diff) == {
        "format": "safemigrate-diff",
        "version": 1,
        "equal": True,
        "data": False,
        "changes": [],
    }


def test_rename_needs_one_candidate_each_way() -> None:
    same = (col("id", not_null=True), col("title", "text"))
    one = diff_snapshots(snap(table("Post", *same)), snap(table("Article", *same)))
    assert one.changes == (TableProbablyRenamed("public", "Post", "Article"),)
    assert one.changes[0].describe() == (
        'table public."Post" probably renamed to "Article" (dropped and added with the same columns)'
    )
    two = diff_snapshots(snap(table("A", *same), table("B", *same)), snap(table("C", *same)))
    assert two.changes == (TableDropped("public", "A"), TableDropped("public", "B"), TableAdded("public", "C"))
    other_types = diff_snapshots(snap(table("Post", col("id"))), snap(table("Article", col("id", "bigint"))))
    assert other_types.changes == (TableAdded("public", "Article"), TableDropped("public", "Post"))
    other_schema = diff_snapshots(snap(table("Post", *same)), snap(table("Post", *same, schema="archive")))
    assert [c.kind for c in other_schema.changes] == ["table_added", "table_dropped"]


def test_enum_reorder() -> None:
    a = snap(enums=(EnumType("public", "Size", ("S", "M", "L")),))
    b = snap(enums=(EnumType("public", "Size", ("L", "M", "S")),))
    (change,) = diff_snapshots(a, b).changes
    assert change == EnumValuesReordered("public", "Size", ("S", "M", "L"), ("L", "M", "S"))
    assert change.describe() == "enum public.size: values reordered from (S, M, L) to (L, M, S)".replace(
        "size", '"Size"'
    )


def _constraint(definition: str, validated: bool) -> Constraint:
    return Constraint("c", "check", definition, ("a",), None, (), None, None, None, False, False, validated, True)


def test_constraint_validated_and_index_validity() -> None:
    invalid = table("t", col("a"), constraints=(_constraint("CHECK ((a > 0)) NOT VALID", False),))
    valid = table("t", col("a"), constraints=(_constraint("CHECK ((a > 0))", True),))
    (change,) = diff_snapshots(snap(invalid), snap(valid)).changes
    assert change == ConstraintChanged("public", "t", "c", "validated", False, True)
    assert change.describe() == "constraint c on public.t is now validated"
    stricter = table("t", col("a"), constraints=(_constraint("CHECK ((a > 1))", True),))
    (change,) = diff_snapshots(snap(invalid), snap(stricter)).changes
    assert isinstance(change, ConstraintChanged) and change.attribute == "definition"

    index = Index("i", "CREATE INDEX i ON public.t USING btree (a)", False, False, True, None, None)
    broken = replace(index, valid=False)
    (change,) = diff_snapshots(snap(table("t", indexes=(index,))), snap(table("t", indexes=(broken,)))).changes
    assert change == IndexChanged("public", "t", "i", "valid", True, False)
    assert change.describe() == "index i on public.t is now invalid"


def _sample() -> Snapshot:
    """One object of every kind, with every optional field set to None where it can be."""
    column = Column("a", "integer", True, True, None, None, None, None)  # NOT NULL: its validity matters
    constraint = Constraint(
        "k", "check", "CHECK ((a > 0))", ("a",), None, (), None, None, None, False, False, True, True
    )
    index = Index("i", "CREATE INDEX i ON public.t USING btree (a)", False, False, True, None, None)
    trigger = Trigger("tr", "CREATE TRIGGER tr ...", "origin")
    policy = Policy("p", "all", True, ("public",), "(a > 0)", None)
    domain = Domain(
        "public", "d", "integer", False, None, None, (DomainConstraint("d_check", "CHECK ((VALUE > 0))", True),)
    )
    composite = CompositeType("public", "c", (CompositeAttribute("x", "integer", None),))
    return Snapshot(
        schemas=("public",),
        extensions=(Extension("hstore", "1.8", "public"),),
        enums=(EnumType("public", "e", ("x",)),),
        tables=(
            Table(
                "public",
                "t",
                "logged",
                None,
                None,
                None,
                (column,),
                (constraint,),
                (index,),
                (trigger,),
                None,
                0,
                row_security=False,
                force_row_security=False,
                inherits=("public.p",),
                policies=(policy,),
            ),
        ),
        views=(View("public", "v", "view", " SELECT 1;", (), True, (column,), (index,), (trigger,)),),
        sequences=(DbSequence("public", "s", "bigint", 1, 1, 1, 100, 1, False, None, False, 1, False),),
        functions=(Function("public", "f", "function", "", "integer", "sql", "volatile", False, False, (), "ab"),),
        domains=(domain,),
        composite_types=(composite,),
    )


def _mutated(value: Any, hint: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "_changed"
    if isinstance(value, tuple):
        return (*value, "extra")
    assert value is None
    return {"bool": True, "int": 7}.get(next(a.__name__ for a in hint.__args__ if a is not type(None)), "set")


def _variants(snapshot: Snapshot) -> list[tuple[str, Snapshot]]:
    """Every snapshot that differs from ``snapshot`` in exactly one scalar field of one object."""
    out: list[tuple[str, Snapshot]] = []

    def each(obj: Any, rebuild: Any, label: str) -> None:
        hints = get_type_hints(type(obj))
        for f in fields(obj):
            value = getattr(obj, f.name)
            if isinstance(value, tuple) and value and hasattr(value[0], "__dataclass_fields__"):
                for k, item in enumerate(value):
                    each(
                        item,
                        lambda new, f=f, k=k, value=value: rebuild(
                            replace(obj, **{f.name: (*value[:k], new, *value[k + 1 :])})
                        ),
                        f"{label}.{f.name}[{k}]",
                    )
                continue
            if type(obj) in DERIVED_FIELDS and f.name in DERIVED_FIELDS[type(obj)]:
                continue
            out.append((f"{label}.{f.name}", rebuild(replace(obj, **{f.name: _mutated(value, hints[f.name])}))))

    for f in fields(snapshot):
        items = getattr(snapshot, f.name)
        if f.name == "schemas":
            continue
        for k, item in enumerate(items):
            each(
                item,
                lambda new, f=f, k=k, items=items: replace(snapshot, **{f.name: (*items[:k], new, *items[k + 1 :])}),
                f"{f.name}[{k}]",
            )
    return out


def test_every_field_of_the_snapshot_is_compared() -> None:
    """Changing any one field of any object is reported (with data=True), except derived fields."""
    sample = _sample()
    variants = _variants(sample)
    assert len(variants) > 60
    missed = [label for label, other in variants if diff_snapshots(sample, other, data=True).equal]
    assert missed == []
    # Derived fields follow from a compared one: an index's uniqueness, primary-ness and predicate are
    # all in its definition; a function's name and arguments are its key.
    derived = {Index: ("unique", "primary", "predicate"), Function: ("name", "arguments")}
    assert derived == DERIVED_FIELDS


def test_data_fields_need_data() -> None:
    sample = _sample()
    grown = replace(sample, tables=(replace(sample.tables[0], estimated_rows=10, size_bytes=8192),))
    assert diff_snapshots(sample, grown).equal
    assert [c.kind for c in diff_snapshots(sample, grown, data=True).changes] == ["table_changed", "table_changed"]
    moved = replace(sample, sequences=(replace(sample.sequences[0], last_value=50, is_called=True),))
    assert diff_snapshots(sample, moved).equal
    assert not diff_snapshots(sample, moved, data=True).equal


def test_change_kinds_are_unique_and_describable() -> None:
    kinds = [cls.kind for cls in Change.__subclasses__()]
    assert len(kinds) == len(set(kinds)) and len(kinds) >= 30
    assert "table_probably_renamed" in kinds and "column_nullability_changed" in kinds
