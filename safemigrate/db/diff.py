"""The difference between two catalog snapshots, as a typed list of changes.

Why a direct structural comparison rather than deepdiff: every collection of a snapshot is keyed by
name (tables, domains and composite types by schema and name; columns, constraints, indexes,
triggers and policies by name within their table; functions by signature), so the diff is, per kind,
"keys only before / only after / in both, and for those in both, which fields differ" — a few lines
each, that build the typed changes directly. deepdiff would report paths into lists
(``root['tables'][3]['columns'][2]['type']``) that would have to be matched by index or by an
``iterable_compare_func`` and then parsed back into objects: more code, and a second way to be
wrong. The snapshot's fields are compared one by one here; a test checks that every field of every
snapshot class is compared (or documented as derived), so nothing can change silently.

Data-dependent fields (estimated rows and size of tables, sequence positions) are compared only
with ``data=True``. Column order is not compared (as ``prisma migrate diff`` does not), nor the
order of a table's INHERITS parents (only which they are).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from collections.abc import Sequence as Seq
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar, Union

from safemigrate.db.catalog.snapshot import (
    SNAPSHOT_VERSION,
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
    as_version_1,
    read_snapshot_document,
)

DIFF_FORMAT = "safemigrate-diff"
DIFF_VERSION = 1

Value = Union[str, int, bool, None]  # noqa: UP007 - a runtime alias, on Python 3.10 too

_PLAIN = re.compile(r"^[a-z_][a-z0-9_$]*$")


def ident(name: str) -> str:
    """A name as PostgreSQL would print it: quoted unless lower-case letters, digits and underscores."""
    return name if _PLAIN.match(name) else '"' + name.replace('"', '""') + '"'


def qualified(schema: str, *names: str) -> str:
    return ".".join(ident(part) for part in (schema, *names))


def _show(value: Value | tuple[str, ...]) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "(" + ", ".join(value) + ")"
    return str(value)


def _changed(subject: str, attribute: str, before: Value, after: Value) -> str:
    return f"{subject}: {attribute.replace('_', ' ')} changed from {_show(before)} to {_show(after)}"


# ---------------------------------------------------------------------------------------------
# Changes


@dataclass(frozen=True)
class Change:
    """One difference between two snapshots; ``kind`` names it in JSON (``column_type_changed``)."""

    kind: ClassVar[str] = "change"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.kind = re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()

    def describe(self) -> str:
        """One line for a terminal, a CI log or a pull request."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **{f.name: _plain(getattr(self, f.name)) for f in fields(self)}}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class ExtensionAdded(Change):
    name: str
    version: str

    def describe(self) -> str:
        return f"extension {self.name} {self.version} added"


@dataclass(frozen=True)
class ExtensionDropped(Change):
    name: str
    version: str

    def describe(self) -> str:
        return f"extension {self.name} {self.version} dropped"


@dataclass(frozen=True)
class ExtensionChanged(Change):
    name: str
    attribute: str  # "version" | "schema"
    before: str
    after: str

    def describe(self) -> str:
        return _changed(f"extension {self.name}", self.attribute, self.before, self.after)


@dataclass(frozen=True)
class EnumAdded(Change):
    schema: str
    enum: str
    values: tuple[str, ...]

    def describe(self) -> str:
        return f"enum {qualified(self.schema, self.enum)} added {_show(self.values)}"


@dataclass(frozen=True)
class EnumDropped(Change):
    schema: str
    enum: str
    values: tuple[str, ...]

    def describe(self) -> str:
        return f"enum {qualified(self.schema, self.enum)} dropped"


@dataclass(frozen=True)
class EnumValueAdded(Change):
    schema: str
    enum: str
    value: str
    position: int  # index in the new list of values, from 0

    def describe(self) -> str:
        return f"enum {qualified(self.schema, self.enum)}: value '{self.value}' added"


@dataclass(frozen=True)
class EnumValueRemoved(Change):
    schema: str
    enum: str
    value: str

    def describe(self) -> str:
        return f"enum {qualified(self.schema, self.enum)}: value '{self.value}' removed"


@dataclass(frozen=True)
class EnumValuesReordered(Change):
    schema: str
    enum: str
    before: tuple[str, ...]
    after: tuple[str, ...]

    def describe(self) -> str:
        subject = f"enum {qualified(self.schema, self.enum)}"
        return f"{subject}: values reordered from {_show(self.before)} to {_show(self.after)}"


@dataclass(frozen=True)
class TableAdded(Change):
    schema: str
    table: str

    def describe(self) -> str:
        return f"table {qualified(self.schema, self.table)} added"


