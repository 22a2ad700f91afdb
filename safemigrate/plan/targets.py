"""Which statements of the pending migrations may fail on existing data, and what to check for each.

Pure: statements in, check targets out. The pending migrations are folded forward in deploy order,
so a check accounts for what earlier pending statements do: a table created by this deploy is empty
(skip); a column added by it holds, in every existing row, its DEFAULT (NULL without one), so the
check runs with that value in place of the column, and a default evaluated per row (volatile,
identity, generated) makes it unpredictable (skip); a renamed table or column is looked up under
the name it has today; and rows changed by an earlier UPDATE / DELETE / TRUNCATE make the data of
today a poor predictor (skip, dry-run rehearses it). ``VALIDATE CONSTRAINT`` is checked as its
constraint: one added ``NOT VALID`` earlier in this deploy is known here, an existing one is read
from the catalog when the checks run (VALIDATE).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from safemigrate.lint.reader import parse_source
from safemigrate.migrations import Migration
from safemigrate.plan import model as pm
from safemigrate.sql import model as m
from safemigrate.sql.preflight_sql import IndexKey, is_plain_cast, read_check_condition, read_index_definition
from safemigrate.sql.types import type_name

TableKey = tuple[str, str]  # (schema, table) as PostgreSQL resolves them

TYPE_CHANGE = "type-change"  # decided against the column's live type (see checks.py)
VALIDATE = "validate-constraint"  # VALIDATE CONSTRAINT of a constraint that exists today: decided against the catalog


@dataclass(frozen=True)
class AddedColumn:
    """A column this deploy adds to an existing table, and what its existing rows hold."""

    column: str
    migration: str
    value: str | None  # the DEFAULT every existing row holds (as sqlglot rendered it); None: NULL
    unpredictable: str = ""  # when set: why its values cannot be known (a DEFAULT evaluated per row...)
    type: m.TypeSpec | None = None  # as declared: the DEFAULT is stored converted to it

    @property
    def holds(self) -> str:
        return "NULL" if self.value is None else self.value


@dataclass(frozen=True)
class Target:
    kind: str  # a check kind of safemigrate.plan.model, or TYPE_CHANGE
    migration: str
    file: str
    statement: m.Statement
    table: m.Name  # as the statement names it
    live_table: TableKey  # the same table as it is called today
    columns: tuple[str, ...]  # live column names
    skip: str = ""  # when set: report as skipped, with this reason, and run nothing
    new_type: m.TypeSpec | None = None  # TYPE_CHANGE
    enum_labels: tuple[str, ...] | None = None  # TYPE_CHANGE to an enum this deploy creates
    index_keys: tuple[IndexKey, ...] = ()  # DUPLICATES of a CREATE UNIQUE INDEX
    predicate: str | None = None  # its WHERE, as sqlglot rendered it
    nulls_not_distinct: bool = False  # DUPLICATES of a NULLS NOT DISTINCT key: NULL keys are equal too
    parent: TableKey | None = None  # ORPHANS: the referenced table today
    parent_columns: tuple[str, ...] = ()  # () = its primary key
    parent_created: bool = False  # the referenced table is created by this deploy (empty)
    added: tuple[AddedColumn, ...] = ()  # the columns of ``columns`` this deploy adds (checked with their value)
    constraint: str | None = None  # VALIDATE: the constraint, by the name it has today
    condition: str | None = None  # CHECK_VIOLATIONS of a CHECK the migration writes: its condition (sqlglot's)
    using: bool = False  # TYPE_CHANGE written with a USING clause

    @property
    def where(self) -> str:
        return f"{self.file}:{self.statement.line}"

    def added_column(self, column: str) -> AddedColumn | None:
        return next((a for a in self.added if a.column == column), None)

    @property
    def assumption(self) -> str:
        """What the check assumed of the added columns ("" when none)."""
        return "; ".join(f"{a.column} is added by {a.migration}: existing rows hold {a.holds}" for a in self.added)


@dataclass(frozen=True)
class _NotValid:
    """A constraint added NOT VALID by this deploy: what its VALIDATE checks (kind "" when added valid)."""

    kind: str
    columns: tuple[str, ...] = ()  # live names
    parent: TableKey | None = None
    parent_columns: tuple[str, ...] = ()
    parent_created: bool = False
    skip: str = ""
    condition: str | None = None  # a CHECK's condition, as sqlglot rendered it from the migration
    written: tuple[str, ...] = ()  # the CHECK's columns as the migration names them


@dataclass
class _Fold:
    """What the pending statements before the current one did."""

    default_schema: str
    live: dict[TableKey, TableKey] = field(default_factory=dict)  # name at this point -> name today
    created: dict[TableKey, str] = field(default_factory=dict)  # tables created by this deploy -> migration
    added: dict[tuple[TableKey, str], AddedColumn] = field(default_factory=dict)  # (live table, column)
    constraints: dict[tuple[TableKey, str], _NotValid] = field(default_factory=dict)  # added by this deploy
    constraint_live: dict[tuple[TableKey, str], str] = field(default_factory=dict)  # renamed -> name today
    column_live: dict[tuple[TableKey, str], str] = field(default_factory=dict)  # renamed columns -> name today
    changed_rows: dict[TableKey, list[tuple[str, frozenset[str] | None]]] = field(default_factory=dict)
    enums: dict[TableKey, list[str]] = field(default_factory=dict)  # enums created by this deploy
    retyped: set[tuple[TableKey, str]] = field(default_factory=set)  # (live table, live column) given a new type

    def key(self, name: m.Name) -> TableKey:
        return (name.schema or self.default_schema, name.name)

    def today(self, name: m.Name) -> TableKey:
        key = self.key(name)
        return self.live.get(key, key)

    def column_today(self, table: TableKey, column: str) -> str:
        return self.column_live.get((table, column), column)

    def rows_changed(self, table: TableKey, columns: Iterable[str] | None) -> str | None:
        """Where an earlier pending statement changed rows of ``table`` that matter to ``columns``
        (None: any change, for columns not known by name here, such as a primary key)."""
        wanted = None if columns is None else set(columns)
        for where, changed in self.changed_rows.get(table, []):
            if changed is None or wanted is None or wanted & changed:
                return where
        return None


def find_targets(pending: Iterable[Migration], files: Mapping[str, str], default_schema: str) -> tuple[Target, ...]:
    """The check targets of ``pending`` (in deploy order); ``files`` maps migration names to shown paths."""
    fold = _Fold(default_schema)
    targets: list[Target] = []
    for migration in pending:
        file = files.get(migration.name, str(migration.sql_path))
        for statement in parse_source(migration.data).statements:
            targets.extend(_targets_of(statement, migration.name, file, fold))
            _apply(statement, migration.name, file, fold)
    return tuple(targets)


def _targets_of(statement: m.Statement, migration: str, file: str, fold: _Fold) -> list[Target]:
    summary = statement.summary
    if isinstance(summary, m.CreateIndex) and summary.unique:
        return [_unique_index(statement, summary, migration, file, fold)]
    if not isinstance(summary, m.AlterTable):
        return []
    table = fold.today(summary.table)

    def target(
        kind: str,
        columns: Iterable[str],
        *,
        new_type: m.TypeSpec | None = None,
        enum_labels: tuple[str, ...] | None = None,
        parent: TableKey | None = None,
        parent_columns: tuple[str, ...] = (),
        parent_created: bool = False,
        nulls_not_distinct: bool = False,
    ) -> Target:
        live_columns = tuple(fold.column_today(table, c) for c in columns)
        found = Target(
            kind,
            migration,
            file,
            statement,
            summary.table,
            table,
            live_columns,
            new_type=new_type,
            enum_labels=enum_labels,
            parent=parent,
            parent_columns=parent_columns,
            parent_created=parent_created,
            nulls_not_distinct=nulls_not_distinct,
        )
        return _with_skip(found, fold)

    found: list[Target] = []
    for action in summary.actions:
        if isinstance(action, m.SetNotNull):
            found.append(target(pm.NULLS, [action.column]))
        elif isinstance(action, m.AddColumn) and _adds_empty_required(action.column):
            found.append(target(pm.REQUIRED_COLUMN, [action.column.name]))
        elif isinstance(action, m.AddConstraint) and action.constraint.using_index is None:
            constraint = action.constraint
            if constraint.kind in ("unique", "primary key") and constraint.columns:
                found.append(
                    target(pm.DUPLICATES, constraint.columns, nulls_not_distinct=constraint.nulls_not_distinct)
                )
                if constraint.kind == "primary key":
                    found.extend(target(pm.NULLS, [c]) for c in constraint.columns)
            elif constraint.kind == "check" and not constraint.not_valid:
                if constraint.not_null_column is not None:
                    found.append(target(pm.NULLS, [constraint.not_null_column]))
                else:
                    found.append(_check_condition(statement, summary, constraint, migration, file, fold))
            elif constraint.kind == "foreign key" and not constraint.not_valid and constraint.references:
                found.append(_foreign_key(constraint, target, fold))
            elif constraint.kind == "exclude":
                excluded = replace(target(pm.EXCLUSION, ()), constraint=constraint.name)
                found.append(excluded if excluded.skip else _skipped(excluded, _EXCLUSION_NOT_CHECKED))
        elif isinstance(action, m.ValidateConstraint):
            found.extend(_validation(statement, summary, action.name, migration, file, fold))
        elif isinstance(action, m.AlterColumnType):
            # The type as the migration names it, schema included (Prisma's multiSchema: "billing"."Plan_new").
            enum = fold.enums.get(fold.key(type_name(action.new_type))) if action.new_type.user_defined else None
            found_target = target(
                TYPE_CHANGE,
                [action.column],
                new_type=action.new_type,
                enum_labels=tuple(enum) if enum is not None else None,
            )
            found_target = replace(found_target, using=action.using is not None)
            if not found_target.skip and action.using and not is_plain_cast(action.using, action.column):
                found_target = _skipped(
                    found_target, f"its USING expression ({action.using}) is a conversion of your own: not checked"
                )
            found.append(found_target)
            if action.new_type.base == "numeric" and action.new_type.params:
                # What it rounds, reported beside what makes it fail (checks.py runs it only with the type change).
                found.append(replace(found_target, kind=pm.ROUNDED))
        _apply_action(summary, action, migration, fold, statement.text)
        if isinstance(action, m.AddColumn):
            # Its own constraints meet the value the column holds in every existing row (folded just above).
            found.extend(_inline_constraint(action.column.name, c, target, fold) for c in action.column.constraints)
    return found


_EXCLUSION_NOT_CHECKED = "rows that conflict under an exclusion constraint's operators are not looked for (dry-run can)"


def _foreign_key(constraint: m.ConstraintSpec, target: Callable[..., Target], fold: _Fold) -> Target:
    assert constraint.references is not None
    parent = fold.today(constraint.references)
    return target(
        pm.ORPHANS,
        constraint.columns,
        parent=parent,
        parent_columns=tuple(fold.column_today(parent, c) for c in constraint.ref_columns),
        parent_created=fold.key(constraint.references) in fold.created,
    )


def _inline_constraint(column: str, constraint: m.ConstraintSpec, target: Callable[..., Target], fold: _Fold) -> Target:
    """The check of a constraint written in ``ADD COLUMN column ... UNIQUE / PRIMARY KEY / REFERENCES / CHECK``."""
    if constraint.kind in ("unique", "primary key"):
        # a primary key's NULLs: its NOT NULL, checked as a required column
        return target(pm.DUPLICATES, [column], nulls_not_distinct=constraint.nulls_not_distinct)
    if constraint.kind == "foreign key" and constraint.references is not None:
        return _foreign_key(constraint, target, fold)
    checked = target(pm.CHECK_VIOLATIONS, [column])  # "check", the other kind ADD COLUMN can write
    return checked if checked.skip else _skipped(checked, _UNNAMED_CHECK)


# The parser keeps no condition for these (safemigrate.sql.preflight_sql reads named table constraints only).
_UNNAMED_CHECK = (
    "the condition of an unnamed CHECK, or of one written in ADD COLUMN, is not read from the migration: "
    "not checked (write it as ADD CONSTRAINT name CHECK (...), or dry-run can)"
)


def _check_condition(
    statement: m.Statement,
    summary: m.AlterTable,
    constraint: m.ConstraintSpec,
    migration: str,
    file: str,
    fold: _Fold,
) -> Target:
    """Rows of today that break a CHECK the migration adds: its condition, read through sqlglot, runs
    in the read-only transaction, when it names columns as they are today."""
    table = fold.today(summary.table)
    columns = tuple(fold.column_today(table, c) for c in constraint.columns)
    condition = read_check_condition(statement.text, constraint.name) if constraint.name else None
    found = _with_skip(
        Target(pm.CHECK_VIOLATIONS, migration, file, statement, summary.table, table, columns, condition=condition),
        fold,
    )
    if constraint.name is None and not found.skip:
        return _skipped(found, _UNNAMED_CHECK)
    return _checkable_condition(found, constraint.columns, fold)


def _checkable_condition(found: Target, written: tuple[str, ...], fold: _Fold) -> Target:
    """A CHECK target whose condition can run on today's table, else skipped with the reason."""
    if found.skip:
        return found
    retyped = [c for c in found.columns if (found.live_table, c) in fold.retyped]
    if retyped:
        # The condition compares values of the new type ('10' < '2' as text): today's values cannot tell.
        return _skipped(found, f"its condition reads {', '.join(retyped)}, whose type this deploy changes: not checked")
    if found.condition is None:
        return _skipped(found, "its CHECK condition could not be read safely, so it is not run")
    if found.columns != written:
        return _skipped(found, "its condition names columns renamed earlier in this deploy: not checked")
    return found


