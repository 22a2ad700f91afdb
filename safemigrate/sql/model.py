"""Normalized statement summaries: what the rules match on, independent of the parser's classes.

Names are stored as PostgreSQL resolves them: unquoted identifiers folded to lower case, quoted
ones kept exactly. ``schema`` is None when the statement did not qualify the name.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Name:
    name: str
    schema: str | None = None

    def display(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name

    def sql(self) -> str:
        """The name quoted as PostgreSQL needs it, for paste-ready suggestions."""
        parts = [self.schema, self.name] if self.schema else [self.name]
        return ".".join(quote_ident(p) for p in parts if p is not None)


def quote_ident(name: str) -> str:
    """Quote an identifier for suggestions shown to the user (never sent to a server)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class TypeSpec:
    """A column type: ``base`` is PostgreSQL's canonical name (``integer``, ``varchar``, a user type)."""

    base: str
    params: tuple[int, ...] = ()
    array_dims: int = 0
    user_defined: bool = False
    written: str = field(default="", compare=False)  # as the migration spelled it

    @property
    def sql(self) -> str:
        """The type spelled in SQL, for paste-ready suggestions."""
        if self.written:
            return self.written
        base = quote_ident(self.base) if self.user_defined else self.base
        params = "(" + ",".join(str(p) for p in self.params) + ")" if self.params else ""
        return base + params + "[]" * self.array_dims

    def display(self) -> str:
        text = self.base
        if self.params:
            text += "(" + ",".join(str(p) for p in self.params) + ")"
        return text + "[]" * self.array_dims


@dataclass(frozen=True)
class DefaultSpec:
    sql: str
    volatile: bool  # evaluated per row (random(), gen_random_uuid(), clock_timestamp(), nextval()...)
    # Functions it calls that are not known built-ins: they may be volatile, so ``volatile`` is set.
    unknown_calls: tuple[str, ...] = ()
    sequences: tuple[Name, ...] = ()  # the sequences its nextval() calls draw from, as named there


@dataclass(frozen=True)
class ConstraintSpec:
    kind: str  # "primary key" | "unique" | "foreign key" | "check" | "exclude"
    name: str | None
    columns: tuple[str, ...] = ()
    references: Name | None = None
    ref_columns: tuple[str, ...] = ()
    on_delete: str | None = None
    not_valid: bool = False
    using_index: str | None = None
    not_null_column: str | None = None  # a CHECK that is exactly `column IS NOT NULL`
    nulls_not_distinct: bool = False  # UNIQUE NULLS NOT DISTINCT (PostgreSQL 15+): NULL keys count as equal
    calls: tuple[str, ...] = ()  # a CHECK's functions that are not side-effect-free built-ins (run per row checked)


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: TypeSpec
    not_null: bool = False
    default: DefaultSpec | None = None
    identity: bool = False  # GENERATED ... AS IDENTITY, or serial types
    generated: bool = False  # GENERATED ALWAYS AS (expr), stored or virtual
    virtual: bool = False  # generated without STORED (PostgreSQL 18): computed when read, nothing stored
    constraints: tuple[ConstraintSpec, ...] = ()
    reads: tuple[str, ...] = ()  # a generated column: the columns of its table its expression reads
    definition: str = field(default="", compare=False)  # a generated column's definition as written


@dataclass(frozen=True)
class ColumnRead:
    """A column a query or an expression reads, by its name: the column of the table that has it in the
    first of ``scopes`` (innermost first) where one of the tables has a column of that name, as
    PostgreSQL resolves it. A qualified reference has one scope of one table; an unqualified one, the
    tables of its FROM and then those of the queries it is nested in. Only written when every source of
    those scopes is a table (a subquery in FROM, a function or VALUES could supply the name)."""

    column: str
    scopes: tuple[tuple[Name, ...], ...]


@dataclass(frozen=True)
class Reads:
    """What a view's query or a policy's expressions read: PostgreSQL records them as dependencies."""

    columns: tuple[ColumnRead, ...] = ()
    every_column_of: tuple[Name, ...] = ()  # ``*`` / ``t.*`` over these tables: each column they have now
    relations: tuple[Name, ...] = ()  # every table or view it reads from (CTEs left out)


# ---- ALTER TABLE actions -------------------------------------------------------------------------


@dataclass(frozen=True)
class AddColumn:
    column: ColumnSpec
    if_not_exists: bool = False