@dataclass(frozen=True)
class TableDropped(Change):
    schema: str
    table: str

    def describe(self) -> str:
        return f"table {qualified(self.schema, self.table)} dropped"


@dataclass(frozen=True)
class TableProbablyRenamed(Change):
    """A table dropped and another added with the very same columns (names, types, nullability)."""

    schema: str
    before: str
    after: str

    def describe(self) -> str:
        return (
            f"table {qualified(self.schema, self.before)} probably renamed to {ident(self.after)} "
            "(dropped and added with the same columns)"
        )


@dataclass(frozen=True)
class TableChanged(Change):
    schema: str
    table: str
    attribute: str  # persistence | partition_key | partition_of | partition_bound (| estimated_rows | size_bytes)
    before: Value
    after: Value

    def describe(self) -> str:
        return _changed(f"table {qualified(self.schema, self.table)}", self.attribute, self.before, self.after)


@dataclass(frozen=True)
class ColumnAdded(Change):
    schema: str
    table: str
    column: str
    type: str
    nullability: str  # "NULL" | "NOT NULL" | "NOT NULL NOT VALID"
    default: str | None

    def describe(self) -> str:
        default = f" DEFAULT {self.default}" if self.default is not None else ""
        return (
            f"column {qualified(self.schema, self.table, self.column)} added ({self.type} {self.nullability}{default})"
        )


@dataclass(frozen=True)
class ColumnDropped(Change):
    schema: str
    table: str
    column: str
    type: str

    def describe(self) -> str:
        return f"column {qualified(self.schema, self.table, self.column)} dropped (was {self.type})"


@dataclass(frozen=True)
class ColumnTypeChanged(Change):
    schema: str
    table: str
    column: str
    before: str
    after: str

    def describe(self) -> str:
        return _changed(f"column {qualified(self.schema, self.table, self.column)}", "type", self.before, self.after)


@dataclass(frozen=True)
class ColumnNullabilityChanged(Change):
    schema: str
    table: str
    column: str
    before: str  # "NULL" | "NOT NULL" | "NOT NULL NOT VALID"
    after: str

    def describe(self) -> str:
        return f"column {qualified(self.schema, self.table, self.column)}: {self.before} changed to {self.after}"


@dataclass(frozen=True)
class ColumnDefaultChanged(Change):
    schema: str
    table: str
    column: str
    before: str | None
    after: str | None

    def describe(self) -> str:
        return _changed(f"column {qualified(self.schema, self.table, self.column)}", "default", self.before, self.after)


@dataclass(frozen=True)
class ColumnChanged(Change):
    schema: str
    table: str
    column: str
    attribute: str  # identity | generated | collation
    before: str | None
    after: str | None

    def describe(self) -> str:
        subject = f"column {qualified(self.schema, self.table, self.column)}"
        return _changed(subject, self.attribute, self.before, self.after)


@dataclass(frozen=True)
class ConstraintAdded(Change):
    schema: str
    table: str
    constraint: str
    type: str  # primary key | unique | foreign key | check | exclusion
    definition: str

    def describe(self) -> str:
        return f"{self.type} {ident(self.constraint)} added on {qualified(self.schema, self.table)}: {self.definition}"


@dataclass(frozen=True)
class ConstraintDropped(Change):
    schema: str
    table: str
    constraint: str
    type: str
    definition: str

    def describe(self) -> str:
        return f"{self.type} {ident(self.constraint)} dropped from {qualified(self.schema, self.table)}"


@dataclass(frozen=True)
class ConstraintChanged(Change):
    """``attribute`` is ``validated`` when only that changed (VALIDATE CONSTRAINT), else ``definition``."""

    schema: str
    table: str
    constraint: str
    attribute: str  # validated | definition
    before: Value
    after: Value

    def describe(self) -> str:
        subject = f"constraint {ident(self.constraint)} on {qualified(self.schema, self.table)}"
        if self.attribute == "validated":
            return f"{subject} {'is now validated' if self.after else 'is no longer validated'}"
        return _changed(subject, self.attribute, self.before, self.after)


@dataclass(frozen=True)
class IndexAdded(Change):
    schema: str
    table: str
    index: str
    definition: str

    def describe(self) -> str:
        return f"index {ident(self.index)} added on {qualified(self.schema, self.table)}: {self.definition}"


@dataclass(frozen=True)
class IndexDropped(Change):
    schema: str
    table: str
    index: str
    definition: str

    def describe(self) -> str:
        return f"index {ident(self.index)} dropped from {qualified(self.schema, self.table)}"