def _validation(
    statement: m.Statement, summary: m.AlterTable, name: str, migration: str, file: str, fold: _Fold
) -> list[Target]:
    """What ``VALIDATE CONSTRAINT name`` checks: the constraint as this deploy added it, or as it is today."""
    table = fold.today(summary.table)
    added = fold.constraints.get((table, name))
    if added is not None:
        if not added.kind:
            return []  # added valid: already checked when it was added, VALIDATE does nothing
        found = Target(
            added.kind,
            migration,
            file,
            statement,
            summary.table,
            table,
            added.columns,
            skip=added.skip,
            parent=added.parent,
            parent_columns=added.parent_columns,
            parent_created=added.parent_created,
            condition=added.condition,
        )
        if added.kind == pm.CHECK_VIOLATIONS and not added.skip:
            return [_checkable_condition(_with_skip(found, fold), added.written, fold)]
        return [_with_skip(found, fold)]
    live_name = fold.constraint_live.get((table, name), name)
    found = Target(VALIDATE, migration, file, statement, summary.table, table, (), constraint=live_name)
    if fold.key(summary.table) in fold.created:
        return [_skipped(found, "the table is created by this deploy, so it holds no rows yet")]
    changes = fold.changed_rows.get(table)
    if changes:
        # Which columns the constraint reads is known only from the catalog: any earlier change counts.
        changed_at = changes[0][0]
        reason = f"rows of this table are changed first by {changed_at}: today's data cannot predict it (dry-run can)"
        return [_skipped(found, reason)]
    return [found]