@dataclass(frozen=True)
class DropColumn:
    column: str
    cascade: bool = False
    if_exists: bool = False


@dataclass(frozen=True)
class AlterColumnType:
    column: str
    new_type: TypeSpec
    using: str | None = None
    using_casts_column: bool = False  # USING casts a value read from the column ("c"::int, trim("c")::int)
    using_calls: tuple[str, ...] = ()  # USING's functions that are not side-effect-free built-ins (run per row)


@dataclass(frozen=True)
class SetNotNull:
    column: str


@dataclass(frozen=True)
class DropNotNull:
    column: str


@dataclass(frozen=True)
class SetDefault:
    column: str
    default: DefaultSpec


@dataclass(frozen=True)
class DropDefault:
    column: str


@dataclass(frozen=True)
class AddIdentity:
    column: str
    start: bool = False  # START WITH (or RESTART) given: its sequence does not begin at 1


@dataclass(frozen=True)
class AddConstraint:
    constraint: ConstraintSpec


@dataclass(frozen=True)
class DropConstraint:
    name: str
    cascade: bool = False
    if_exists: bool = False


@dataclass(frozen=True)
class ValidateConstraint:
    name: str


@dataclass(frozen=True)
class RenameColumn:
    old: str
    new: str


@dataclass(frozen=True)
class RenameConstraint:
    old: str
    new: str


@dataclass(frozen=True)
class RenameTable:
    new: str


@dataclass(frozen=True)
class SetLogged:
    logged: bool


@dataclass(frozen=True)
class TriggerState:
    """``ALTER TABLE ... {ENABLE [ALWAYS | REPLICA] | DISABLE} TRIGGER {name | ALL | USER}``: whether the
    trigger (None: all of the table's) fires in the application's sessions (REPLICA: only in replicas)."""

    trigger: str | None
    enabled: bool
    system: bool = False  # ALL: the internal triggers that check foreign keys too (USER: only the table's own)
    replica: bool = False  # ENABLE REPLICA: off in the application's sessions, on in replication ones


# OtherTableAction.description of ``ALTER TABLE ... {ENABLE | DISABLE | FORCE | NO FORCE} ROW LEVEL
# SECURITY`` is the lower-case words: "enable row level security"...
ROW_SECURITY = "row level security"


@dataclass(frozen=True)
class OtherTableAction:
    """An ALTER TABLE action understood well enough to be harmless (storage, comments, owner...)."""

    description: str


AlterAction = (
    AddColumn
    | DropColumn
    | AlterColumnType
    | SetNotNull
    | DropNotNull
    | SetDefault
    | DropDefault
    | AddIdentity
    | AddConstraint
    | DropConstraint
    | ValidateConstraint
    | RenameColumn
    | RenameConstraint
    | RenameTable
    | SetLogged
    | OtherTableAction
    | TriggerState
)


# ---- statements ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateTable:
    table: Name
    columns: tuple[ColumnSpec, ...]
    constraints: tuple[ConstraintSpec, ...]
    if_not_exists: bool = False
    as_query: bool = False  # CREATE TABLE ... AS / SELECT ... INTO: filled with the query's rows
    temporary: bool = False  # TEMP: ``table`` is then qualified with pg_temp
    no_data: bool = False  # AS ... WITH NO DATA: the query's rows are not copied
    calls: tuple[str, ...] = ()  # functions the AS query calls that are not side-effect-free built-ins


@dataclass(frozen=True)
class AlterTable:
    table: Name
    actions: tuple[AlterAction, ...]
    if_exists: bool = False


@dataclass(frozen=True)
class CreateIndex:
    name: Name | None
    table: Name
    columns: tuple[str, ...]
    unique: bool
    concurrently: bool
    if_not_exists: bool = False
    partial: bool = False
    nulls_not_distinct: bool = False  # NULLS NOT DISTINCT (PostgreSQL 15+): NULL keys count as equal
    index_keyword_end: int = -1  # offset just after INDEX in the statement text, for suggestions

    def concurrently_sql(self, statement_text: str) -> str:
        """The statement with CONCURRENTLY added, keeping everything else as written."""
        if self.concurrently or self.index_keyword_end < 0:
            return statement_text
        at = self.index_keyword_end
        return statement_text[:at] + " CONCURRENTLY" + statement_text[at:]