@dataclass(frozen=True)
class IndexChanged(Change):
    schema: str
    table: str
    index: str
    attribute: str  # definition | valid | constraint
    before: Value
    after: Value

    def describe(self) -> str:
        subject = f"index {ident(self.index)} on {qualified(self.schema, self.table)}"
        if self.attribute == "valid":
            return f"{subject} {'is now valid' if self.after else 'is now invalid'}"
        return _changed(subject, self.attribute, self.before, self.after)


@dataclass(frozen=True)
class TriggerAdded(Change):
    schema: str
    table: str
    trigger: str
    definition: str

    def describe(self) -> str:
        return f"trigger {ident(self.trigger)} added on {qualified(self.schema, self.table)}: {self.definition}"


@dataclass(frozen=True)
class TriggerDropped(Change):
    schema: str
    table: str
    trigger: str
    definition: str

    def describe(self) -> str:
        return f"trigger {ident(self.trigger)} dropped from {qualified(self.schema, self.table)}"


@dataclass(frozen=True)
class TriggerChanged(Change):
    schema: str
    table: str
    trigger: str
    attribute: str  # definition | enabled
    before: str
    after: str

    def describe(self) -> str:
        subject = f"trigger {ident(self.trigger)} on {qualified(self.schema, self.table)}"
        return _changed(subject, self.attribute, self.before, self.after)


@dataclass(frozen=True)
class ViewAdded(Change):
    schema: str
    view: str
    type: str  # view | materialized view

    def describe(self) -> str:
        return f"{self.type} {qualified(self.schema, self.view)} added"


@dataclass(frozen=True)
class ViewDropped(Change):
    schema: str
    view: str
    type: str

    def describe(self) -> str:
        return f"{self.type} {qualified(self.schema, self.view)} dropped"


@dataclass(frozen=True)
class ViewChanged(Change):
    schema: str
    view: str
    attribute: str  # type | definition | options | populated | columns
    before: Value
    after: Value

    def describe(self) -> str:
        if self.attribute == "definition":
            return f"view {qualified(self.schema, self.view)}: definition changed"
        return _changed(f"view {qualified(self.schema, self.view)}", self.attribute, self.before, self.after)


@dataclass(frozen=True)
class SequenceAdded(Change):
    schema: str
    sequence: str

    def describe(self) -> str:
        return f"sequence {qualified(self.schema, self.sequence)} added"


@dataclass(frozen=True)
class SequenceDropped(Change):
    schema: str
    sequence: str

    def describe(self) -> str:
        return f"sequence {qualified(self.schema, self.sequence)} dropped"


@dataclass(frozen=True)
class SequenceChanged(Change):
    schema: str
    sequence: str
    attribute: str  # data_type | start | increment | min_value | max_value | cache | cycle | owned_by | identity
    before: Value  #   (| last_value | is_called with data=True)
    after: Value

    def describe(self) -> str:
        return _changed(f"sequence {qualified(self.schema, self.sequence)}", self.attribute, self.before, self.after)


@dataclass(frozen=True)
class FunctionAdded(Change):
    schema: str
    function: str  # name(identity arguments)
    type: str  # function | procedure | aggregate | window

    def describe(self) -> str:
        return f"{self.type} {ident_signature(self.schema, self.function)} added"


@dataclass(frozen=True)
class FunctionDropped(Change):
    schema: str
    function: str
    type: str

    def describe(self) -> str:
        return f"{self.type} {ident_signature(self.schema, self.function)} dropped"


@dataclass(frozen=True)
class FunctionChanged(Change):
    schema: str
    function: str
    attribute: str  # body | type | result | language | volatility | strict | security_definer | config
    before: Value
    after: Value

    def describe(self) -> str:
        subject = f"function {ident_signature(self.schema, self.function)}"
        if self.attribute == "body":
            return f"{subject}: body changed"
        return _changed(subject, self.attribute, self.before, self.after)


@dataclass(frozen=True)
class RowSecurityChanged(Change):
    """``attribute`` is ``enabled`` (ENABLE / DISABLE ROW LEVEL SECURITY) or ``forced`` (FORCE / NO FORCE)."""

    schema: str
    table: str
    attribute: str  # enabled | forced
    before: bool
    after: bool

    def describe(self) -> str:
        subject = f"table {qualified(self.schema, self.table)}: row level security"
        if self.attribute == "forced":
            return f"{subject} {'is now forced' if self.after else 'is no longer forced'}"
        return f"{subject} {'enabled' if self.after else 'disabled'}"


