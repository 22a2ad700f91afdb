"""What a lint rule is: metadata as data, a check over one statement, and the context it reads."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar, cast

from safemigrate.sql import model as m
from safemigrate.sql.schema import SchemaModel

T = TypeVar("T")


class Category(str, Enum):
    DATA_LOSS = "data-loss"
    MAY_FAIL = "may-fail"
    LOCK = "lock"
    BREAKING = "breaking"
    UNCHECKED = "unchecked"
    STYLE = "style"


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    OFF = "off"

    @property
    def rank(self) -> int:
        return {"error": 3, "warning": 2, "info": 1, "off": 0}[self.value]


@dataclass(frozen=True)
class ObjectRef:
    schema: str | None = None
    table: str | None = None
    column: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in (("schema", self.schema), ("table", self.table), ("column", self.column)) if v}


@dataclass(frozen=True)
class Hit:
    """One problem a rule found in one statement."""

    message: str  # names the user's objects
    help: str  # the safer way, paste-ready SQL where there is one
    object: ObjectRef = ObjectRef()
    table: m.Name | None = None  # the table whose rows the problem concerns (freshness is judged on it)
    # Why the rule knows the problem cannot happen here: the finding is dropped, as one on a table this
    # deploy created is, but still answers a Prisma warning about the same change.
    explained: str = ""


@dataclass(frozen=True)
class SessionState:
    """Per-file session facts before a statement, folded like the schema model."""

    explicit_transaction: bool = False
    lock_timeout_set: bool = False
    # (enum name, value, line of its ADD VALUE): added in the transaction `prisma migrate deploy` is in, which
    # a COMMIT of the file ends (a BEGIN does not: the statements before it join the block)
    enum_values_added: frozenset[tuple[str, str, int]] = frozenset()
    # (enum name, value, line of its ADD VALUE, line of the COMMIT): added and committed by the file's own
    # COMMIT, which `safemigrate migrate` leaves out (it runs the whole file in one transaction)
    enum_values_committed: frozenset[tuple[str, str, int, int]] = frozenset()


@dataclass(frozen=True)
class LintSettings:
    pg_version: int = 16
    default_schema: str = "public"
    # How the deploy is applied: True, every pending migration in one transaction (`safemigrate migrate`);
    # False, each file committed on its own (`prisma migrate deploy`, `--engine prisma`); None, not known
    # (`lint` alone): what fails under only one of them is reported, saying which.
    one_transaction: bool | None = None


@dataclass(frozen=True)
class Context:
    """What a rule sees: its statement, the file's statements, and the state before the statement."""

    statement: m.Statement
    statements: Sequence[m.Statement]  # every statement of the file, for rules that look around
    migration: str
    schema: SchemaModel
    session: SessionState
    settings: LintSettings
    # Shared by the contexts of one file: what per_file() computed over its statements.
    memo: dict[object, object] = field(default_factory=dict, compare=False, repr=False)

    def per_file(self, compute: Callable[[Sequence[m.Statement]], T]) -> T:
        """``compute(self.statements)``, computed once per file: a rule that looks at the whole file
        for every statement would otherwise take time quadratic in the file's length (a seed migration
        of 10,000 INSERTs)."""
        if compute not in self.memo:
            self.memo[compute] = compute(self.statements)
        return cast(T, self.memo[compute])

    @property
    def summary(self) -> m.Summary:
        return self.statement.summary

    def ref(self, table: m.Name, column: str | None = None) -> ObjectRef:
        schema, name = self.schema.key(table)
        return ObjectRef(schema, name, column)

    def is_existing_table(self, table: m.Name) -> bool:
        """True unless the table is known to be created by this deploy, so no other session uses it yet
        (unknown tables count as existing). Whether it holds rows is ``schema.is_fresh_table``."""
        return not self.schema.is_created_by_deploy(table)

    def later(self) -> Sequence[m.Statement]:
        return self.statements[self.statement.index + 1 :]

    def earlier(self) -> Sequence[m.Statement]:
        return self.statements[: self.statement.index]