@dataclass(frozen=True)
class DropIndex:
    names: tuple[Name, ...]
    concurrently: bool
    cascade: bool = False
    if_exists: bool = False


@dataclass(frozen=True)
class RenameIndex:
    index: Name
    new: str


@dataclass(frozen=True)
class Reindex:
    target: str  # "table" | "index" | "schema" | "database" | "system"
    name: Name
    concurrently: bool


@dataclass(frozen=True)
class DropObjects:
    """DROP TABLE / SCHEMA / VIEW / MATERIALIZED VIEW / SEQUENCE / TYPE / FUNCTION / ..."""

    kind: str  # lower case, e.g. "table", "materialized view"
    names: tuple[Name, ...]
    cascade: bool = False
    if_exists: bool = False


@dataclass(frozen=True)
class Truncate:
    tables: tuple[Name, ...]
    cascade: bool = False


# One statement can change rows of several tables: data-modifying WITH queries, INSERT ... ON CONFLICT
# DO UPDATE. Its summary is its first change; ``also`` holds the others (read them all with
# ``data_changes``), and ``calls`` the functions it calls that are not known side-effect-free built-ins.


@dataclass(frozen=True)
class Delete:
    table: Name
    has_where: bool
    also: tuple[DataChange, ...] = ()
    calls: tuple[str, ...] = ()


@dataclass(frozen=True)
class Update:
    table: Name
    columns: tuple[str, ...]
    has_where: bool
    also: tuple[DataChange, ...] = ()
    calls: tuple[str, ...] = ()
    on_conflict: bool = False  # the DO UPDATE of an INSERT ... ON CONFLICT: it overwrites the conflicting rows
    fills: tuple[str, ...] = ()  # columns set to a value that cannot be NULL (a constant, COALESCE(..., constant))
    # columns set to a value that is not NULL when the listed columns of the row are not NULL ("a" || ' ' || "b"):
    # (column, those columns)
    fills_from: tuple[tuple[str, tuple[str, ...]], ...] = ()
    where_null_of: str | None = None  # the column when the WHERE is exactly "<column> IS NULL"
    to_default: tuple[str, ...] = ()  # columns SET to DEFAULT: their default expression runs for each row


@dataclass(frozen=True)
class Insert:
    table: Name
    also: tuple[DataChange, ...] = ()
    calls: tuple[str, ...] = ()
    # The columns its column list gives values to; None when any column may take its default (no column
    # list, DEFAULT VALUES, DEFAULT among the values, COPY): the defaults of the others run per row.
    given: tuple[str, ...] | None = None


DataChange = Delete | Update | Insert


def data_changes(summary: Summary) -> tuple[DataChange, ...]:
    """Every row change of a statement, in the order written (none for statements that change no rows)."""
    if isinstance(summary, (Delete, Update, Insert)):
        return (replace(summary, also=()), *summary.also) if summary.also else (summary,)
    return ()


def runs_unseen_code(summary: Summary) -> bool:
    """True when the statement runs code the linter cannot see into (a DO block, a call of a function that
    is not a known side-effect-free built-in) or is not understood at all: it may have changed the rows
    of any table."""
    if isinstance(summary, Unparsed):
        return True
    if isinstance(summary, Procedural):
        return summary.kind in ("do block", "procedure call", "function call")
    if isinstance(summary, (CreateTable, CreateObject)):
        return bool(summary.calls)
    if isinstance(summary, AlterTable):
        return bool(alter_table_calls(summary))
    return any(change.calls for change in data_changes(summary))


def alter_table_calls(alter: AlterTable) -> tuple[tuple[AlterAction, tuple[str, ...]], ...]:
    """The actions of an ALTER TABLE that run functions other than side-effect-free built-ins for each
    existing row, with those functions: a new column's default or CHECK, a validated CHECK, a USING.
    (A VALIDATE CONSTRAINT runs the CHECK's functions too: only the schema model knows which.)"""
    found: list[tuple[AlterAction, tuple[str, ...]]] = []
    for action in alter.actions:
        calls: tuple[str, ...] = ()
        if isinstance(action, AddColumn):
            default = action.column.default
            calls = default.unknown_calls if default is not None else ()
            for constraint in action.column.constraints:
                calls += tuple(c for c in constraint.calls if c not in calls)
        elif isinstance(action, AddConstraint) and not action.constraint.not_valid:
            calls = action.constraint.calls
        elif isinstance(action, AlterColumnType):
            calls = action.using_calls
        if calls:
            found.append((action, calls))
    return tuple(found)