@dataclass(frozen=True)
class InheritanceAdded(Change):
    schema: str
    table: str
    parent: str  # quoted schema.name

    def describe(self) -> str:
        return f"table {qualified(self.schema, self.table)} now inherits from {self.parent}"


@dataclass(frozen=True)
class InheritanceRemoved(Change):
    schema: str
    table: str
    parent: str

    def describe(self) -> str:
        return f"table {qualified(self.schema, self.table)} no longer inherits from {self.parent}"


@dataclass(frozen=True)
class PolicyAdded(Change):
    schema: str
    table: str
    policy: str
    definition: str  # AS PERMISSIVE FOR ALL TO public USING (...) WITH CHECK (...)

    def describe(self) -> str:
        return f"policy {ident(self.policy)} added on {qualified(self.schema, self.table)}: {self.definition}"


@dataclass(frozen=True)
class PolicyDropped(Change):
    schema: str
    table: str
    policy: str
    definition: str

    def describe(self) -> str:
        return f"policy {ident(self.policy)} dropped from {qualified(self.schema, self.table)}"


@dataclass(frozen=True)
class PolicyChanged(Change):
    schema: str
    table: str
    policy: str
    attribute: str  # command | permissive | roles | using | with_check
    before: Value
    after: Value

    def describe(self) -> str:
        subject = f"policy {ident(self.policy)} on {qualified(self.schema, self.table)}"
        return _changed(subject, self.attribute, self.before, self.after)


@dataclass(frozen=True)
class DomainAdded(Change):
    schema: str
    domain: str
    type: str  # the base type

    def describe(self) -> str:
        return f"domain {qualified(self.schema, self.domain)} added (as {self.type})"


@dataclass(frozen=True)
class DomainDropped(Change):
    schema: str
    domain: str
    type: str

    def describe(self) -> str:
        return f"domain {qualified(self.schema, self.domain)} dropped (was {self.type})"


@dataclass(frozen=True)
class DomainChanged(Change):
    schema: str
    domain: str
    attribute: str  # type | not_null | default | collation
    before: Value
    after: Value

    def describe(self) -> str:
        return _changed(f"domain {qualified(self.schema, self.domain)}", self.attribute, self.before, self.after)


@dataclass(frozen=True)
class DomainConstraintAdded(Change):
    schema: str
    domain: str
    constraint: str
    definition: str

    def describe(self) -> str:
        subject = f"check {ident(self.constraint)} added on domain {qualified(self.schema, self.domain)}"
        return f"{subject}: {self.definition}"


@dataclass(frozen=True)
class DomainConstraintDropped(Change):
    schema: str
    domain: str
    constraint: str
    definition: str

    def describe(self) -> str:
        return f"check {ident(self.constraint)} dropped from domain {qualified(self.schema, self.domain)}"


@dataclass(frozen=True)
class DomainConstraintChanged(Change):
    """``attribute`` is ``validated`` when only that changed (VALIDATE CONSTRAINT), else ``definition``."""

    schema: str
    domain: str
    constraint: str
    attribute: str  # validated | definition
    before: Value
    after: Value

    def describe(self) -> str:
        subject = f"constraint {ident(self.constraint)} on domain {qualified(self.schema, self.domain)}"
        if self.attribute == "validated":
            return f"{subject} {'is now validated' if self.after else 'is no longer validated'}"
        return _changed(subject, self.attribute, self.before, self.after)


@dataclass(frozen=True)
class CompositeTypeAdded(Change):
    schema: str
    composite: str
    attributes: str  # "a integer, b text"

    def describe(self) -> str:
        return f"composite type {qualified(self.schema, self.composite)} added ({self.attributes})"


@dataclass(frozen=True)
class CompositeTypeDropped(Change):
    schema: str
    composite: str
    attributes: str

    def describe(self) -> str:
        return f"composite type {qualified(self.schema, self.composite)} dropped"


@dataclass(frozen=True)
class CompositeTypeChanged(Change):
    schema: str
    composite: str
    attribute: str  # attributes
    before: str
    after: str

    def describe(self) -> str:
        subject = f"composite type {qualified(self.schema, self.composite)}"
        return _changed(subject, self.attribute, f"({self.before})", f"({self.after})")


def ident_signature(schema: str, signature: str) -> str:
    name, _, arguments = signature.partition("(")
    return f"{qualified(schema, name)}({arguments}"


# ---------------------------------------------------------------------------------------------
# The diff


@dataclass(frozen=True)
class SnapshotDiff:
    changes: tuple[Change, ...]
    data: bool  # were the data-dependent fields compared?

    @property
    def equal(self) -> bool:
        return not self.changes