def _not_valid(constraint: m.ConstraintSpec, table: TableKey, fold: _Fold, statement_text: str) -> _NotValid:
    """What a later VALIDATE of ``constraint`` (added by this deploy) has to check."""
    if not constraint.not_valid:
        return _NotValid("")
    columns = tuple(fold.column_today(table, c) for c in constraint.columns)
    if constraint.kind == "foreign key" and constraint.references is not None:
        parent = fold.today(constraint.references)
        return _NotValid(
            pm.ORPHANS,
            columns,
            parent,
            tuple(fold.column_today(parent, c) for c in constraint.ref_columns),
            fold.key(constraint.references) in fold.created,
        )
    if constraint.kind == "check" and constraint.not_null_column is not None:
        return _NotValid(pm.NULLS, (fold.column_today(table, constraint.not_null_column),))
    if constraint.kind == "check" and constraint.name is not None:
        condition = read_check_condition(statement_text, constraint.name)
        return _NotValid(pm.CHECK_VIOLATIONS, columns, condition=condition, written=constraint.columns)
    if constraint.kind == "check":
        return _NotValid(pm.CHECK_VIOLATIONS, columns, skip="its CHECK condition could not be read safely: not checked")
    return _NotValid("")


def _added_column(action: m.AddColumn, migration: str) -> AddedColumn:
    """What the existing rows hold in a column added to their table: its DEFAULT, computed once."""
    column = action.column
    if action.if_not_exists:
        return AddedColumn(column.name, migration, None, "it may exist already (IF NOT EXISTS)")
    if column.identity:
        return AddedColumn(column.name, migration, None, "it numbers every row with a new value (identity)")
    if column.generated:
        return AddedColumn(column.name, migration, None, "it is generated from other columns")
    default = column.default
    if default is None or default.sql.strip().upper() == "NULL":
        return AddedColumn(column.name, migration, None)
    if default.volatile:
        # PostgreSQL evaluates a volatile DEFAULT once per row (unknown functions count as volatile).
        return AddedColumn(column.name, migration, None, f"its DEFAULT {default.sql} is evaluated for each row")
    return AddedColumn(column.name, migration, default.sql)


