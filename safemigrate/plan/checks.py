"""Preflight data checks: read-only queries on the target that predict whether a statement fails.

Every check runs in its own READ ONLY transaction with ``statement_timeout`` set to what is left of
the budget (at most ``check_timeout``); a check cut short, or kept waiting by another session's
lock, is reported as unfinished instead of failing the plan. Queries are composed with
psycopg.sql: identifiers quoted, values passed as parameters; the only SQL text taken from a
migration is a unique index's keys and WHERE predicate, a named CHECK's condition, and the DEFAULT
of a column this deploy adds (when it is not evaluated per row: every existing row holds it), only as
sqlglot re-rendered them (safemigrate.sql.preflight_sql, safemigrate.sql.parse), inside the
read-only transaction. A CHECK over an added column reads the table's rows with that column beside
them, holding its value. The VALIDATE of a constraint that exists today takes its condition from the
catalog (pg_get_expr). Type changes are checked value by value, for an array column element by
element; what a conversion rounds (numeric scale) is reported as a passed check that counts the
changed rows: a data change, not a failure.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from safemigrate.db.connect import duration_text
from safemigrate.plan import model as pm
from safemigrate.plan.live_context import LiveColumn, LiveContext
from safemigrate.plan.settings import SAMPLE_SIZE, PlanSettings
from safemigrate.plan.targets import TYPE_CHANGE, VALIDATE, TableKey, Target
from safemigrate.sql import model as m
from safemigrate.sql.types import type_name

_INTEGER_RANGE = {
    "smallint": (-32768, 32767),
    "integer": (-2147483648, 2147483647),
    "bigint": (-9223372036854775808, 9223372036854775807),
}
_LIVE_INTEGER_RANK = {"int2": 2, "int4": 4, "int8": 8}
_NEW_INTEGER_RANK = {"smallint": 2, "integer": 4, "bigint": 8}
_LIVE_NUMBERS = frozenset({"int2", "int4", "int8", "numeric", "float4", "float8"})
# Types a text value may be cast to, as the parser names them; only these are spelled into a cast.
_FORMAT_TYPES = frozenset(
    {
        "smallint",
        "integer",
        "bigint",
        "numeric",
        "real",
        "double precision",
        "uuid",
        "date",
        "timestamp",
        "timestamptz",
        "time",
        "timetz",
        "interval",
        "boolean",
        "json",
        "jsonb",
        "inet",
        "cidr",
    }
)
# Fallbacks before PostgreSQL 16 (no pg_input_is_valid): what a value must look like.
_INTEGER_PATTERN = r"^\s*[+-]?[0-9]+\s*$"
# numeric_in: digits with an exponent, or NaN and the infinities (any case), with spaces around.
_NUMERIC_PATTERN = (
    r"^\s*([+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
    r"|[nN][aA][nN]|[+-]?([iI][nN][fF]|[iI][nN][fF][iI][nN][iI][tT][yY]))\s*$"
)
# uuid_in: 32 hex digits, a hyphen allowed after any group of 4, the whole in braces or not; no spaces.
_UUID_PATTERN = r"^([0-9a-fA-F]{4}-?){7}[0-9a-fA-F]{4}$|^\{([0-9a-fA-F]{4}-?){7}[0-9a-fA-F]{4}\}$"
_SAMPLE_WIDTH = 60
_INPUT_IS_VALID_SINCE = 160000


@dataclass(frozen=True)
class _Query:
    """A check, composed: rows matching ``condition`` offend; samples are keys (or grouped values)."""

    kind: str
    description: str
    table: TableKey
    condition: sql.Composable
    params: dict[str, Any]
    sample: sql.Composable  # the text of one sample
    sample_label: str
    order: sql.Composable | None = None  # how key samples are ordered (by the key); None: by count
    group_by: sql.Composable | None = None  # duplicates: the key expressions
    grouped: bool = False  # samples are values, with how many rows hold each
    count_groups: bool = False  # count duplicate groups (sample is the group key)
    cast_attempt: sql.Composable | None = None  # the fallback: cast every value and see whether it fails
    data_change: str = ""  # when set: matching rows are changed by the statement, not refused (what happens to them)
    source: sql.Composable | None = None  # rows to read instead of the table's: with the columns the deploy adds


def run_checks(
    conn: psycopg.Connection[Any],
    targets: Sequence[Target],
    live: LiveContext,
    enum_labels: dict[TableKey, tuple[str, ...]],
    settings: PlanSettings,
    default_schema: str,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[pm.CheckResult, ...]:
    """Run the check of every target within ``settings.check_budget`` seconds."""
    results: list[pm.CheckResult] = []
    deadline: float | None = None
    for found in targets:
        target_or_result = _resolve_validation(found, live)
        if target_or_result is None:
            continue  # the constraint is already valid: VALIDATE does nothing
        if isinstance(target_or_result, pm.CheckResult):
            results.append(target_or_result)
            continue
        target = target_or_result
        query_or_result = _compose(target, live, enum_labels, default_schema)
        if query_or_result is None:
            continue  # a type change that cannot fail on data
        if isinstance(query_or_result, pm.CheckResult):
            results.append(query_or_result)
            continue
        query = query_or_result
        if deadline is None:
            deadline = clock() + settings.check_budget
        remaining = deadline - clock()
        if remaining <= 0:
            results.append(
                _result(
                    target,
                    query.kind,
                    pm.UNFINISHED,
                    query.description,
                    detail=f"the check budget ({duration_text(settings.check_budget)}) was spent before it could run",
                )
            )
            continue
        results.append(_run(conn, target, query, min(remaining, settings.check_timeout), clock))
    return tuple(results)


def _resolve_validation(target: Target, live: LiveContext) -> Target | pm.CheckResult | None:
    """A VALIDATE CONSTRAINT of a constraint that exists today, as the check of what it validates."""
    if target.kind != VALIDATE or target.skip or target.live_table not in live.tables:
        return target
    name = target.constraint or "?"
    constraint = live.constraint(target.live_table, name)
    if constraint is None:
        return _result(
            target,
            VALIDATE,
            pm.SKIPPED,
            _describe(target),
            detail=f"constraint {name} of {target.live_table[1]} does not exist in the database today",
        )
    if constraint.validated:
        return None
    if constraint.kind == "f" and constraint.parent is not None:
        return replace(
            target,
            kind=pm.ORPHANS,
            columns=constraint.columns,
            parent=constraint.parent,
            parent_columns=constraint.parent_columns,
        )
    if constraint.kind == "n" and len(constraint.columns) == 1:
        return replace(target, kind=pm.NULLS, columns=constraint.columns)
    if constraint.kind == "c" and constraint.expression is not None:
        # the condition as PostgreSQL deparsed it from the catalog
        return replace(target, kind=pm.CHECK_VIOLATIONS, columns=constraint.columns, condition=constraint.expression)
    return _result(
        target, VALIDATE, pm.SKIPPED, _describe(target), detail=f"constraint {name} is not a kind the plan checks"
    )


def _sql_text(text: str) -> sql.SQL:
    """SQL text from the migration or the catalog, inside a query run with psycopg's parameters
    (every check passes them, even when empty): a literal % is written %% there."""
    return sql.SQL(text.replace("%", "%%"))


def _result(target: Target, kind: str, outcome: str, description: str, **extra: Any) -> pm.CheckResult:
    return pm.CheckResult(
        kind=kind,
        outcome=outcome,
        migration=target.migration,
        file=target.file,
        line=target.statement.line,
        statement_index=target.statement.index,
        table=target.table.display(),
        columns=target.columns,
        description=description,
        **extra,
    )


def _describe(target: Target) -> str:
    columns = ", ".join(target.columns)
    table = target.table.display()
    if target.kind == pm.NULLS:
        return f"NULLs in {table}.{columns} (SET NOT NULL)"
    if target.kind == pm.REQUIRED_COLUMN:
        return f"rows of {table} (new required column {columns} has no default)"
    if target.kind == pm.DUPLICATES:
        where = f" where {target.predicate}" if target.predicate else ""
        nulls = ", NULLS NOT DISTINCT" if target.nulls_not_distinct else ""
        return f"duplicate ({columns}) in {table}{where} (unique{nulls})"
    if target.kind == pm.ORPHANS:
        parent = target.parent[1] if target.parent else "?"
        return f"rows of {table} ({columns}) without a parent in {parent} (foreign key)"
    if target.kind == pm.CHECK_VIOLATIONS and target.constraint is not None:
        return f"rows of {table} that break CHECK constraint {target.constraint}"
    if target.kind == pm.CHECK_VIOLATIONS:
        return f"rows of {table} that break the CHECK constraint ({columns})"
    if target.kind == VALIDATE:
        return f"rows of {table} that break constraint {target.constraint} (VALIDATE CONSTRAINT)"
    if target.kind == pm.EXCLUSION:
        return f"rows of {table} that conflict under exclusion constraint {target.constraint or '(unnamed)'}"
    return f"values of {table}.{columns} that do not fit {target.new_type.display() if target.new_type else '?'}"


def _compose(
    target: Target, live: LiveContext, enum_labels: dict[TableKey, tuple[str, ...]], default_schema: str
) -> _Query | pm.CheckResult | None:
    if target.kind == pm.ROUNDED:
        return _rounding(target, live)  # the type change's own check reports why it is skipped, if it is
    if target.skip:
        return _result(target, _kind_of(target), pm.SKIPPED, _describe(target), detail=target.skip)
    if target.live_table not in live.tables:
        return _result(
            target,
            _kind_of(target),
            pm.SKIPPED,
            _describe(target),
            detail=f"table {target.live_table[1]} does not exist in the database today",
        )
    # Columns this deploy adds are not in the database yet: the check uses the value their rows hold.
    needed = [] if target.kind == pm.REQUIRED_COLUMN else list(target.columns)
    if target.kind == pm.DUPLICATES and target.index_keys:
        needed = [k.column for k in target.index_keys if k.column is not None]
    missing = [c for c in needed if target.added_column(c) is None and live.column(target.live_table, c) is None]
    if missing:
        return _result(
            target,
            _kind_of(target),
            pm.SKIPPED,
            _describe(target),
            detail=f"column {', '.join(missing)} does not exist in the database today",
        )
    table = sql.Identifier(*target.live_table)
    keys = live.primary_keys.get(target.live_table, ())
    key_sample, key_label, key_order = _key_sample(keys)
    if target.kind == pm.NULLS:
        nulls = sql.SQL("{} IS NULL").format(_column_value(target, target.columns[0]))
        return _Query(pm.NULLS, _describe(target), target.live_table, nulls, {}, key_sample, key_label, key_order)
    if target.kind == pm.REQUIRED_COLUMN:
        every_row = sql.SQL("true")
        return _Query(
            pm.REQUIRED_COLUMN, _describe(target), target.live_table, every_row, {}, key_sample, key_label, key_order
        )
    if target.kind == pm.DUPLICATES:
        return _duplicates(target)
    if target.kind == pm.ORPHANS:
        return _orphans(target, live, table)
    if target.kind == pm.CHECK_VIOLATIONS and target.condition is not None:
        # The condition the migration writes, as sqlglot re-rendered it, run in the read-only transaction.
        return _Query(
            pm.CHECK_VIOLATIONS,
            f"{_describe(target)}: {target.condition}",
            target.live_table,
            sql.SQL("({}) IS FALSE").format(_sql_text(target.condition)),  # NULL passes a CHECK
            {},
            key_sample,
            key_label,
            key_order,
            source=_with_added_columns(target, live, table),
        )
    if target.kind == pm.CHECK_VIOLATIONS:  # targets.py skips these; kept so none runs without a condition
        return _result(
            target,
            pm.CHECK_VIOLATIONS,
            pm.SKIPPED,
            _describe(target),
            detail="its CHECK condition is not known: not checked",
        )
    if target.kind == TYPE_CHANGE:
        live_column = live.column(target.live_table, target.columns[0])
        assert live_column is not None  # checked above
        return _type_change(target, live_column, live, enum_labels, default_schema, key_sample, key_label, key_order)
    return None


def _kind_of(target: Target) -> str:
    if target.kind != TYPE_CHANGE:
        return target.kind
    new = target.new_type
    if new is not None and new.user_defined:
        return pm.ENUM_VALUES
    if new is not None and new.base in ("varchar", "char", "bpchar"):
        return pm.TOO_LONG
    return pm.BAD_FORMAT


def _key_sample(keys: Sequence[str]) -> tuple[sql.Composable, str, sql.Composable]:
    """The text shown for an offending row (its primary key, else its physical location) and its order."""
    if not keys:
        return sql.SQL("ctid::text"), "ctid", sql.SQL("ctid")
    order = sql.SQL(", ").join(sql.Identifier(k) for k in keys)
    if len(keys) == 1:
        return sql.SQL("{}::text").format(sql.Identifier(keys[0])), keys[0], order
    return sql.SQL("ROW({})::text").format(order), "(" + ", ".join(keys) + ")", order


def _column_value(target: Target, column: str, alias: str | None = None) -> sql.Composable:
    """The column, or for one this deploy adds, the value every existing row holds in it: its DEFAULT
    (NULL without one) converted to the column's declared type, as PostgreSQL stores it (``DEFAULT
    0.005`` in a ``DECIMAL(10,2)`` holds 0.01; ``DEFAULT 'f'`` in a ``BOOLEAN`` is false, not text)."""
    added = target.added_column(column)
    if added is None:
        return sql.Identifier(alias, column) if alias else sql.Identifier(column)
    # Its DEFAULT as sqlglot rendered it, not evaluated per row (see targets._added_column).
    value = sql.SQL("NULL") if added.value is None else sql.SQL("({})").format(_sql_text(added.value))
    declared = _declared_type(added.type)
    return value if declared is None else sql.SQL("CAST({} AS {})").format(value, declared)


_BUILT_IN_TYPE_NAME = re.compile(r"[a-z][a-z0-9_ ]*")


def _declared_type(spec: m.TypeSpec | None) -> sql.Composable | None:
    """The column's type spelled for a cast: a built-in one by its canonical name as the parser read it
    (never text from the file), one of the project's own (an enum that exists today: targets.py leaves
    out those the deploy creates) as a quoted name; None when there is nothing to convert to."""
    if spec is None:
        return None
    if spec.user_defined:
        return sql.SQL("{}{}").format(sql.Identifier(spec.base), sql.SQL("[]" * spec.array_dims))
    if not _BUILT_IN_TYPE_NAME.fullmatch(spec.base):
        return None
    text: sql.Composable = sql.SQL(spec.base)
    if spec.params:
        text = sql.SQL("{}({})").format(text, sql.SQL(", ").join(sql.Literal(p) for p in spec.params))
    return sql.SQL("{}{}").format(text, sql.SQL("[]" * spec.array_dims))


def _with_added_columns(target: Target, live: LiveContext, table: sql.Identifier) -> sql.Composable | None:
    """The table's rows (and their ctid, which a table without a primary key is sampled by) with each
    column this deploy adds holding its value: a condition written over an added column reads that
    value. A column of today of the same name (dropped by the deploy, then added again) is left out."""
    if not target.added:
        return None
    added_names = {a.column for a in target.added}
    today = [sql.Identifier(c) for c in live.columns.get(target.live_table, {}) if c not in added_names]
    added = [
        sql.SQL("{} AS {}").format(_column_value(target, a.column), sql.Identifier(a.column)) for a in target.added
    ]
    return sql.SQL("(SELECT {} FROM {})").format(sql.SQL(", ").join([*today, sql.SQL("ctid"), *added]), table)


def _key_expressions(target: Target) -> list[sql.Composable]:
    def key(column: str) -> sql.Composable:
        if target.added_column(column) is None:
            return sql.Identifier(column)
        # Cast: a bare constant in GROUP BY would be read as a column position (or be refused).
        return sql.SQL("({})::text").format(_column_value(target, column))

    if target.index_keys:
        # A plain column is quoted by psycopg; an expression is sqlglot's rendering of what it parsed.
        return [key(k.column) if k.column is not None else _sql_text(k.expression) for k in target.index_keys]
    return [key(c) for c in target.columns]


def _duplicates(target: Target) -> _Query:
    expressions = _key_expressions(target)
    # A key with a NULL is distinct from every other, unless NULLS NOT DISTINCT (GROUP BY groups NULLs).
    not_null = sql.SQL(" AND ").join(sql.SQL("({}) IS NOT NULL").format(e) for e in expressions)
    condition: sql.Composable = sql.SQL("true") if target.nulls_not_distinct else not_null
    if target.predicate is not None:
        condition = sql.SQL("{} AND ({})").format(condition, _sql_text(target.predicate))
    group = sql.SQL(", ").join(expressions)
    if len(expressions) == 1:
        sample: sql.Composable = sql.SQL("({})::text").format(expressions[0])
    else:
        sample = sql.SQL("ROW({})::text").format(group)
    label = target.columns[0] if len(target.columns) == 1 else "(" + ", ".join(target.columns) + ")"
    return _Query(
        pm.DUPLICATES,
        _describe(target),
        target.live_table,
        condition,
        {},
        sample,
        label,
        grouped=True,
        count_groups=True,
        group_by=group,
    )


def _orphans(target: Target, live: LiveContext, table: sql.Identifier) -> _Query | pm.CheckResult:
    child = [_column_value(target, c, "c") for c in target.columns]
    not_null = sql.SQL(" AND ").join(sql.SQL("{} IS NOT NULL").format(c) for c in child)
    if target.parent_created:
        condition: sql.Composable = not_null  # the parent table is new, so empty: every key is an orphan
    else:
        parent = target.parent
        if parent is None or parent not in live.tables:
            name = parent[1] if parent else "?"
            return _result(
                target, pm.ORPHANS, pm.SKIPPED, _describe(target), detail=f"table {name} does not exist today"
            )
        parent_columns = target.parent_columns or live.primary_keys.get(parent, ())
        if len(parent_columns) != len(target.columns) or any(live.column(parent, c) is None for c in parent_columns):
            return _result(
                target,
                pm.ORPHANS,
                pm.SKIPPED,
                _describe(target),
                detail=f"the referenced columns of {parent[1]} are not known today",
            )
        match = sql.SQL(" AND ").join(
            sql.SQL("p.{} = {}").format(sql.Identifier(p), c) for p, c in zip(parent_columns, child, strict=True)
        )
        condition = sql.SQL("{} AND NOT EXISTS (SELECT 1 FROM {} AS p WHERE {})").format(
            not_null, sql.Identifier(*parent), match
        )
    if len(child) == 1:
        sample: sql.Composable = sql.SQL("{}::text").format(child[0])
    else:
        sample = sql.SQL("ROW({})::text").format(sql.SQL(", ").join(child))
    label = target.columns[0] if len(target.columns) == 1 else "(" + ", ".join(target.columns) + ")"
    return _Query(pm.ORPHANS, _describe(target), target.live_table, condition, {}, sample, label, grouped=True)


@dataclass(frozen=True)
class _Values:
    """What a type change converts: the column's values, or for an array column each of its elements
    (a row offends when one of its elements does)."""

    column: LiveColumn
    element: LiveColumn  # the column itself, or a column of the array's element type

    @classmethod
    def of(cls, column: LiveColumn) -> _Values:
        if column.type_category != "A":
            return cls(column, column)
        # Built-in array types are named after their element type (_int4, _varchar) and share its typmod.
        name = column.type_name.removeprefix("_")
        category = "S" if name in _TEXT_TYPES else "N" if name in _LIVE_NUMBERS else ""
        element = replace(column, type_name=name, type_category=category, formatted_type=name)
        return cls(column, element)

    @property
    def array(self) -> bool:
        return self.element is not self.column

    @property
    def value(self) -> sql.Composable:
        """One value: the column, or the element of the EXISTS below."""
        return sql.Identifier("_element", "value") if self.array else sql.Identifier(self.column.name)

    @property
    def sample(self) -> sql.Composable:
        return sql.SQL("{}::text").format(sql.Identifier(self.column.name))

    def offending(self, condition: sql.Composable) -> sql.Composable:
        """Rows where a value meets ``condition`` (written over :attr:`value`)."""
        if not self.array:
            return condition
        return sql.SQL("EXISTS (SELECT 1 FROM unnest({}) AS _element(value) WHERE {})").format(
            sql.Identifier(self.column.name), condition
        )

    def described(self, target: Target) -> str:
        elements = "elements of " if self.array else ""
        return f"{elements}{target.table.display()}.{self.column.name}"


_TEXT_TYPES = frozenset({"text", "varchar", "bpchar"})
# New types (as the parser names them) a string column converts to without a USING (assignment casts).
_STRING_TYPES = frozenset({"text", "varchar", "char", "bpchar", "name", "character", "character varying"})
# Decimal digits before the point an integer type can need (numeric(p, s) holds p - s of them).
_INTEGER_DIGITS = {"int2": 5, "int4": 10, "int8": 19}


def _type_change(
    target: Target,
    column: LiveColumn,
    live: LiveContext,
    enum_labels: dict[TableKey, tuple[str, ...]],
    default_schema: str,
    key_sample: sql.Composable,
    key_label: str,
    key_order: sql.Composable,
) -> _Query | pm.CheckResult | None:
    new = target.new_type
    assert new is not None
    if (column.type_category == "A") != bool(new.array_dims):
        # An array to text or varchar converts (and may be too long); most other pairs are refused
        # whatever the data. Neither is looked at here: said, not passed.
        return _result(
            target,
            pm.BAD_FORMAT,
            pm.SKIPPED,
            f"values of {target.table.display()}.{column.name} converted to {new.display()}",
            detail="a conversion between an array and a single value is not checked (dry-run converts them for real)",
        )
    values = _Values.of(column)
    element, value, sample = values.element, values.value, values.sample
    of = values.described(target)
    if element.type_category == "S" and not target.using and not new.user_defined and new.base not in _STRING_TYPES:
        # From a string type only the other string types are assignment casts: ALTER ... TYPE fails
        # even on an empty table ("cannot be cast automatically"); Prisma writes a USING, or DROP + ADD.
        return _result(
            target,
            pm.BAD_FORMAT,
            pm.FAILED,
            f"values of {of} converted to {new.display()}",
            detail=f"PostgreSQL converts {element.type_name} to {new.display()} only with a USING clause, whatever "
            f'the rows hold: add USING "{column.name}"::{new.display()}',
        )
    if new.user_defined:
        labels = target.enum_labels
        if labels is None:
            labels = enum_labels.get((type_name(new).schema or target.table.schema or default_schema, new.base))
        if labels is None:
            # A domain (its CHECK, its base type's limits) or another user-defined type: not checked.
            return _result(
                target,
                pm.BAD_FORMAT,
                pm.SKIPPED,
                f"values of {of} that do not convert to {new.display()}",
                detail=f"{new.base} is not an enum: a conversion to a domain or another user-defined type "
                "is not checked (dry-run can)",
            )
        return _Query(
            pm.ENUM_VALUES,
            f"values of {of} that enum {new.base} does not have",
            target.live_table,
            values.offending(sql.SQL("{} IS NOT NULL AND {}::text <> ALL(%(labels)s::text[])").format(value, value)),
            {"labels": list(labels)},
            sample,
            "value",
            grouped=True,
        )
    if new.base in ("varchar", "char", "bpchar") and new.params:
        limit = new.params[0]
        if element.text_limit is not None and element.text_limit <= limit:
            return None
        return _Query(
            pm.TOO_LONG,
            f"values of {of} longer than {limit} characters ({new.display()})",
            target.live_table,
            # An assignment cast (ALTER COLUMN TYPE) cuts excess characters that are all spaces; any
            # other excess character fails (varchar.c: varchar() / bpchar() with isExplicit false).
            values.offending(sql.SQL("char_length(rtrim({}::text, ' ')) > %(limit)s").format(value)),
            {"limit": limit},
            key_sample,
            key_label,
            key_order,
        )
    if new.base in _NEW_INTEGER_RANGE_NAMES and element.type_name in _LIVE_NUMBERS:
        if (
            element.type_name in _LIVE_INTEGER_RANK
            and _LIVE_INTEGER_RANK[element.type_name] <= _NEW_INTEGER_RANK[new.base]
        ):
            return None  # widening
        low, high = _INTEGER_RANGE[new.base]
        # A number with decimals is rounded to an integer first (2147483647.4 fits an integer).
        # Compared as numeric: as a float, the bigint limit itself rounds to 2^63, which does not fit.
        rounded = sql.SQL("round({})::numeric").format(value) if element.type_name not in _LIVE_INTEGER_RANK else value
        return _Query(
            pm.OUT_OF_RANGE,
            f"values of {of} outside the {new.base} range",
            target.live_table,
            values.offending(sql.SQL("NOT ({} BETWEEN %(low)s AND %(high)s)").format(rounded)),
            {"low": low, "high": high},
            sample,
            "value",
            grouped=True,
        )
    if new.base == "numeric" and new.params and element.type_name in _LIVE_NUMBERS:
        return _numeric_digits(target, values, new)
    if element.type_category == "S" and new.base in _FORMAT_TYPES:
        return _format_check(target, values, new.base, new.params, live.server_version)
    return None


_NEW_INTEGER_RANGE_NAMES = frozenset(_INTEGER_RANGE)


def _precision_scale(new: m.TypeSpec) -> tuple[int, int]:
    """numeric(p) is numeric(p, 0)."""
    return new.params[0], new.params[1] if len(new.params) > 1 else 0


def _numeric_digits(target: Target, values: _Values, new: m.TypeSpec) -> _Query | None:
    """Numbers numeric(p, s) cannot hold: once rounded to s decimals, more than p - s digits before the
    point ("numeric field overflow"; infinity too). NaN fits any numeric."""
    precision, scale = _precision_scale(new)
    element, value = values.element, values.value
    limits = element.numeric_limits
    if limits is not None and limits[0] - limits[1] <= precision - scale and limits[1] <= scale:
        return None  # as many digits before the point, and no more decimals to round up into them
    if element.type_name in _INTEGER_DIGITS and _INTEGER_DIGITS[element.type_name] <= precision - scale:
        return None
    condition = sql.SQL("{v}::numeric <> 'NaN'::numeric AND abs(round({v}::numeric, %(scale)s)) >= %(limit)s").format(
        v=value
    )
    return _Query(
        pm.OUT_OF_RANGE,
        f"values of {values.described(target)} with more than {precision - scale} digits before the point "
        f"({new.display()})",
        target.live_table,
        values.offending(condition),
        {"scale": scale, "limit": Decimal(1).scaleb(precision - scale)},
        values.sample,
        "value",
        grouped=True,
    )


def _rounding(target: Target, live: LiveContext) -> _Query | None:
    """Numbers with more decimals than the new numeric(p, s) keeps: the conversion rounds them (a data
    change, not a failure). Reported only when the type change itself is checked."""
    new = target.new_type
    column = live.column(target.live_table, target.columns[0]) if target.live_table in live.tables else None
    if target.skip or target.added or new is None or column is None or not new.params:
        return None
    if (column.type_category == "A") != bool(new.array_dims):
        return None
    values = _Values.of(column)
    element, value = values.element, values.value
    _, scale = _precision_scale(new)
    limits = element.numeric_limits
    if element.type_name not in _LIVE_NUMBERS or (limits is not None and limits[1] <= scale):
        return None
    if element.type_name in _INTEGER_DIGITS and scale >= 0:
        return None  # integers have no decimals to lose
    return _Query(
        pm.ROUNDED,
        f"values of {values.described(target)} rounded to {scale} decimals ({new.display()})",
        target.live_table,
        values.offending(sql.SQL("round({v}::numeric, %(scale)s) <> {v}::numeric").format(v=value)),
        {"scale": scale},
        values.sample,
        "value",
        grouped=True,
        data_change="the conversion rounds them: the data changes, the migration does not fail",
    )


def _type_sql(base: str, params: tuple[int, ...]) -> sql.Composable:
    """A type from the allow-list, spelled for a cast (its name comes from the parser, never from the file)."""
    assert base in _FORMAT_TYPES
    if not params:
        return sql.SQL(base)
    modifier = sql.SQL(", ").join(sql.Literal(p) for p in params)
    return sql.SQL("{}({})").format(sql.SQL(base), modifier)


def _format_check(target: Target, values: _Values, base: str, params: tuple[int, ...], server_version: int) -> _Query:
    value = values.value
    type_name = base + ("(" + ",".join(str(p) for p in params) + ")" if params else "")
    description = f"values of {values.described(target)} that do not convert to {type_name}"
    if server_version >= _INPUT_IS_VALID_SINCE:
        condition: sql.Composable = sql.SQL("{} IS NOT NULL AND NOT pg_input_is_valid({}::text, %(type)s)").format(
            value, value
        )
        return _Query(
            pm.BAD_FORMAT,
            description,
            target.live_table,
            values.offending(condition),
            {"type": type_name},
            values.sample,
            "value",
            grouped=True,
        )
    # Before PostgreSQL 16: what the value must look like, then (for integers) its range.
    if base in _INTEGER_RANGE:
        low, high = _INTEGER_RANGE[base]
        fits = sql.SQL(
            "CASE WHEN {v} ~ %(pattern)s THEN btrim({v})::numeric BETWEEN %(low)s AND %(high)s ELSE false END"
        ).format(v=value)
        condition = sql.SQL("{} IS NOT NULL AND NOT ({})").format(value, fits)
        params_: dict[str, Any] = {"pattern": _INTEGER_PATTERN, "low": low, "high": high}
        return _Query(
            pm.BAD_FORMAT,
            description,
            target.live_table,
            values.offending(condition),
            params_,
            values.sample,
            "value",
            grouped=True,
        )
    if base == "uuid" or (base == "numeric" and not params):
        pattern = _UUID_PATTERN if base == "uuid" else _NUMERIC_PATTERN
        condition = sql.SQL("{} IS NOT NULL AND {} !~ %(pattern)s").format(value, value)
        by_pattern = {"pattern": pattern}
        return _Query(
            pm.BAD_FORMAT,
            description,
            target.live_table,
            values.offending(condition),
            by_pattern,
            values.sample,
            "value",
            grouped=True,
        )
    # Anything else: cast every value in a savepoint and see whether PostgreSQL accepts them all.
    array = sql.SQL("[]") if values.array else sql.SQL("")
    cast = sql.SQL("{}::{}{}").format(sql.Identifier(values.column.name), _type_sql(base, params), array)
    return _Query(
        pm.BAD_FORMAT, description, target.live_table, sql.SQL("false"), {}, values.sample, "value", cast_attempt=cast
    )


def _milliseconds(seconds: float) -> sql.Composable:
    return sql.Literal(f"{max(1, round(seconds * 1000))}ms")


def _run(
    conn: psycopg.Connection[Any], target: Target, query: _Query, timeout: float, clock: Callable[[], float]
) -> pm.CheckResult:
    table = query.source or sql.Identifier(*query.table)
    started = clock()
    outcome, detail = pm.PASSED, ""
    count: int | None = 0
    samples: tuple[str, ...] = ()
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(_milliseconds(timeout)))
            if query.cast_attempt is not None:
                count_or_none, detail = _cast_attempt(conn, table, query.cast_attempt)
                if detail:
                    outcome, count = pm.FAILED, count_or_none
            else:
                count, samples, detail = _count_and_samples(conn, table, query)
                if count and query.data_change:
                    detail = query.data_change
                elif count:
                    outcome = pm.FAILED
    except psycopg.errors.QueryCanceled:
        return _result(
            target,
            query.kind,
            pm.UNFINISHED,
            query.description,
            detail=f"did not finish within {duration_text(round(timeout, 3))} (check budget)",
            seconds=clock() - started,
        )
    except psycopg.errors.LockNotAvailable:
        return _result(
            target,
            query.kind,
            pm.UNFINISHED,
            query.description,
            detail="another session holds a lock on the table (see the sessions listed below)",
            seconds=clock() - started,
        )
    except psycopg.Error as err:
        message = " ".join((err.diag.message_primary or str(err)).split())
        return _result(
            target,
            query.kind,
            pm.SKIPPED,
            query.description,
            detail=f"the check query failed: {message}",
            seconds=clock() - started,
        )
    if target.assumption:
        detail = f"{detail}; {target.assumption}" if detail else target.assumption
    return _result(
        target,
        query.kind,
        outcome,
        query.description,
        count=count,
        samples=samples,
        sample_label=query.sample_label,
        detail=detail,
        seconds=clock() - started,
    )


def _count_and_samples(
    conn: psycopg.Connection[Any], table: sql.Composable, query: _Query
) -> tuple[int, tuple[str, ...], str]:
    width = sql.Literal(_SAMPLE_WIDTH)
    if query.count_groups and query.group_by is not None:
        counted = sql.SQL(
            "SELECT count(*), coalesce(sum(n), 0) FROM "
            "(SELECT count(*) AS n FROM {} WHERE {} GROUP BY {} HAVING count(*) > 1) AS groups"
        ).format(table, query.condition, query.group_by)
        row = conn.execute(counted, query.params).fetchone()
        groups, rows = (int(row[0]), int(row[1])) if row else (0, 0)
        if not groups:
            return 0, (), ""
        listed = sql.SQL(
            "SELECT left({s}, {w}), count(*) FROM {t} WHERE {c} GROUP BY {g} HAVING count(*) > 1 "
            "ORDER BY count(*) DESC, 1 LIMIT {n}"
        ).format(s=query.sample, w=width, t=table, c=query.condition, g=query.group_by, n=sql.Literal(SAMPLE_SIZE))
        samples = tuple(f"{_shown(value)} (×{n})" for value, n in conn.execute(listed, query.params))
        return groups, samples, f"{rows} rows share {groups} key value{'s' if groups != 1 else ''}"
    counted = sql.SQL("SELECT count(*) FROM {} AS c WHERE {}").format(table, query.condition)
    row = conn.execute(counted, query.params).fetchone()
    count = int(row[0]) if row else 0
    if not count:
        return 0, (), ""
    if query.grouped:
        listed = sql.SQL(
            "SELECT left({s}, {w}), count(*) FROM {t} AS c WHERE {c} GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT {n}"
        ).format(s=query.sample, w=width, t=table, c=query.condition, n=sql.Literal(SAMPLE_SIZE))
        samples = tuple(
            f"{_shown(value)} (×{n})" if n > 1 else _shown(value) for value, n in conn.execute(listed, query.params)
        )
    else:
        listed = sql.SQL("SELECT left({s}, {w}) FROM {t} AS c WHERE {c} ORDER BY {o} LIMIT {n}").format(
            s=query.sample,
            w=width,
            t=table,
            c=query.condition,
            o=query.order or sql.SQL("1"),
            n=sql.Literal(SAMPLE_SIZE),
        )
        samples = tuple(_shown(value) for (value,) in conn.execute(listed, query.params))
    return count, samples, ""


def _shown(value: object) -> str:
    """A sample as SQL would show it: a NULL key (NULLS NOT DISTINCT) is NULL, not Python's None."""
    return "NULL" if value is None else str(value)


def _cast_attempt(conn: psycopg.Connection[Any], table: sql.Composable, cast: sql.Composable) -> tuple[None, str]:
    """Convert every value in a savepoint: PostgreSQL names the first value it rejects."""
    try:
        with conn.transaction():
            conn.execute(sql.SQL("SELECT count({}) FROM {}").format(cast, table), {})  # {}: see _sql_text
    except psycopg.errors.DataError as err:
        message = " ".join((err.diag.message_primary or str(err)).split())
        return None, f"at least one value does not convert: {message}"
    return None, ""