def diff_to_dict(diff: SnapshotDiff) -> dict[str, Any]:
    """The JSON document of a diff: format, version, whether equal, and the changes in order."""
    return {
        "format": DIFF_FORMAT,
        "version": DIFF_VERSION,
        "equal": diff.equal,
        "data": diff.data,
        "changes": [change.to_dict() for change in diff.changes],
    }


def diff_snapshots(before: Snapshot, after: Snapshot, *, data: bool = False) -> SnapshotDiff:
    """What changed from ``before`` to ``after``, in a stable order: extensions, enums, domains,
    composite types, tables (each with its columns, constraints, indexes, triggers, row-level
    security, policies, inheritance), views, sequences, functions.

    ``data=True`` also compares the data-dependent fields: tables' estimated rows and size,
    sequences' last value and is_called.
    """
    changes = [
        *_extensions(before.extensions, after.extensions),
        *_enums(before.enums, after.enums),
        *_domains(before.domains, after.domains),
        *_composite_types(before.composite_types, after.composite_types),
        *_tables(before.tables, after.tables, data),
        *_views(before.views, after.views),
        *_sequences(before.sequences, after.sequences, data),
        *_functions(before.functions, after.functions),
    ]
    return SnapshotDiff(tuple(changes), data)


def diff_snapshot_files(before: Path, after: Path, *, data: bool = False) -> SnapshotDiff:
    """The diff of two files written by ``safemigrate snapshot --format json`` (SnapshotFileError if
    unreadable). When one is of format version 1, only what that version recorded is compared."""
    (old, old_version), (new, new_version) = read_snapshot_document(before), read_snapshot_document(after)
    if min(old_version, new_version) < SNAPSHOT_VERSION:
        old, new = as_version_1(old), as_version_1(new)
    return diff_snapshots(old, new, data=data)


K = TypeVar("K", str, tuple[str, str])
T = TypeVar("T")


def _pair(before: Seq[T], after: Seq[T], key: Callable[[T], K]) -> Iterator[tuple[T | None, T | None]]:
    """(before, after) for every key of either side, in sorted key order; None on the side lacking it."""
    old: Mapping[K, T] = {key(x): x for x in before}
    new: Mapping[K, T] = {key(x): x for x in after}
    for k in sorted(old.keys() | new.keys()):
        yield old.get(k), new.get(k)


def _attributes(a: Any, b: Any, names: Seq[str]) -> Iterator[tuple[str, Any, Any]]:
    for name in names:
        x, y = getattr(a, name), getattr(b, name)
        if x != y:
            yield name, x, y


def _extensions(before: Seq[Extension], after: Seq[Extension]) -> Iterator[Change]:
    for a, b in _pair(before, after, lambda e: e.name):
        if b is None and a is not None:
            yield ExtensionDropped(a.name, a.version)
        elif a is None and b is not None:
            yield ExtensionAdded(b.name, b.version)
        elif a is not None and b is not None:
            for attribute, x, y in _attributes(a, b, EXTENSION_FIELDS):
                yield ExtensionChanged(a.name, attribute, x, y)


def _enums(before: Seq[EnumType], after: Seq[EnumType]) -> Iterator[Change]:
    for a, b in _pair(before, after, lambda e: (e.schema, e.name)):
        if b is None and a is not None:
            yield EnumDropped(a.schema, a.name, a.values)
        elif a is None and b is not None:
            yield EnumAdded(b.schema, b.name, b.values)
        elif a is not None and b is not None and a.values != b.values:
            for value in a.values:
                if value not in b.values:
                    yield EnumValueRemoved(a.schema, a.name, value)
            for position, value in enumerate(b.values):
                if value not in a.values:
                    yield EnumValueAdded(b.schema, b.name, value, position)
            kept_before = tuple(v for v in a.values if v in b.values)
            kept_after = tuple(v for v in b.values if v in a.values)
            if kept_before != kept_after:
                yield EnumValuesReordered(a.schema, a.name, a.values, b.values)


def _column_signature(table: Table) -> tuple[tuple[str, str, str], ...]:
    return tuple((c.name, c.type, c.nullability) for c in table.columns)


def _renames(dropped: Seq[Table], added: Seq[Table]) -> dict[tuple[str, str], Table]:
    """Dropped (schema, name) -> added table, where exactly one of each has the same columns."""
    by_signature: dict[tuple[Any, ...], tuple[list[Table], list[Table]]] = {}
    for t in dropped:
        by_signature.setdefault((t.schema, _column_signature(t)), ([], []))[0].append(t)
    for t in added:
        by_signature.setdefault((t.schema, _column_signature(t)), ([], []))[1].append(t)
    return {
        (olds[0].schema, olds[0].name): news[0]
        for (_, signature), (olds, news) in by_signature.items()
        if signature and len(olds) == 1 and len(news) == 1
    }