def _adds_empty_required(column: m.ColumnSpec) -> bool:
    if not column.not_null or column.identity or column.generated:
        return False
    return column.default is None or column.default.sql.strip().upper() == "NULL"


def _unique_index(statement: m.Statement, summary: m.CreateIndex, migration: str, file: str, fold: _Fold) -> Target:
    table = fold.today(summary.table)
    definition = read_index_definition(statement.text)
    if definition is None:
        columns = tuple(fold.column_today(table, c) for c in summary.columns)
        reason = "the index definition could not be read safely (keys or WHERE clause), so it is not run"
        return _with_skip(
            Target(pm.DUPLICATES, migration, file, statement, summary.table, table, columns, skip=reason), fold
        )
    keys = tuple(
        IndexKey(fold.column_today(table, k.column), k.expression) if k.column is not None else k
        for k in definition.keys
    )
    renamed = any(k.column is not None and k.column != o.column for k, o in zip(keys, definition.keys, strict=True))
    columns = tuple(k.column or k.expression for k in keys)
    found = Target(
        pm.DUPLICATES,
        migration,
        file,
        statement,
        summary.table,
        table,
        columns,
        index_keys=keys,
        predicate=definition.predicate,
        nulls_not_distinct=summary.nulls_not_distinct,
    )
    if renamed and (definition.predicate or any(k.column is None for k in keys)):
        # Expressions name columns as they are called at the statement, not today.
        return _skipped(found, "its expressions name columns renamed earlier in this deploy: not checked")
    return _with_skip(found, fold)