@dataclass(frozen=True)
class ResetSequence:
    """``ALTER SEQUENCE ... RESTART [WITH n]``, ``ALTER TABLE ... ALTER COLUMN ... RESTART [WITH n]``
    (an identity column's sequence: ``sequence`` None, ``owner``/``owner_column`` set), or a lone
    ``SELECT setval(sequence, value)``: where a sequence counts from next."""

    form: str  # "restart" | "setval" | "options" (ALTER SEQUENCE INCREMENT / MINVALUE / MAXVALUE / CYCLE / AS)
    sequence: Name | None  # None: named by an expression the linter does not resolve
    value: str | None  # the new value as written; None: RESTART without WITH (back to its start value)
    from_rows: bool = False  # computed from stored rows (max(...)): it follows the table's keys
    owner: Name | None = None  # setval(pg_get_serial_sequence('"T"', 'c'), ...): the table...
    owner_column: str | None = None  # ...and the column whose sequence it is
    options: tuple[str, ...] = ()  # form "options": the changes that can make it repeat ids, as written


@dataclass(frozen=True)
class CreateEnum:
    name: Name
    values: tuple[str, ...]


@dataclass(frozen=True)
class AlterEnumAddValue:
    name: Name
    value: str
    if_not_exists: bool = False


@dataclass(frozen=True)
class AlterEnumRenameValue:
    name: Name
    old: str
    new: str


@dataclass(frozen=True)
class RenameType:
    name: Name
    new: str


@dataclass(frozen=True)
class CreateExtension:
    name: str


@dataclass(frozen=True)
class Procedural:
    """DO blocks, functions, procedures, rules: code the linter cannot see into."""

    # "do block" | "function" | "procedure" (definitions) | "procedure call" | "function call" | "rule"
    kind: str
    name: Name | None = None
    table: Name | None = None  # the table a rule rewrites statements on
    or_replace: bool = False  # CREATE OR REPLACE FUNCTION / PROCEDURE: the name may be an older one's


@dataclass(frozen=True)
class SetSetting:
    name: str  # lower case
    value: str
    local: bool = False


@dataclass(frozen=True)
class TransactionControl:
    action: str  # "begin" | "commit" | "rollback"


@dataclass(frozen=True)
class Vacuum:
    full: bool
    tables: tuple[Name, ...]


@dataclass(frozen=True)
class Cluster:
    table: Name | None


@dataclass(frozen=True)
class CreateObject:
    """CREATE SCHEMA / SEQUENCE / VIEW / MATERIALIZED VIEW: named, holding no existing data (unless
    IF NOT EXISTS kept an object that existed)."""

    kind: str  # "schema" | "sequence" | "view" | "materialized view"
    name: Name  # a TEMP object's is qualified with pg_temp
    if_not_exists: bool = False  # the name may be an object that existed before (it is then kept)
    calls: tuple[str, ...] = ()  # functions a materialized view's query calls that are not side-effect-free built-ins
    or_replace: bool = False  # CREATE OR REPLACE VIEW: the name may be a view that existed before
    reads: Reads | None = None  # a view's query: what it reads (None: not read, or not a view)
    # A view's column names in order; a Name stands for every column of that table (a ``*``), in its
    # order. None when one of them is not known (an expression without an alias...).
    columns: tuple[str | Name, ...] | None = None
    definition: str = field(default="", compare=False)  # a view's statement as written, to create it again


@dataclass(frozen=True)
class Trigger:
    """What a CREATE TRIGGER leaves on its table: a function that later row changes run."""

    name: str
    function: Name
    events: tuple[str, ...]  # "insert" | "update" | "delete" | "truncate"
    for_each_row: bool  # else once per statement, even one that changes no row
    columns: tuple[str, ...] = ()  # UPDATE OF these columns only (() = any update)
    # Kept for the schema model's dependencies, not part of what the trigger does (not compared): the
    # columns of its table its WHEN condition reads (OLD.c, NEW.c), and its statement as written.
    when_reads: tuple[str, ...] = field(default=(), compare=False)
    definition: str = field(default="", compare=False)