def _schema_and_name(table: Table) -> tuple[str, str]:
    return (table.schema, table.name)


def _tables(before: Seq[Table], after: Seq[Table], data: bool) -> Iterator[Change]:
    pairs = [*_pair(before, after, _schema_and_name)]
    dropped = [a for a, b in pairs if b is None and a is not None]
    added = [b for a, b in pairs if a is None and b is not None]
    renamed = _renames(dropped, added)
    renamed_to = {(t.schema, t.name): old for old, t in renamed.items()}
    old_by_key = {(t.schema, t.name): t for t in before}
    for a, b in pairs:
        if b is None and a is not None:
            if (a.schema, a.name) not in renamed:
                yield TableDropped(a.schema, a.name)
        elif a is None and b is not None:
            old_key = renamed_to.get((b.schema, b.name))
            if old_key is None:
                yield TableAdded(b.schema, b.name)
                continue
            yield TableProbablyRenamed(b.schema, old_key[1], b.name)
            yield from _table(old_by_key[old_key], b, data)
        elif a is not None and b is not None:
            yield from _table(a, b, data)


def _table(a: Table, b: Table, data: bool) -> Iterator[Change]:
    """Changes inside a table present on both sides (or renamed): reported under ``b``'s name."""
    schema, table = b.schema, b.name
    for attribute, x, y in _attributes(a, b, TABLE_FIELDS + (TABLE_DATA_FIELDS if data else ())):
        yield TableChanged(schema, table, attribute, x, y)
    yield from _columns(schema, table, a.columns, b.columns)
    yield from _constraints(schema, table, a.constraints, b.constraints)
    yield from _indexes(schema, table, a.indexes, b.indexes)
    yield from _triggers(schema, table, a.triggers, b.triggers)
    yield from _row_security(schema, table, a, b)
    yield from _policies(schema, table, a.policies, b.policies)
    for parent in a.inherits:
        if parent not in b.inherits:
            yield InheritanceRemoved(schema, table, parent)
    for parent in b.inherits:
        if parent not in a.inherits:
            yield InheritanceAdded(schema, table, parent)


def _row_security(schema: str, table: str, a: Table, b: Table) -> Iterator[Change]:
    if a.row_security != b.row_security:
        yield RowSecurityChanged(schema, table, "enabled", a.row_security, b.row_security)
    if a.force_row_security != b.force_row_security:
        yield RowSecurityChanged(schema, table, "forced", a.force_row_security, b.force_row_security)


def _policies(schema: str, table: str, before: Seq[Policy], after: Seq[Policy]) -> Iterator[Change]:
    for a, b in _pair(before, after, lambda p: p.name):
        if b is None and a is not None:
            yield PolicyDropped(schema, table, a.name, a.definition)
        elif a is None and b is not None:
            yield PolicyAdded(schema, table, b.name, b.definition)
        elif a is not None and b is not None:
            for attribute, x, y in _attributes(a, b, POLICY_FIELDS):
                if attribute == "roles":
                    x, y = ", ".join(x), ", ".join(y)
                yield PolicyChanged(schema, table, b.name, attribute, x, y)


def _domains(before: Seq[Domain], after: Seq[Domain]) -> Iterator[Change]:
    for a, b in _pair(before, after, lambda d: (d.schema, d.name)):
        if b is None and a is not None:
            yield DomainDropped(a.schema, a.name, a.type)
        elif a is None and b is not None:
            yield DomainAdded(b.schema, b.name, b.type)
        elif a is not None and b is not None:
            for attribute, x, y in _attributes(a, b, DOMAIN_FIELDS):
                yield DomainChanged(b.schema, b.name, attribute, x, y)
            yield from _domain_constraints(b.schema, b.name, a.constraints, b.constraints)


def _domain_constraints(
    schema: str, domain: str, before: Seq[DomainConstraint], after: Seq[DomainConstraint]
) -> Iterator[Change]:
    for a, b in _pair(before, after, lambda k: k.name):
        if b is None and a is not None:
            yield DomainConstraintDropped(schema, domain, a.name, a.definition)
        elif a is None and b is not None:
            yield DomainConstraintAdded(schema, domain, b.name, b.definition)
        elif a is not None and b is not None and a != b:
            if a.validated != b.validated and a.definition.removesuffix(" NOT VALID") == b.definition.removesuffix(
                " NOT VALID"
            ):
                yield DomainConstraintChanged(schema, domain, b.name, "validated", a.validated, b.validated)
            else:
                yield DomainConstraintChanged(schema, domain, b.name, "definition", a.definition, b.definition)