def _with_skip(target: Target, fold: _Fold) -> Target:
    """Mark a target that needs no query (its table is new, earlier statements change its rows, an added
    column's values cannot be known), or note the columns it adds, checked with the value they hold."""
    if target.skip:
        return target
    if fold.key(target.table) in fold.created:
        return _skipped(target, "the table is created by this deploy, so it holds no rows yet")
    changed_at = fold.rows_changed(target.live_table, target.columns)
    if changed_at is not None:
        return _skipped(
            target,
            f"rows of this table are changed first by {changed_at}: today's data cannot predict it (dry-run can)",
        )
    if target.kind == pm.ORPHANS and target.parent is not None:
        where = fold.rows_changed(target.parent, target.parent_columns or None)  # () is its primary key
        if where is not None:
            return _skipped(
                target,
                f"rows of the referenced table are changed first by {where}: today's data cannot predict it "
                "(dry-run can)",
            )
    if target.kind in (pm.DUPLICATES, pm.NULLS, pm.ORPHANS):
        retyped = [c for c in target.columns if (target.live_table, c) in fold.retyped]
        if retyped:
            return _skipped(
                target,
                f"column {retyped[0]} is given a new type earlier in this deploy, and its converted values "
                "(rounded, cut, padded) are not what today's rows hold (dry-run can)",
            )
    added = tuple(a for c in target.columns if (a := fold.added.get((target.live_table, c))) is not None)
    for column in added:
        if column.unpredictable:
            return _skipped(
                target,
                f"column {column.column} is added by {column.migration} and {column.unpredictable}: "
                "what existing rows hold cannot be predicted (dry-run can)",
            )
    if added and target.kind == TYPE_CHANGE:
        column = added[0]
        if column.value is None:
            return _skipped(target, f"column {column.column} is added by {column.migration}: it holds only NULLs")
        return _skipped(
            target,
            f"column {column.column} is added by {column.migration}: every existing row holds its DEFAULT "
            f"{column.value}, whose conversion is not checked (dry-run can)",
        )
    return replace(target, added=added) if added else target