@dataclass(frozen=True)
class Policy:
    """What a CREATE POLICY lets through: whether it is permissive (a restrictive one only narrows what
    permissive ones allow) and the command it applies to (ALL, SELECT, INSERT, UPDATE, DELETE)."""

    permissive: bool = True
    command: str = "ALL"
    reads: Reads | None = None  # what its USING and WITH CHECK read (None: not read)
    definition: str = field(default="", compare=False)  # its statement as written, to create it again

    @property
    def lets_rows_be_read(self) -> bool:
        return self.permissive and self.command in ("ALL", "SELECT")


@dataclass(frozen=True)
class Revoke:
    """What a REVOKE takes away: privileges on objects, or (``on`` "role") membership of roles."""

    privileges: tuple[str, ...]  # as written, upper case (SELECT, ALL, USAGE...); role names for "role"
    on: str  # "table" (also views), "sequence", "schema", "database", "function", "all tables in schema"...,
    # or "future tables", "future sequences"... (ALTER DEFAULT PRIVILEGES)
    objects: tuple[Name, ...]  # the tables, schemas... (for "all ... in schema": the schemas)
    roles: tuple[str, ...]  # the roles that lose them, as written (PUBLIC upper case)
    grant_option_only: bool = False  # REVOKE GRANT OPTION FOR ...: the privileges themselves stay
    cascade: bool = False  # CASCADE: also from the roles these granted them to
    # ALTER DEFAULT PRIVILEGES FOR ROLE ... REVOKE (on "future tables"...; objects: the IN SCHEMA schemas):
    # the roles whose objects created from now on it is about (none: the role running the migration)
    creators: tuple[str, ...] = ()


@dataclass(frozen=True)
class Harmless:
    """Statements that change no stored data by themselves (CREATE VIEW, COMMENT, GRANT, CREATE TRIGGER...)."""

    kind: str
    table: Name | None = None  # the table it is attached to, if any (trigger, policy...)
    name: str | None = None  # the attached object's own name (the trigger of CREATE / DROP TRIGGER)
    trigger: Trigger | None = None  # CREATE TRIGGER: the code it leaves for later row changes
    # LOCK TABLE in a mode that blocks the application's reads or writes (SHARE and stronger), without
    # NOWAIT: the tables it waits for
    locks: tuple[Name, ...] = ()
    revoke: Revoke | None = None  # REVOKE: what it takes away (changes no data, but access to it)
    new_name: str | None = None  # ALTER TRIGGER / ALTER POLICY ... RENAME TO: the attached object's new name
    policy: Policy | None = None  # CREATE POLICY: what it lets through
    roles: tuple[str, ...] = ()  # REASSIGN OWNED BY: the roles whose objects change owner (name: the new owner)
    # ALTER ROLE / DATABASE ... SET: (setting, value) that new sessions of the role or database start with
    setting: tuple[str, str] | None = None


@dataclass(frozen=True)
class Unparsed:
    """A statement the linter could not summarize; always reported, never passed."""

    reason: str
    head: str = ""  # first words, for the message


Summary = (
    CreateTable
    | AlterTable
    | CreateIndex
    | DropIndex
    | RenameIndex
    | Reindex
    | DropObjects
    | Truncate
    | ResetSequence
    | Delete
    | Update
    | Insert
    | CreateEnum
    | AlterEnumAddValue
    | AlterEnumRenameValue
    | RenameType
    | CreateExtension
    | Procedural
    | SetSetting
    | TransactionControl
    | Vacuum
    | Cluster
    | CreateObject
    | Harmless
    | Unparsed
)


@dataclass(frozen=True)
class Rejection:
    """PostgreSQL's parser refuses the statement (a syntax error): it fails when the migration runs."""

    message: str  # PostgreSQL's words, e.g. 'syntax error at or near "NUL"'
    line: int  # where in the file, 1-based
    column: int  # 1-based, in characters
    # Keywords of PostgreSQL 18 that older servers read as names, whose quoting lets the statement
    # parse: then only PostgreSQL 18 (and later) refuses it (sql/grammar.py)
    newer_keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Statement:
    """One statement of a migration file: where it is and what it does."""

    index: int
    text: str
    line: int
    column: int
    end_line: int
    end_column: int
    summary: Summary
    string_literals: tuple[str, ...] = field(default=())
    rejected: Rejection | None = None  # PostgreSQL's parser refuses it