def _attributes_text(attributes: Seq[CompositeAttribute]) -> str:
    return ", ".join(
        f"{ident(a.name)} {a.type}" + (f" COLLATE {a.collation}" if a.collation is not None else "") for a in attributes
    )


def _composite_types(before: Seq[CompositeType], after: Seq[CompositeType]) -> Iterator[Change]:
    for a, b in _pair(before, after, lambda c: (c.schema, c.name)):
        if b is None and a is not None:
            yield CompositeTypeDropped(a.schema, a.name, _attributes_text(a.attributes))
        elif a is None and b is not None:
            yield CompositeTypeAdded(b.schema, b.name, _attributes_text(b.attributes))
        elif a is not None and b is not None and a.attributes != b.attributes:
            old, new = _attributes_text(a.attributes), _attributes_text(b.attributes)
            yield CompositeTypeChanged(b.schema, b.name, "attributes", old, new)


def _columns(schema: str, table: str, before: Seq[Column], after: Seq[Column]) -> Iterator[Change]:
    old = {c.name: c for c in before}
    new = {c.name: c for c in after}
    for c in before:
        if c.name not in new:
            yield ColumnDropped(schema, table, c.name, c.type)
    for c in after:
        was = old.get(c.name)
        if was is None:
            yield ColumnAdded(schema, table, c.name, c.type, c.nullability, c.default)
            continue
        if was.type != c.type:
            yield ColumnTypeChanged(schema, table, c.name, was.type, c.type)
        if was.nullability != c.nullability:
            yield ColumnNullabilityChanged(schema, table, c.name, was.nullability, c.nullability)
        if was.default != c.default:
            yield ColumnDefaultChanged(schema, table, c.name, was.default, c.default)
        for attribute, x, y in _attributes(was, c, COLUMN_OTHER_FIELDS):
            yield ColumnChanged(schema, table, c.name, attribute, x, y)


def _constraints(schema: str, table: str, before: Seq[Constraint], after: Seq[Constraint]) -> Iterator[Change]:
    for a, b in _pair(before, after, lambda k: k.name):
        if b is None and a is not None:
            yield ConstraintDropped(schema, table, a.name, a.kind, a.definition)
        elif a is None and b is not None:
            yield ConstraintAdded(schema, table, b.name, b.kind, b.definition)
        elif a is not None and b is not None and a != b:
            only_validation = a.validated != b.validated and _strip_not_valid(a) == _strip_not_valid(b)
            if only_validation:
                yield ConstraintChanged(schema, table, b.name, "validated", a.validated, b.validated)
            else:
                yield ConstraintChanged(schema, table, b.name, "definition", a.definition, b.definition)


def _strip_not_valid(k: Constraint) -> tuple[Any, ...]:
    definition = k.definition.removesuffix(" NOT VALID")
    return (*(getattr(k, f) for f in CONSTRAINT_FIELDS if f not in ("definition", "validated")), definition)


def _indexes(schema: str, table: str, before: Seq[Index], after: Seq[Index]) -> Iterator[Change]:
    for a, b in _pair(before, after, lambda i: i.name):
        if b is None and a is not None:
            yield IndexDropped(schema, table, a.name, a.definition)
        elif a is None and b is not None:
            yield IndexAdded(schema, table, b.name, b.definition)
        elif a is not None and b is not None:
            for attribute, x, y in _attributes(a, b, INDEX_FIELDS):
                yield IndexChanged(schema, table, b.name, attribute, x, y)


def _triggers(schema: str, table: str, before: Seq[Trigger], after: Seq[Trigger]) -> Iterator[Change]:
    for a, b in _pair(before, after, lambda t: t.name):
        if b is None and a is not None:
            yield TriggerDropped(schema, table, a.name, a.definition)
        elif a is None and b is not None:
            yield TriggerAdded(schema, table, b.name, b.definition)
        elif a is not None and b is not None:
            for attribute, x, y in _attributes(a, b, TRIGGER_FIELDS):
                yield TriggerChanged(schema, table, b.name, attribute, x, y)


def _columns_text(columns: Seq[Column]) -> str:
    return ", ".join(f"{ident(c.name)} {c.type}" for c in columns)