def _skipped(target: Target, reason: str) -> Target:
    return replace(target, skip=reason)


def _apply(statement: m.Statement, migration: str, file: str, fold: _Fold) -> None:
    """Fold one statement (ALTER TABLE actions are folded one by one in _targets_of)."""
    summary = statement.summary
    where = f"{file}:{statement.line}"
    if isinstance(summary, m.CreateTable):
        key = fold.key(summary.table)
        if not summary.if_not_exists or key not in fold.live:
            fold.created[key] = migration
    elif isinstance(summary, m.DropObjects) and summary.kind == "table":
        for name in summary.names:
            key = fold.key(name)
            fold.live.pop(key, None)
            fold.created.pop(key, None)
    elif isinstance(summary, (m.Update, m.Delete, m.Insert)):
        for change in m.data_changes(summary):  # a WITH query can change several tables
            # None: every column (rows deleted, or new rows, which today's data cannot show either)
            changed: frozenset[str] | None = None
            if isinstance(change, m.Update):
                changed = frozenset(fold.column_today(fold.today(change.table), c) for c in change.columns)
            fold.changed_rows.setdefault(fold.today(change.table), []).append((where, changed))
    elif isinstance(summary, m.Truncate):
        for name in summary.tables:
            fold.changed_rows.setdefault(fold.today(name), []).append((where, None))
    elif isinstance(summary, m.CreateEnum):
        fold.enums[fold.key(summary.name)] = list(summary.values)
    elif isinstance(summary, m.AlterEnumAddValue):
        labels = fold.enums.get(fold.key(summary.name))
        if labels is not None and summary.value not in labels:
            labels.append(summary.value)
    elif isinstance(summary, m.RenameType):
        labels = fold.enums.pop(fold.key(summary.name), None)
        if labels is not None:
            fold.enums[(fold.key(summary.name)[0], summary.new)] = labels


def _apply_action(
    summary: m.AlterTable, action: m.AlterAction, migration: str, fold: _Fold, statement_text: str
) -> None:
    key = fold.key(summary.table)
    table = fold.today(summary.table)
    if isinstance(action, m.AddColumn):
        declared = action.column.type
        # an enum this deploy creates: there is no such type to convert to today
        created_enum = declared.user_defined and fold.key(m.Name(declared.base)) in fold.enums
        column = replace(_added_column(action, migration), type=None if created_enum else declared)
        fold.added[(table, action.column.name)] = column
    elif isinstance(action, m.DropColumn):
        fold.added.pop((table, action.column), None)
    elif isinstance(action, m.RenameColumn):
        added = fold.added.pop((table, action.old), None)
        if added is not None:
            # Not a column of today: it goes on by its new name (checks use its value, not its name).
            fold.added[(table, action.new)] = replace(added, column=action.new)
        else:
            live = fold.column_today(table, action.old)
            fold.column_live.pop((table, action.old), None)
            fold.column_live[(table, action.new)] = live
    if isinstance(action, m.AlterColumnType):
        fold.retyped.add((table, fold.column_today(table, action.column)))
    if isinstance(action, m.AlterColumnType) and (table, action.column) in fold.added:
        added = fold.added[(table, action.column)]
        if (added.value is not None or action.using) and not added.unpredictable:
            # The conversion (or its USING) decides what the rows hold next.
            fold.added[(table, action.column)] = replace(added, unpredictable="its type is changed after it is added")
    elif isinstance(action, m.AddConstraint) and action.constraint.name is not None:
        fold.constraints[(table, action.constraint.name)] = _not_valid(action.constraint, table, fold, statement_text)
    elif isinstance(action, m.RenameConstraint):
        if (table, action.old) in fold.constraints:
            fold.constraints[(table, action.new)] = fold.constraints.pop((table, action.old))
        else:
            fold.constraint_live[(table, action.new)] = fold.constraint_live.pop((table, action.old), action.old)
    elif isinstance(action, m.DropConstraint):
        fold.constraints.pop((table, action.name), None)
        fold.constraint_live.pop((table, action.name), None)
    elif isinstance(action, m.RenameTable):
        new_key = (key[0], action.new)
        fold.live.pop(key, None)
        fold.live[new_key] = table
        if key in fold.created:
            fold.created[new_key] = fold.created.pop(key)