Check = Callable[[Context], Iterable[Hit]]


@dataclass(frozen=True)
class Rule:
    id: str  # "SM101": stable, never reused
    name: str  # kebab-case, used in output, config and suppressions
    category: Category
    severity: Severity  # default; config may change it
    summary: str  # one line: the consequence
    alternative: str  # the safer way, in words
    bad: str  # SQL that fires
    good: str  # SQL that does not
    why: str  # the rule's docstring: why it matters
    check: Check
    lock: str = ""  # the lock the statement takes, when the rule is about one
    references: tuple[str, ...] = field(default=())
    needs_existing_rows: bool = False  # only matters on tables that already hold rows
    scope: str = "statement"  # "file": emitted by the engine or the API for a whole file, not by check()
    on: tuple[type, ...] = ()  # the summary types check() looks at; () = every statement

    def __post_init__(self) -> None:
        if self.category in (Category.LOCK, Category.MAY_FAIL):
            object.__setattr__(self, "needs_existing_rows", True)

    def quiet_on(self, schema: SchemaModel, table: m.Name) -> bool:
        """True when a hit on ``table`` is noise because this deploy created the table: a lock finding as
        soon as it created it (no other session uses it yet), the others only while it holds no rows (a
        table filled by its AS query, an INSERT or unseen code can fail a validation and lose data)."""
        if not self.needs_existing_rows:
            return False
        if self.category is Category.LOCK:
            return schema.is_created_by_deploy(table)
        return schema.is_fresh_table(table)


# Shared by rules that must know whether a column added earlier in the same file is still empty.


def column_gets_values(column: m.ColumnSpec) -> bool:
    """True when adding the column gives existing rows a value (a non-NULL default, identity, generated)."""
    if column.identity or column.generated:
        return True
    return column.default is not None and column.default.sql.strip().upper() != "NULL"


def added_column_holds(
    ctx: Context,
    table: m.Name,
    column: str,
    before: Sequence[m.AlterAction],
    holds: Callable[[m.ColumnSpec], bool],
    undoes: Callable[[m.AlterAction], bool],
) -> bool:
    """Whether ``holds(column spec)`` of the ADD COLUMN that added ``column`` earlier in this file (or in
    ``before``, the actions of the current ALTER TABLE that precede the one being checked) still
    describes every existing row: an INSERT into the table, an UPDATE of the column, code the linter
    cannot see into, or an action ``undoes`` may have changed the rows since. False when the file did not
    add it."""
    key = ctx.schema.key(table)
    state = False
    summaries: list[m.Summary] = [s.summary for s in ctx.earlier()]
    summaries.append(m.AlterTable(table, tuple(before)))
    for summary in summaries:
        if m.runs_unseen_code(summary):
            state = False  # a DO block, a function call, an unread statement: it may have written the column
        for change in m.data_changes(summary):  # every change of the statement, those of its WITH too
            if ctx.schema.key(change.table) == key and (
                isinstance(change, m.Insert) or (isinstance(change, m.Update) and column in change.columns)
            ):
                state = False
        if isinstance(summary, m.AlterTable) and ctx.schema.key(summary.table) == key:
            for action in summary.actions:
                if isinstance(action, m.AddColumn) and action.column.name == column:
                    state = holds(action.column)
                elif undoes(action):
                    state = False
    return state


def column_added_empty(ctx: Context, table: m.Name, column: str, before: Sequence[m.AlterAction] = ()) -> bool:
    """True when ``column`` was added earlier in this file without a value: every existing row holds NULL.

    ``before`` are the actions of the current ALTER TABLE that precede the one being checked.
    """

    def undoes(action: m.AlterAction) -> bool:
        return (
            (isinstance(action, m.DropColumn) and action.column == column)
            or (isinstance(action, m.RenameColumn) and column in (action.old, action.new))
            or (isinstance(action, m.AlterColumnType) and action.column == column and bool(action.using))
        )

    return added_column_holds(ctx, table, column, before, lambda spec: not column_gets_values(spec), undoes)