def _views(before: Seq[View], after: Seq[View]) -> Iterator[Change]:
    for a, b in _pair(before, after, lambda v: (v.schema, v.name)):
        if b is None and a is not None:
            yield ViewDropped(a.schema, a.name, a.kind)
        elif a is None and b is not None:
            yield ViewAdded(b.schema, b.name, b.kind)
        elif a is not None and b is not None:
            if a.kind != b.kind:
                yield ViewChanged(b.schema, b.name, "type", a.kind, b.kind)
            for attribute, x, y in _attributes(a, b, VIEW_FIELDS):
                yield ViewChanged(b.schema, b.name, attribute, x, y)
            if a.options != b.options:
                yield ViewChanged(b.schema, b.name, "options", ", ".join(a.options), ", ".join(b.options))
            if a.columns != b.columns:
                yield ViewChanged(b.schema, b.name, "columns", _columns_text(a.columns), _columns_text(b.columns))
            yield from _indexes(b.schema, b.name, a.indexes, b.indexes)
            yield from _triggers(b.schema, b.name, a.triggers, b.triggers)


def _sequences(before: Seq[DbSequence], after: Seq[DbSequence], data: bool) -> Iterator[Change]:
    for a, b in _pair(before, after, lambda s: (s.schema, s.name)):
        if b is None and a is not None:
            yield SequenceDropped(a.schema, a.name)
        elif a is None and b is not None:
            yield SequenceAdded(b.schema, b.name)
        elif a is not None and b is not None:
            for attribute, x, y in _attributes(a, b, SEQUENCE_FIELDS + (SEQUENCE_DATA_FIELDS if data else ())):
                yield SequenceChanged(b.schema, b.name, attribute, x, y)


def _functions(before: Seq[Function], after: Seq[Function]) -> Iterator[Change]:
    for a, b in _pair(before, after, lambda f: (f.schema, f.signature)):
        if b is None and a is not None:
            yield FunctionDropped(a.schema, a.signature, a.kind)
        elif a is None and b is not None:
            yield FunctionAdded(b.schema, b.signature, b.kind)
        elif a is not None and b is not None:
            if a.body_sha256 != b.body_sha256:
                yield FunctionChanged(b.schema, b.signature, "body", a.body_sha256, b.body_sha256)
            if a.kind != b.kind:
                yield FunctionChanged(b.schema, b.signature, "type", a.kind, b.kind)
            for attribute, x, y in _attributes(a, b, FUNCTION_FIELDS):
                yield FunctionChanged(b.schema, b.signature, attribute, x, y)
            if a.config != b.config:
                yield FunctionChanged(b.schema, b.signature, "config", ", ".join(a.config), ", ".join(b.config))


# Which fields each comparison reads beyond the object's key and its nested collections; the test
# suite checks that these, the keys and DERIVED_FIELDS cover every field of every snapshot class.
EXTENSION_FIELDS = ("version", "schema")
TABLE_FIELDS = ("persistence", "partition_key", "partition_of", "partition_bound")
TABLE_DATA_FIELDS = ("estimated_rows", "size_bytes")
COLUMN_OTHER_FIELDS = ("identity", "generated", "collation")
COLUMN_FIELDS = ("type", "not_null", "not_null_validated", "default", *COLUMN_OTHER_FIELDS)
CONSTRAINT_FIELDS = tuple(f.name for f in fields(Constraint) if f.name != "name")  # compared whole
INDEX_FIELDS = ("definition", "valid", "constraint")
TRIGGER_FIELDS = ("definition", "enabled")
VIEW_FIELDS = ("definition", "populated")
SEQUENCE_FIELDS = (
    "data_type",
    "start",
    "increment",
    "min_value",
    "max_value",
    "cache",
    "cycle",
    "owned_by",
    "identity",
)
SEQUENCE_DATA_FIELDS = ("last_value", "is_called")
FUNCTION_FIELDS = ("result", "language", "volatility", "strict", "security_definer")
TABLE_SECURITY_FIELDS = ("row_security", "force_row_security", "inherits")  # RowSecurityChanged, Inheritance*
POLICY_FIELDS = ("command", "permissive", "roles", "using", "with_check")
DOMAIN_FIELDS = ("type", "not_null", "default", "collation")
DOMAIN_CONSTRAINT_FIELDS = ("definition", "validated")  # compared whole
COMPOSITE_ATTRIBUTE_FIELDS = ("name", "type", "collation")  # compared whole, as the type's attributes
# Fields that follow from others and need no comparison of their own.
DERIVED_FIELDS = {
    Index: ("unique", "primary", "predicate"),  # all in the definition
    Function: ("name", "arguments"),  # the signature is the key
}
