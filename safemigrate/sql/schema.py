"""A schema model folded forward through the migration history, statement by statement.

Like Django's ``state_forwards``: the linter asks the model about the state *before* a statement,
then applies the statement. The model knows tables, columns (with types), enums and indexes, and
which objects were created by a "fresh" migration (the one being linted, or an earlier migration
of the same deploy). Two facts, judged apart: a table *created by this deploy* is used by no other
session yet (locking it is harmless); it *holds no rows* (validating it cannot fail, nothing on it
is lost) only until something may have filled it: its own AS query, an INSERT or COPY, or code
the linter cannot see (a DO block, a function call, a statement it did not understand), which may
have filled any table. ``CREATE ... IF NOT EXISTS`` of a name the model does not know may keep an
object that existed outside the history, with its rows: it is recorded as existing, never fresh.

Unqualified names are keyed to the default schema. After a ``SET search_path`` (or ``set_config``)
to other schemas in this deploy, they are keyed to the first listed schema that the model knows
the name in, else to the first listed schema (where PostgreSQL creates them), so findings name
that schema. The model cannot tell which objects exist there: until the search_path is set back,
an unqualified name is never fresh, and what such a name creates is recorded as existing (and
never replaces what the model already knows). Temporary tables live in pg_temp, which PostgreSQL
searches first: an unqualified name of one created in this deploy (one session) means it, a
qualified name never does.

The model also remembers the code of the project that a table runs when its rows change (``row_code``):
its triggers, and the functions (other than side-effect-free built-ins) its column defaults and CHECK
constraints call. Keyed by the table's model key, whether or not the history created the table (a
trigger may be put on a table older than the history, or on a view). A row change on such a table
runs code the linter cannot see into, so it may have filled any table, as a DO block may.

Unique keys (a unique index or constraint, a primary key) say over which columns a table's rows are
unique. One that a statement drops still says it of the rows that were there (``held_keys``), for the
rest of its migration file (one transaction: the DROP's ACCESS EXCLUSIVE lock keeps other sessions
out), until a statement may change them: rows written into any table (a cascade, a trigger or a rule
may carry the change to this one), a key column changed, dropped, added or renamed, code the linter
cannot see into, a COMMIT (or BEGIN, ROLLBACK). A key dropped CONCURRENTLY holds no lock: it does
not count. A type change of a key column counts unless it keeps every value, equal values equal and
distinct ones distinct (``retype_keeps_values``): Prisma drops a referenced key and adds it again
around a widening of its column (``Int`` to ``BigInt``, ``VarChar(10)`` to ``VarChar(20)``), or around
an integer id made text (``Int @id @default(autoincrement())`` to ``String @id @default(cuid())``).

The model also keeps, per table column, the objects that read it (``dependents``): views and
materialized views (the columns their query reads; a ``*`` reads every column the table had then), stored
generated columns, policies (USING, WITH CHECK), triggers (UPDATE OF, WHEN). PostgreSQL refuses to change
the type of such a column. They follow renames, and are forgotten with what drops them (DROP VIEW / POLICY
/ TRIGGER, a DROP COLUMN of a column they read, the table, a CASCADE). Conservative: a name the model
cannot tie to one known table is left out, and what a statement may have dropped is forgotten.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from safemigrate.sql import model as m


@dataclass(frozen=True)
class ColumnState:
    name: str
    type: m.TypeSpec
    not_null: bool
    has_default: bool
    added_in: str | None = None  # the migration whose ADD COLUMN created it (None: with its table, or unknown)


@dataclass
class TableState:
    key: tuple[str, str]
    columns: dict[str, ColumnState] = field(default_factory=dict)
    created_in: str | None = None  # migration name
    filled: bool = False  # rows may have been written into it since it was created (AS query, INSERT, COPY)
    created_at: int = 0  # the model's step that created it (see SchemaModel.unseen_code_at)
    # CHECK ("c" IS NOT NULL) constraints: name -> (column, validated)
    not_null_checks: dict[str, tuple[str, bool]] = field(default_factory=dict)
    foreign_keys: dict[str, ForeignKeyState] = field(default_factory=dict)  # by constraint name
    # Keys dropped by a migration, by name -> (the key, that migration): Prisma re-adds a key it changes
    # (ON DELETE, a relation made optional) with DROP CONSTRAINT + ADD CONSTRAINT of the same definition.
    dropped_foreign_keys: dict[str, tuple[ForeignKeyState, str]] = field(default_factory=dict)


KeyColumn = tuple[tuple[str, str], str]  # (table key, column name)


@dataclass(frozen=True)
class ForeignKeyState:
    columns: tuple[str, ...]
    references: tuple[str, str]  # the referenced table's model key
    ref_columns: tuple[str, ...]  # () = its primary key
    validated: bool
    # Once dropped: the types its columns and the referenced ones had then, for judging the type changes
    # between the drop and a re-add (a referenced primary key's columns are not named: left out).
    types_when_dropped: tuple[tuple[KeyColumn, m.TypeSpec], ...] = ()


@dataclass
class EnumState:
    key: tuple[str, str]
    values: list[str]
    created_in: str | None = None
    added_by: dict[str, str] = field(default_factory=dict)  # value -> the migration whose ADD VALUE added it


@dataclass
class IndexState:
    key: tuple[str, str]
    table: tuple[str, str]
    unique: bool
    created_in: str | None = None
    columns: tuple[str, ...] = ()  # plain key columns, in order; () when unknown or an expression
    partial: bool = False  # a WHERE clause: it does not cover every row
    constraint: bool = False  # the index of a PRIMARY KEY or UNIQUE constraint (dropped with it, not by DROP INDEX)


@dataclass(frozen=True)
class HeldKey:
    """A unique key over ``columns`` of ``table`` (no partial one) that a statement of ``migration``
    dropped: the rows it kept unique are still there, unchanged (see ``SchemaModel.held_keys``)."""

    table: tuple[str, str]
    columns: tuple[str, ...]
    migration: str


@dataclass(frozen=True)
class RowCode:
    """Code of the project that runs when rows of a table change."""

    kind: str  # "trigger" | "default" (of the column ``name``) | "check" (the constraint ``name``)
    name: str
    calls: tuple[str, ...]  # the functions it runs, as written
    events: frozenset[str]  # the changes that run it: "insert" | "update" | "delete" | "truncate"
    for_each_row: bool = True  # False: a statement trigger, run once even when no row changes
    # Triggers: UPDATE OF these columns only; checks: the columns they read (dropped with any of them).
    columns: tuple[str, ...] = ()
    enabled: bool = True  # False: a trigger disabled (or firing only in replicas) by ALTER TABLE


# A view or materialized view: what the model keys it by is its own name.
VIEW_KINDS = ("view", "materialized view")
# (kind, schema, table or view, own name): a view's own name is "" (its key is already the view's).
DependentKey = tuple[str, str, str, str]


@dataclass(frozen=True)
class Dependent:
    """An object PostgreSQL keeps in step with the table columns it reads: a view or materialized view
    (what its query reads), a generated column (its expression), a policy (USING, WITH CHECK), a trigger
    (its UPDATE OF columns, its WHEN). While it exists, PostgreSQL refuses to change the type of any of
    those columns, whatever the rows hold."""

    kind: str  # "view" | "materialized view" | "generated column" | "policy" | "trigger"
    name: str  # its own name (a generated column's: the column's)
    on: tuple[str, str]  # a view's own key; the table a generated column, policy or trigger is on
    reads: frozenset[KeyColumn] = frozenset()
    relations: frozenset[tuple[str, str]] = frozenset()  # views: every table and view their query reads
    # SQL that creates it again, as written (a generated column: its definition, for ADD COLUMN); "" when
    # not known, or renamed since (the statement names what was)
    definition: str = ""
    columns: tuple[str, ...] | None = None  # views: their column names, in order (None: not all known)

    @property
    def key(self) -> DependentKey:
        return (self.kind, self.on[0], self.on[1], "" if self.kind in VIEW_KINDS else self.name)


_INTEGER_RANK = {"smallint": 2, "integer": 4, "bigint": 8}
# The longest text of each integer type, with its sign: -32768, -2147483648, -9223372036854775808.
_INTEGER_TEXT_LENGTH = {"smallint": 6, "integer": 11, "bigint": 20}


def retype_keeps_values(old: m.TypeSpec | None, change: m.AlterColumnType) -> bool:
    """True when ``ALTER COLUMN ... TYPE`` from ``old`` keeps every value of the column, equal values equal
    and distinct ones distinct, so the unique keys and foreign keys its rows satisfied still hold: a wider
    integer (smallint, integer, bigint), a longer or unbounded varchar or text from varchar or text (the
    same comparison; a shorter one cuts trailing spaces), a longer char(n) (its comparison ignores
    trailing spaces before and after), numeric with no fewer integer digits nor decimals, or the same
    type. An integer to text, or to a varchar long enough for every value of its type (6, 11, 20
    characters), too: each value becomes its one decimal spelling (Prisma's ``Int @id`` made a ``String``
    cuid), so a key whose sides are both changed so still holds; one changed on one side only no longer
    compares with the other (see ``SchemaModel.dropped_keys_apart``). Conservative: anything else counts
    as a change (citext and char(n) from a string compare differently, other conversions round or
    reformat), and so does any USING expression. The collation is not read: a change of a column with a
    nondeterministic one is not seen (as in unique-on-existing-table)."""
    new = change.new_type
    if old is None or change.using is not None or old.user_defined or new.user_defined:
        return False
    if old.array_dims != new.array_dims:
        return False
    ob, nb = old.base, new.base
    if (ob, old.params) == (nb, new.params):
        return True
    if ob in _INTEGER_RANK and nb in _INTEGER_RANK:
        return _INTEGER_RANK[nb] >= _INTEGER_RANK[ob]
    if ob in _INTEGER_RANK and nb in ("varchar", "text"):
        return nb == "text" or not new.params or new.params[0] >= _INTEGER_TEXT_LENGTH[ob]
    if ob in ("varchar", "text") and nb in ("varchar", "text"):
        if nb == "text" or not new.params:
            return True
        return ob == "varchar" and bool(old.params) and new.params[0] >= old.params[0]
    if ob in ("char", "bpchar") and nb in ("char", "bpchar"):
        old_length, new_length = _char_length(old), _char_length(new)
        return new_length is None or (old_length is not None and new_length >= old_length)
    if ob == "numeric" and nb == "numeric":
        if not new.params:
            return True  # unconstrained: every value as it is, its decimals kept
        if not old.params:
            return False
        old_scale = old.params[1] if len(old.params) > 1 else 0
        new_scale = new.params[1] if len(new.params) > 1 else 0
        return new_scale >= old_scale and new.params[0] - new_scale >= old.params[0] - old_scale
    return False


def _char_length(spec: m.TypeSpec) -> int | None:
    """The length of char(n) (char alone is char(1)); None for bpchar without one (unbounded)."""
    if spec.params:
        return spec.params[0]
    return 1 if spec.base == "char" else None


# The types a key column moves between when every value is kept: integers, and the strings they may
# become. Keys whose two sides are in different ones do not compare ("incompatible types").
_KEY_TYPE_FAMILY = {"smallint": "integer", "integer": "integer", "bigint": "integer", "text": "text", "varchar": "text"}


def _sides_compare(child: m.TypeSpec, parent: m.TypeSpec) -> bool:
    """False when one side of a foreign key is an integer and the other a string: no key joins them."""
    families = (_KEY_TYPE_FAMILY.get(child.base), _KEY_TYPE_FAMILY.get(parent.base))
    return None in families or child.user_defined or parent.user_defined or families[0] == families[1]


_SEARCH_PATH_ENTRY = re.compile(r'(?:"(?:[^"]|"")*"|[^,"])+')


class SchemaModel:
    """Mutable model owned by the linter; rules only read it."""

    # The migration that last set search_path away from the default schema (None: default), and the
    # schemas it listed. Class attributes too, so a model pickled before they existed still reads.
    search_path_set_by: str | None = None
    search_path_schemas: tuple[str, ...] = ()
    # Temporary tables: name -> the migration that created it (replaced, never changed in place).
    temp_tables: dict[str, str] = {}  # noqa: RUF012 - copied on write
    steps: int = 0  # statements folded so far
    unseen_code_at: int = -1  # the step of the last statement that may have filled any table
    # table key -> (kind, name) -> the code it runs on row changes (replaced, never changed in place)
    row_code: dict[tuple[str, str], dict[tuple[str, str], RowCode]] = {}  # noqa: RUF012 - copied on write
    # table key -> its row-level security policies: (name, whether it lets rows be read) (replaced,
    # never changed in place)
    policies: dict[tuple[str, str], frozenset[tuple[str, bool]]] = {}  # noqa: RUF012 - copied on write
    # table key -> (row-level security enabled, forced), for the tables the history turned it on for
    row_security: dict[tuple[str, str], tuple[bool, bool]] = {}  # noqa: RUF012 - copied on write
    # Unique keys dropped by the migration being folded whose rows have not changed since (replaced,
    # never changed in place): see the module docstring.
    held_keys: tuple[HeldKey, ...] = ()
    # The views, materialized views, generated columns, policies and triggers that read table columns
    # (replaced, never changed in place): see ``dependents_of``.
    dependents: dict[DependentKey, Dependent] = {}  # noqa: RUF012 - copied on write
    # Foreign keys a migration dropped whose columns it has since retyped so that the two sides no longer
    # compare (an integer on one side, a text on the other): re-adding one fails whatever the rows, so it
    # is kept out of TableState.dropped_foreign_keys while so. (table key, name) -> the entry (replaced,
    # never changed in place).
    dropped_keys_apart: dict[tuple[tuple[str, str], str], tuple[ForeignKeyState, str]] = {}  # noqa: RUF012

    def __init__(self, default_schema: str = "public") -> None:
        self.default_schema = default_schema
        self.tables: dict[tuple[str, str], TableState] = {}
        self.enums: dict[tuple[str, str], EnumState] = {}
        self.indexes: dict[tuple[str, str], IndexState] = {}
        self.fresh_migrations: frozenset[str] = frozenset()
        # Other named objects (kind, schema, name) -> the migration that created them.
        self.objects: dict[tuple[str, str, str], str | None] = {}  # None: kept by IF NOT EXISTS, origin unknown
        self.temp_tables = {}
        self.row_code = {}
        self.policies = {}
        self.row_security = {}
        self.dependents = {}
        self.dropped_keys_apart = {}
        self._enum_names: frozenset[str] | None = None  # cache, reset when enums change

    # ---- reading ------------------------------------------------------------------------------

    def key(self, name: m.Name) -> tuple[str, str]:
        if name.schema is not None:
            return (name.schema, name.name)
        if self.temp_tables and self.temp_tables.get(name.name) in self.fresh_migrations:
            return ("pg_temp", name.name)
        if self.search_path_set_by is not None and self.search_path_set_by in self.fresh_migrations:
            return (self._search_path_schema(name.name), name.name)
        return (self.default_schema, name.name)

    def _search_path_schema(self, name: str) -> str:
        """The schema an unqualified name resolves to under the search_path set in this deploy."""
        listed = [s for s in self.search_path_schemas if s != "$user"]
        for schema in listed:
            if (schema, name) in self.tables or (schema, name) in self.enums:
                return schema
        # Only "$user" (a schema named after the role, unknown here): the name stays "unsure" (see
        # _unsure), and findings name the default schema rather than a schema called "$user".
        return listed[0] if listed else self.default_schema

    def table(self, name: m.Name) -> TableState | None:
        return self.tables.get(self.key(name))

    def column(self, table: m.Name, column: str) -> ColumnState | None:
        state = self.table(table)
        return state.columns.get(column) if state else None

    def enum(self, name: m.Name | str) -> EnumState | None:
        if isinstance(name, str):
            name = m.Name(name)
        return self.enums.get(self.key(name))

    def enum_names(self) -> frozenset[str]:
        if self._enum_names is None:
            self._enum_names = frozenset(k[1] for k in self.enums)
        return self._enum_names

    def search_path_moved(self) -> bool:
        """True when a migration of this deploy (one session) set search_path away from the default schema."""
        return self.search_path_set_by is not None and self.search_path_set_by in self.fresh_migrations

    def _unsure(self, name: m.Name) -> bool:
        """An unqualified name while search_path points elsewhere: the model cannot tell what it names."""
        return name.schema is None and self.search_path_moved() and self.key(name)[0] != "pg_temp"

    def is_created_by_deploy(self, name: m.Name) -> bool:
        """True when the table was created by a migration of this deploy: no other session uses it yet.
        It may hold rows (see ``is_fresh_table``)."""
        state = self.table(name)
        return state is not None and state.created_in in self.fresh_migrations and not self._unsure(name)

    def is_fresh_table(self, name: m.Name) -> bool:
        """True when the table was created by a migration of this deploy and nothing may have filled it
        since: it holds no rows."""
        state = self.table(name)
        return (
            state is not None
            and state.created_in in self.fresh_migrations
            and not state.filled
            and state.created_at > self.unseen_code_at
            and not self._unsure(name)
        )

    def is_fresh_object(self, kind: str, name: m.Name) -> bool:
        """True for a schema, sequence or (materialized) view created by a migration of this deploy."""
        if kind != "schema" and self._unsure(name):
            return False
        return self.objects.get(self._object_key(kind, name)) in self.fresh_migrations

    def is_fresh_enum(self, name: m.Name) -> bool:
        """True for an enum created by a migration of this deploy."""
        state = self.enum(name)
        return state is not None and state.created_in in self.fresh_migrations and not self._unsure(name)

    def _object_key(self, kind: str, name: m.Name) -> tuple[str, str, str]:
        if kind == "schema":
            return (kind, name.name, "")
        schema, object_name = self.key(name)
        return (kind, schema, object_name)

    def has_validated_not_null_check(self, table: m.Name, column: str) -> bool:
        """A validated CHECK (column IS NOT NULL) lets PostgreSQL 12+ skip SET NOT NULL's scan."""
        state = self.table(table)
        return state is not None and (column, True) in state.not_null_checks.values()

    def is_fresh_index(self, name: m.Name) -> bool:
        state = self.indexes.get(self.key(name))
        return state is not None and state.created_in in self.fresh_migrations and not self._unsure(name)

    def unique_indexes(self, table: m.Name) -> tuple[IndexState, ...]:
        """The unique indexes the model knows on the table (primary key and unique constraints included,
        partial ones too)."""
        key = self.key(table)
        return tuple(i for i in self.indexes.values() if i.table == key and i.unique)

    def unique_keys(
        self, table: m.Name, migration: str, before: Sequence[m.AlterAction] = ()
    ) -> tuple[tuple[str, ...], ...]:
        """Column sets over which the rows of the table are unique (no two rows equal in all of them
        without a NULL among them), once the ``before`` actions of the statement being checked have run:
        its unique keys covering every row, and those a statement of ``migration`` (the file being
        linted) dropped while no statement since could have changed the rows (``held_keys``). A key is
        left out when ``before`` changes, drops, adds or renames one of its columns; a key dropped by
        ``before`` still counts, unless ``before`` also runs code the linter cannot see into."""
        if self._unsure(table) or any(isinstance(a, m.RenameTable) for a in before):
            return ()
        key = self.key(table)
        changed = self._changed_columns(key, before)
        dropped = {a.name for a in before if isinstance(a, m.DropConstraint)}
        unseen = bool(m.alter_table_calls(m.AlterTable(table, tuple(before))))
        keys = [
            (i.columns, i.key[1] in dropped)
            for i in self.indexes.values()
            if i.table == key and i.unique and not i.partial and i.columns
        ]
        keys.extend((h.columns, True) for h in self.held_keys if h.table == key and h.migration == migration)
        return tuple(columns for columns, held in keys if not (held and unseen) and not changed.intersection(columns))

    def _changed_columns(self, table: tuple[str, str], actions: Sequence[m.AlterAction]) -> set[str]:
        """The columns of ``table`` whose values ``actions`` may change (run on the model as it is):
        changed to a type that may not keep them (``retype_keeps_values``), dropped, added or renamed."""
        state = self.tables.get(table)
        types: dict[str, m.TypeSpec | None] = {}  # columns retyped by an earlier action
        changed: set[str] = set()
        for action in actions:
            if isinstance(action, m.AlterColumnType):
                column = state.columns.get(action.column) if state is not None else None
                old = types.get(action.column, column.type if column else None)
                if not retype_keeps_values(old, action):
                    changed.add(action.column)
                types[action.column] = action.new_type
            elif isinstance(action, m.DropColumn):
                changed.add(action.column)
            elif isinstance(action, m.AddColumn):
                changed.add(action.column.name)
            elif isinstance(action, m.RenameColumn):
                changed.update((action.old, action.new))
        return changed

    def index_table(self, name: m.Name) -> tuple[str, str] | None:
        state = self.indexes.get(self.key(name))
        return state.table if state else None

    def code_run_by(self, change: m.DataChange | m.Truncate) -> tuple[tuple[m.Name, RowCode], ...]:
        """The project code a row change runs on its table(s): triggers of its event, the defaults it
        fills, the CHECKs of the rows it writes."""
        if not self.row_code:
            return ()
        if isinstance(change, m.Truncate):
            return tuple(
                (table, code)
                for table in change.tables
                for code in self.row_code.get(self.key(table), {}).values()
                if "truncate" in code.events and code.enabled
            )
        codes = self.row_code.get(self.key(change.table))
        if not codes:
            return ()
        return tuple((change.table, code) for code in codes.values() if code.enabled and _runs(code, change))

    def check_calls(self, table: m.Name, constraint: str) -> tuple[str, ...]:
        """The project functions a CHECK constraint of the table calls (VALIDATE CONSTRAINT runs them)."""
        code = self.row_code.get(self.key(table), {}).get(("check", constraint))
        return code.calls if code is not None else ()

    def has_readable_policy(self, table: m.Name) -> bool:
        """Whether the history has left a policy on the table that lets rows be read (a permissive one
        for ALL or SELECT): without one, row-level security hides every row."""
        return any(reads for _, reads in self.policies.get(self.key(table), ()))

    def row_security_of(self, table: m.Name) -> tuple[bool, bool]:
        """(enabled, forced): row-level security as the history left it on the table."""
        return self.row_security.get(self.key(table), (False, False))

    def dependents_of(self, table: m.Name, column: str) -> tuple[Dependent, ...]:
        """The views, materialized views, generated columns, policies and triggers the history left that
        read the column: PostgreSQL refuses to change its type while they exist."""
        if not self.dependents:
            return ()
        read = (self.key(table), column)
        return tuple(d for d in self.dependents.values() if read in d.reads)

    def view(self, name: m.Name, kind: str = "view") -> Dependent | None:
        """The view (or materialized view) of that name the history created, if the model knows it."""
        return self.dependents.get((kind, *self.key(name), ""))

    def view_columns(self, columns: Sequence[str | m.Name] | None) -> tuple[str, ...] | None:
        """A view's column names (``m.CreateObject.columns``), each ``*`` spelled out with the columns its
        table (or view) has now, in their order; None when one of them is not known."""
        if columns is None:
            return None
        names: list[str] = []
        for column in columns:
            if isinstance(column, str):
                names.append(column)
                continue
            key = self.key(column)
            table = self.tables.get(key)
            view = self.dependents.get(("view", *key, "")) or self.dependents.get(("materialized view", *key, ""))
            if table is not None and not self._unsure(column):
                names.extend(table.columns)
            elif view is not None and view.columns is not None:
                names.extend(view.columns)
            else:
                return None
        return tuple(names)

    def _resolve_reads(self, reads: m.Reads | None) -> frozenset[KeyColumn]:
        """The table columns a query or expression reads, as far as the model can tell them: a name
        resolves to the table of its scope that has a column of that name; when two do, or a table the
        model does not know might, it is left out (a missed dependency, never a false one)."""
        if reads is None:
            return frozenset()
        found: set[KeyColumn] = set()
        for read in reads.columns:
            for level in read.scopes:
                keys = [self.key(t) for t in level]
                known = [self.tables.get(k) for k in keys]
                having = [k for k, t in zip(keys, known, strict=True) if t is not None and read.column in t.columns]
                if len(having) == 1:
                    found.add((having[0], read.column))
                if having or None in known:
                    break
        for name in reads.every_column_of:
            key = self.key(name)
            table = self.tables.get(key)
            if table is not None:
                found.update((key, column) for column in table.columns)
        return frozenset(found)

    def _set_row_code(
        self, table: tuple[str, str], add: tuple[RowCode, ...] = (), drop: Callable[[RowCode], bool] | None = None
    ) -> None:
        """Replace the table's row code: without the entries ``drop`` selects, with those of ``add``."""
        if not add and table not in self.row_code:
            return
        codes = {key: code for key, code in self.row_code.get(table, {}).items() if drop is None or not drop(code)}
        for code in add:
            codes[(code.kind, code.name)] = code
        others = {k: v for k, v in self.row_code.items() if k != table}
        self.row_code = {**others, table: codes} if codes else others

    # ---- folding ------------------------------------------------------------------------------

    def apply(self, summary: m.Summary, migration: str) -> None:
        """Fold one statement into the model."""
        self.steps += 1
        if isinstance(summary, (m.CreateEnum, m.RenameType, m.DropObjects)):
            self._enum_names = None
        unseen = self._runs_unseen_code(summary)
        if unseen:
            self.unseen_code_at = self.steps  # any table may hold rows now
        if self.held_keys and not isinstance(summary, m.AlterTable):
            self._forget_held_keys(summary, migration, unseen)
        self._fold_row_code(summary)
        self._fold_policies(summary)
        self._fold_dependents(summary)
        for change in m.data_changes(summary):
            if isinstance(change, m.Insert):
                filled = self.table(change.table)
                if filled is not None:
                    filled.filled = True
        if isinstance(summary, m.SetSetting) and summary.name in ("search_path", "all"):
            schemas = self._search_path_entries(summary.value)
            moved = not self._is_default_search_path(summary.value)
            self.search_path_set_by = migration if moved else None
            self.search_path_schemas = tuple(schemas) if moved else ()
        elif isinstance(summary, m.CreateTable):
            key = self.key(summary.table)
            unsure = self._unsure(summary.table)
            if (summary.if_not_exists or unsure) and key in self.tables:
                return
            if summary.temporary:
                self.temp_tables = {**self.temp_tables, summary.table.name: migration}
                key = ("pg_temp", summary.table.name)
            # IF NOT EXISTS of a table the history does not know: it may exist already, with rows.
            existing = unsure or (summary.if_not_exists and not summary.temporary)
            table = TableState(
                key,
                created_in=None if existing else migration,
                filled=summary.as_query and not summary.no_data,
                created_at=self.steps,
            )
            for column in summary.columns:
                table.columns[column.name] = _column_state(column)
            for constraint in summary.constraints:
                if constraint.kind == "primary key":
                    for column_name in constraint.columns:
                        if column_name in table.columns:
                            table.columns[column_name] = replace(table.columns[column_name], not_null=True)
                if constraint.kind == "foreign key" and constraint.name and constraint.references is not None:
                    table.foreign_keys[constraint.name] = ForeignKeyState(
                        constraint.columns, self.key(constraint.references), constraint.ref_columns, True
                    )
            self.tables[key] = table
            if not existing:  # a table kept by IF NOT EXISTS may have other keys: its own are unknown
                keys = [c for column in summary.columns for c in column.constraints] + list(summary.constraints)
                for constraint in keys:
                    self._add_key(key, constraint, migration)
        elif isinstance(summary, m.AlterTable):
            # The columns whose values it changes, judged on the types before it: only when a key is held,
            # or one it drops may be.
            touched = (
                self._changed_columns(self.key(summary.table), summary.actions)
                if self.held_keys or any(isinstance(a, m.DropConstraint) for a in summary.actions)
                else set()
            )
            self._alter_table(summary, migration)
            if self.held_keys:  # after the fold: a key it drops is forgotten if it also changes the key's rows
                self._forget_held_keys(summary, migration, unseen, touched)
            if any(isinstance(a, m.AlterColumnType) for a in summary.actions):
                self._sort_dropped_keys(migration)
        elif isinstance(summary, m.DropObjects):
            for dropped in summary.names:
                if summary.kind != "schema" and self._unsure(dropped):
                    continue  # it may be another schema's object: keep what the model knows
                key = self.key(dropped)
                if summary.kind == "table":
                    self.tables.pop(key, None)
                    if key[0] == "pg_temp" and key[1] in self.temp_tables:
                        self.temp_tables = {k: v for k, v in self.temp_tables.items() if k != key[1]}
                    self.indexes = {k: v for k, v in self.indexes.items() if v.table != key}
                elif summary.kind in ("type", "domain"):
                    self.enums.pop(key, None)
                elif summary.kind == "schema":
                    schema = dropped.name
                    self.tables = {k: v for k, v in self.tables.items() if k[0] != schema}
                    self.enums = {k: v for k, v in self.enums.items() if k[0] != schema}
                    self.indexes = {k: v for k, v in self.indexes.items() if k[0] != schema}
                self.objects.pop(self._object_key(summary.kind, dropped), None)
        elif isinstance(summary, m.CreateIndex):
            if summary.name is not None:
                table_key = self.key(summary.table)
                index_key = (summary.name.schema or table_key[0], summary.name.name)
                if self._unsure(summary.table) or summary.if_not_exists:
                    # IF NOT EXISTS keeps an index of that name, which may predate the history.
                    self.indexes.setdefault(index_key, IndexState(index_key, table_key, summary.unique, None))
                else:
                    self.indexes[index_key] = IndexState(
                        index_key, table_key, summary.unique, migration, summary.columns, summary.partial
                    )
        elif isinstance(summary, m.DropIndex):
            for index_name in summary.names:
                if not self._unsure(index_name):
                    dropped_index = self.indexes.pop(self.key(index_name), None)
                    if dropped_index is not None and not summary.concurrently:
                        self._hold(dropped_index, migration)
        elif isinstance(summary, m.RenameIndex):
            old = self.indexes.pop(self.key(summary.index), None)
            if old is not None:
                new_key = (old.key[0], summary.new)
                self.indexes[new_key] = replace(old, key=new_key)
        elif isinstance(summary, m.CreateEnum):
            key = self.key(summary.name)
            if self._unsure(summary.name):
                self.enums.setdefault(key, EnumState(key, list(summary.values), None))
            else:
                self.enums[key] = EnumState(key, list(summary.values), migration)
        elif isinstance(summary, m.AlterEnumAddValue):
            enum = self.enum(summary.name)
            if enum is not None and summary.value not in enum.values:
                enum.values.append(summary.value)
                enum.added_by[summary.value] = migration
        elif isinstance(summary, m.AlterEnumRenameValue):
            enum = self.enum(summary.name)
            if enum is not None:
                enum.values = [summary.new if v == summary.old else v for v in enum.values]
                if summary.old in enum.added_by:
                    enum.added_by[summary.new] = enum.added_by.pop(summary.old)
        elif isinstance(summary, m.RenameType):
            self._rename_type(summary)
        elif isinstance(summary, m.Procedural) and summary.kind in ("function", "procedure") and summary.name:
            # CREATE FUNCTION fails on an existing name (same arguments): a function this deploy made; OR
            # REPLACE may have replaced an older one, which keeps its privileges.
            function_key = self._object_key("function", summary.name)
            if summary.or_replace or self._unsure(summary.name):
                self.objects.setdefault(function_key, None)
            else:
                self.objects[function_key] = migration
        elif isinstance(summary, m.CreateObject):
            object_key = self._object_key(summary.kind, summary.name)
            unsure = summary.kind != "schema" and self._unsure(summary.name)
            if summary.if_not_exists or summary.or_replace or unsure:
                # It may be an object that existed outside the history: never count it as created here.
                self.objects.setdefault(object_key, None)
            else:
                self.objects[object_key] = migration

    def _runs_unseen_code(self, summary: m.Summary) -> bool:
        """``m.runs_unseen_code``, knowing the tables: an ALTER TABLE of a table holding no rows runs its
        defaults, CHECKs and USING for none; a row change runs the code its table keeps for it."""
        if isinstance(summary, m.AlterTable):
            runs = m.runs_unseen_code(summary) or bool(
                self.row_code
                and any(
                    self.check_calls(summary.table, a.name)
                    for a in summary.actions
                    if isinstance(a, m.ValidateConstraint)
                )
            )
            return runs and not self.is_fresh_table(summary.table)
        if m.runs_unseen_code(summary):
            return True
        if not self.row_code:
            return False
        if isinstance(summary, m.Truncate):
            return bool(self.code_run_by(summary))
        return any(self.code_run_by(change) for change in m.data_changes(summary))

    def _fold_row_code(self, summary: m.Summary) -> None:
        """Fold what a statement does to the code tables run on row changes (see ``row_code``)."""
        if isinstance(summary, m.Harmless) and summary.table is not None:
            key = self.key(summary.table)
            trigger = summary.trigger
            if trigger is not None:
                code = RowCode(
                    "trigger",
                    trigger.name,
                    (trigger.function.display(),),
                    frozenset(trigger.events),
                    trigger.for_each_row,
                    trigger.columns,
                )
                self._set_row_code(key, (code,))
            elif summary.kind == "drop trigger" and summary.name is not None:
                self._set_row_code(key, drop=_named("trigger", summary.name))
            elif summary.kind == "rename trigger" and summary.name is not None and summary.new_name is not None:
                known = self.row_code.get(key, {}).get(("trigger", summary.name))
                if known is not None:
                    renamed = (replace(known, name=summary.new_name),)
                    self._set_row_code(key, renamed, drop=_named("trigger", summary.name))
        elif isinstance(summary, m.CreateTable):
            key = self.key(summary.table)
            if (summary.if_not_exists or self._unsure(summary.table)) and key in self.tables:
                return  # PostgreSQL keeps the table that exists (apply() keeps its model)
            if summary.temporary:
                key = ("pg_temp", summary.table.name)
            codes = [code for column in summary.columns for code in _column_code(key[1], column)]
            codes.extend(_check_code(key[1], c) for c in summary.constraints if c.kind == "check" and c.calls)
            self._set_row_code(key, tuple(codes), drop=lambda _code: True)  # a new table: only its own
        elif isinstance(summary, m.AlterTable):
            self._alter_row_code(summary)
        elif isinstance(summary, m.DropObjects) and summary.kind in ("table", "view", "foreign table", "schema"):
            for dropped in summary.names:
                if summary.kind == "schema":
                    self.row_code = {k: v for k, v in self.row_code.items() if k[0] != dropped.name}
                elif not self._unsure(dropped):
                    self._set_row_code(self.key(dropped), drop=lambda _code: True)

    def _fold_policies(self, summary: m.Summary) -> None:
        """Follow CREATE / ALTER / DROP POLICY, ENABLE / DISABLE / FORCE ROW LEVEL SECURITY, and the
        tables they are on being renamed or dropped."""
        if isinstance(summary, m.Harmless) and summary.table is not None and summary.name is not None:
            key = self.key(summary.table)
            found = self.policies.get(key, frozenset())
            kept = frozenset(p for p in found if p[0] != summary.name)
            if summary.kind == "create policy":
                reads = summary.policy is None or summary.policy.lets_rows_be_read
                self.policies = {**self.policies, key: kept | {(summary.name, reads)}}
            elif summary.kind == "drop policy":
                self.policies = {**self.policies, key: kept}
            elif summary.kind == "rename policy" and summary.new_name is not None and kept != found:
                renamed = frozenset((summary.new_name, reads) for name, reads in found if name == summary.name)
                self.policies = {**self.policies, key: kept | renamed}
        elif isinstance(summary, m.AlterTable):
            key = self.key(summary.table)
            for action in summary.actions:
                if isinstance(action, m.OtherTableAction) and action.description.endswith(m.ROW_SECURITY):
                    enabled, forced = self.row_security.get(key, (False, False))
                    setting = action.description[: -len(m.ROW_SECURITY) - 1]
                    enabled = {"enable": True, "disable": False}.get(setting, enabled)
                    forced = {"force": True, "no force": False}.get(setting, forced)
                    self.row_security = {**self.row_security, key: (enabled, forced)}
                elif isinstance(action, m.RenameTable):
                    new_key = (key[0], action.new)
                    if key in self.policies:
                        self.policies = {**_without(self.policies, key), new_key: self.policies[key]}
                    if key in self.row_security:
                        self.row_security = {**_without(self.row_security, key), new_key: self.row_security[key]}
                    key = new_key
        elif isinstance(summary, m.DropObjects) and summary.kind in ("table", "schema"):
            for dropped in summary.names:
                if summary.kind == "schema":
                    self.policies = {k: v for k, v in self.policies.items() if k[0] != dropped.name}
                    self.row_security = {k: v for k, v in self.row_security.items() if k[0] != dropped.name}
                elif not self._unsure(dropped):
                    gone = self.key(dropped)
                    self.policies = {k: v for k, v in self.policies.items() if k != gone}
                    self.row_security = {k: v for k, v in self.row_security.items() if k != gone}

    def _sort_dropped_keys(self, migration: str) -> None:
        """Keep the foreign keys ``migration`` dropped whose sides no longer compare apart (see
        ``dropped_keys_apart``), and put back those whose sides compare again."""
        apart = dict(self.dropped_keys_apart)
        for table in self.tables.values():
            for name, entry in list(table.dropped_foreign_keys.items()):
                if entry[1] == migration and not self._key_sides_compare(table.key, entry[0]):
                    apart[(table.key, name)] = table.dropped_foreign_keys.pop(name)
        for (key, name), entry in list(apart.items()):
            state = self.tables.get(key)
            if state is None or entry[1] != migration or name in state.dropped_foreign_keys:
                del apart[(key, name)]  # gone, from an earlier file, or dropped again since
            elif self._key_sides_compare(key, entry[0]):
                state.dropped_foreign_keys[name] = entry
                del apart[(key, name)]
        self.dropped_keys_apart = apart

    def _key_sides_compare(self, table: tuple[str, str], key: ForeignKeyState) -> bool:
        child, parent = self.tables.get(table), self.tables.get(key.references)
        if child is None or parent is None:
            return True
        for name, ref_name in zip(key.columns, key.ref_columns, strict=False):
            column, ref_column = child.columns.get(name), parent.columns.get(ref_name)
            if column is not None and ref_column is not None and not _sides_compare(column.type, ref_column.type):
                return False
        return True

    def _fold_dependents(self, summary: m.Summary) -> None:
        """Follow the objects that read table columns (``dependents``): created, replaced, renamed with
        their tables and columns, dropped with them. Conservative: what the model cannot place is left
        out, what a statement may have dropped is forgotten."""
        if isinstance(summary, m.CreateObject) and summary.kind in VIEW_KINDS:
            self._create_view(summary)
        elif isinstance(summary, m.CreateTable):
            key = self.key(summary.table)
            if (summary.if_not_exists or self._unsure(summary.table)) and key in self.tables:
                return
            if summary.temporary:
                key = ("pg_temp", summary.table.name)
            self._add_dependents(*(_generated(key, column) for column in summary.columns if column.reads))
        elif isinstance(summary, m.AlterTable):
            if self.dependents or any(isinstance(a, m.AddColumn) and a.column.reads for a in summary.actions):
                self._alter_dependents(summary)
        elif isinstance(summary, m.Harmless) and summary.table is not None and summary.name is not None:
            self._attached_dependents(summary, summary.table, summary.name)
        elif isinstance(summary, m.DropObjects) and self.dependents:
            self._drop_dependents(summary)

    def _add_dependents(self, *added: Dependent) -> None:
        if added and not self.search_path_moved():  # names could resolve to other schemas' objects
            self.dependents = {**self.dependents, **{d.key: d for d in added}}

    def _create_view(self, summary: m.CreateObject) -> None:
        key = (summary.kind, *self.key(summary.name), "")
        if summary.if_not_exists or self._unsure(summary.name) or key[1] == "pg_temp":
            return  # it may be an older view, whose query is not known; a temporary one ends with its session
        relations = frozenset(self.key(n) for n in (summary.reads.relations if summary.reads is not None else ()))
        # CREATE OR REPLACE VIEW: the new query's dependencies replace the old one's.
        self._forget_dependents(lambda d: d.key == key, cascade=False)
        view = Dependent(
            summary.kind,
            summary.name.name,
            key[1:3],
            self._resolve_reads(summary.reads),
            relations,
            summary.definition,
            self.view_columns(summary.columns),
        )
        self._add_dependents(view)

    def _attached_dependents(self, summary: m.Harmless, table: m.Name, name: str) -> None:
        """CREATE / DROP / ALTER / rename of a policy or trigger."""
        key = self.key(table)
        kind = summary.kind.rpartition(" ")[2]
        if kind not in ("policy", "trigger"):
            return

        def named(d: Dependent) -> bool:
            on_table = d.on == key or (self._unsure(table) and d.on[1] == key[1])
            return d.kind == kind and on_table and d.name == name

        if summary.kind == "create policy" and summary.policy is not None:
            policy = summary.policy
            reads = self._resolve_reads(policy.reads)
            self._add_dependents(Dependent("policy", name, key, reads, definition=policy.definition))
        elif summary.kind == "create trigger" and summary.trigger is not None:
            trigger = summary.trigger
            reads = frozenset((key, column) for column in (*trigger.columns, *trigger.when_reads))
            self._add_dependents(Dependent("trigger", name, key, reads, definition=trigger.definition))
        elif summary.kind.startswith("rename ") and summary.new_name is not None:
            renamed = [replace(d, name=summary.new_name) for d in self.dependents.values() if named(d)]
            self._forget_dependents(named, cascade=False)
            self._add_dependents(*renamed)
        else:  # DROP, or ALTER POLICY (its expressions may read other columns now)
            self._forget_dependents(named, cascade=False)

    def _alter_dependents(self, summary: m.AlterTable) -> None:
        key = self.key(summary.table)
        for action in summary.actions:
            if isinstance(action, m.AddColumn) and action.column.reads:
                table = self.tables.get(key)
                if not (action.if_not_exists and table is not None and action.column.name in table.columns):
                    self._add_dependents(_generated(key, action.column))
            elif isinstance(action, m.DropColumn):
                # With CASCADE, PostgreSQL drops what reads the column; without, the statement fails.
                self._forget_dependents(_reading_or_being((key, action.column)))
            elif isinstance(action, m.RenameColumn):
                old, new = (key, action.old), (key, action.new)
                touched = [d for d in self.dependents.values() if _reading_or_being(old)(d)]
                moved = [
                    replace(
                        d,
                        name=action.new if d.kind == "generated column" and (d.on, d.name) == old else d.name,
                        reads=frozenset(new if read == old else read for read in d.reads),
                        definition="",  # as written, it names the column as it was
                    )
                    for d in touched
                ]
                self._forget_dependents(_reading_or_being(old), cascade=False)
                self._add_dependents(*moved)
            elif isinstance(action, m.RenameTable):
                new_key = (key[0], action.new)
                self._move_dependents(key, new_key)
                key = new_key

    def _move_dependents(self, old: tuple[str, str], new: tuple[str, str]) -> None:
        """A table (or view) renamed: what reads it, and what is on it, follows."""

        def moved(d: Dependent) -> Dependent:
            return replace(
                d,
                name=new[1] if d.kind in VIEW_KINDS and d.on == old else d.name,
                on=new if d.on == old else d.on,
                reads=frozenset(((new if t == old else t), c) for t, c in d.reads),
                relations=frozenset(new if r == old else r for r in d.relations),
                definition="",  # as written, it names the table as it was
            )

        touched = [d for d in self.dependents.values() if _on_or_reading({old})(d)]
        if touched:
            keys = {d.key for d in touched}
            kept = {k: d for k, d in self.dependents.items() if k not in keys}
            self.dependents = {**kept, **{moved(d).key: moved(d) for d in touched}}

    def _drop_dependents(self, summary: m.DropObjects) -> None:
        if summary.kind not in (*VIEW_KINDS, "table", "foreign table", "schema"):
            if summary.cascade or summary.kind == "owned by":
                # A type, function, extension... dropped with CASCADE takes the columns, views, triggers
                # and policies that use it: which ones is not known, so none is kept.
                self._forget_dependents(lambda _d: True)
            return
        keys: set[tuple[str, str]] = set()
        for dropped in summary.names:
            if summary.kind == "schema" or self._unsure(dropped):
                # Every object of the schema; a name that may be another schema's: all of that name.
                matching = (d.on for d in self.dependents.values())
                keys.update(k for k in matching if (k[0] if summary.kind == "schema" else k[1]) == dropped.name)
                relations = (r for d in self.dependents.values() for r in (*d.relations, *(t for t, _ in d.reads)))
                keys.update(k for k in relations if (k[0] if summary.kind == "schema" else k[1]) == dropped.name)
            else:
                keys.add(self.key(dropped))
        if summary.kind in VIEW_KINDS:
            kind = summary.kind
            self._forget_dependents(lambda d: d.kind == kind and d.on in keys)
        else:
            self._forget_dependents(_on_or_reading(keys))

    def _forget_dependents(self, gone: Callable[[Dependent], bool], *, cascade: bool = True) -> None:
        """Forget the dependents ``gone`` selects; with ``cascade``, also what is on or reads a view
        forgotten (DROP ... CASCADE takes them; without it the statement fails)."""
        if not self.dependents:
            return
        kept = dict(self.dependents)
        leaving = [k for k, d in kept.items() if gone(d)]
        while leaving:
            views = {kept[k].on for k in leaving if kept[k].kind in VIEW_KINDS}
            for k in leaving:
                del kept[k]
            leaving = [k for k, d in kept.items() if cascade and views and (d.on in views or d.relations & views)]
        if len(kept) != len(self.dependents):
            self.dependents = kept

    def _alter_row_code(self, summary: m.AlterTable) -> None:
        key = self.key(summary.table)
        for action in summary.actions:
            if isinstance(action, m.AddColumn):
                self._set_row_code(key, _column_code(key[1], action.column))
            elif isinstance(action, m.AddConstraint):
                if action.constraint.kind == "check" and action.constraint.calls:
                    self._set_row_code(key, (_check_code(key[1], action.constraint),))
            elif isinstance(action, (m.SetDefault, m.DropDefault)):
                calls = action.default.unknown_calls if isinstance(action, m.SetDefault) else ()
                added = (RowCode("default", action.column, calls, _DEFAULT_EVENTS),) if calls else ()
                self._set_row_code(key, added, drop=_named("default", action.column))
            elif key not in self.row_code:
                continue  # the table keeps no code: nothing to move, rename or drop
            elif isinstance(action, m.RenameTable):
                new_key = (key[0], action.new)
                self.row_code = {**{k: v for k, v in self.row_code.items() if k != key}, new_key: self.row_code[key]}
                key = new_key
            elif isinstance(action, m.TriggerState):
                switched = tuple(
                    replace(c, enabled=action.enabled)
                    for c in self.row_code[key].values()
                    if c.kind == "trigger" and action.trigger in (None, c.name)
                )
                self._set_row_code(key, switched)
            elif isinstance(action, m.DropColumn):
                self._set_row_code(key, drop=_dropped_with(action.column))
            elif isinstance(action, m.RenameColumn):
                old, new = action.old, action.new
                renamed = tuple(
                    replace(
                        c,
                        name=new if c.kind == "default" and c.name == old else c.name,
                        columns=tuple(new if name == old else name for name in c.columns),
                    )
                    for c in self.row_code[key].values()
                )
                self._set_row_code(key, renamed, drop=lambda _code: True)
            elif isinstance(action, m.DropConstraint):
                self._set_row_code(key, drop=_named("check", action.name))
            elif isinstance(action, m.RenameConstraint):
                code = self.row_code.get(key, {}).get(("check", action.old))
                if code is not None:
                    self._set_row_code(key, (replace(code, name=action.new),), drop=_named("check", action.old))

    @staticmethod
    def _search_path_entries(value: str) -> list[str]:
        """The schemas a search_path value lists, as PostgreSQL reads them (quoted names kept, others folded)."""
        entries = []
        # Split at the commas outside double quotes: a quoted schema name may hold one.
        for entry in _SEARCH_PATH_ENTRY.findall(value.strip().strip("'")):
            entry = entry.strip().strip("'").strip()
            if len(entry) >= 2 and entry[0] == entry[-1] == '"':
                entries.append(entry[1:-1].replace('""', '"'))
            elif entry:
                entries.append(entry.lower())
        # pg_catalog and pg_temp hold no tables of the project (temporary ones are modelled apart).
        return [e for e in entries if e not in ("pg_catalog", "pg_temp")]

    def _is_default_search_path(self, value: str) -> bool:
        """True when ``value`` (as SET wrote it) creates and finds unqualified names in the default schema."""
        if value.strip().upper() == "DEFAULT":
            return True
        # "$user" names a schema only when one is named after the role, as in PostgreSQL's default path.
        schemas = [e for e in self._search_path_entries(value) if e != "$user"]
        return bool(schemas) and schemas[0] == self.default_schema

    def _rename_type(self, summary: m.RenameType) -> None:
        old_key = self.key(summary.name)
        enum = self.enums.pop(old_key, None)
        if enum is None:
            return
        new_key = (old_key[0], summary.new)
        enum.key = new_key
        self.enums[new_key] = enum
        # Columns follow the type: PostgreSQL stores the type's OID, not its name.
        old_name = old_key[1]
        for table in self.tables.values():
            # A comprehension first: this runs over every column of the schema, and few match.
            using = [name for name, c in table.columns.items() if c.type.base == old_name and c.type.user_defined]
            for name in using:
                column = table.columns[name]
                table.columns[name] = replace(column, type=replace(column.type, base=summary.new))

    def _alter_table(self, summary: m.AlterTable, migration: str) -> None:
        key = self.key(summary.table)
        table = self.tables.get(key)
        for action in summary.actions:
            if isinstance(action, m.RenameTable):
                if table is not None:
                    old_key = key
                    self.tables.pop(key)
                    key = (key[0], action.new)
                    table.key = key
                    self.tables[key] = table
                    if key[0] == "pg_temp":
                        temp = {k: v for k, v in self.temp_tables.items() if k != old_key[1]}
                        self.temp_tables = {**temp, action.new: self.temp_tables.get(old_key[1], "")}
                    for name, index in list(self.indexes.items()):
                        if index.table == old_key:
                            self.indexes[name] = replace(index, table=key)
                continue
            if table is None:
                continue
            if isinstance(action, m.AddColumn):
                known = action.column.name in table.columns
                if known and (action.if_not_exists or self._unsure(summary.table)):
                    continue  # PostgreSQL leaves the existing column (and its values) as they are
                added_in = None if self._unsure(summary.table) else migration
                table.columns[action.column.name] = _column_state(action.column, added_in)
                for constraint in action.column.constraints:
                    self._add_key(key, constraint, migration)
            elif isinstance(action, m.DropColumn):
                table.columns.pop(action.column, None)
                # PostgreSQL drops the indexes that use the column with it
                self.indexes = {
                    k: v for k, v in self.indexes.items() if not (v.table == key and action.column in v.columns)
                }
            elif isinstance(action, m.AlterColumnType):
                column = table.columns.get(action.column)
                if column is not None:
                    table.columns[action.column] = replace(column, type=action.new_type)
            elif isinstance(action, m.SetNotNull):
                _update(table, action.column, not_null=True)
            elif isinstance(action, m.DropNotNull):
                _update(table, action.column, not_null=False)
            elif isinstance(action, m.SetDefault):
                _update(table, action.column, has_default=True)
            elif isinstance(action, m.DropDefault):
                _update(table, action.column, has_default=False)
            elif isinstance(action, m.RenameColumn):
                if action.old in table.columns:  # in its place: a view's * spells the columns out in order
                    table.columns = {
                        (action.new if name == action.old else name): (
                            replace(column, name=action.new) if name == action.old else column
                        )
                        for name, column in table.columns.items()
                    }
                for index_key, index in list(self.indexes.items()):
                    if index.table == key and action.old in index.columns:
                        renamed = tuple(action.new if c == action.old else c for c in index.columns)
                        self.indexes[index_key] = replace(index, columns=renamed)
            elif isinstance(action, m.AddConstraint) and action.constraint.not_null_column:
                if action.constraint.name:
                    table.not_null_checks[action.constraint.name] = (
                        action.constraint.not_null_column,
                        not action.constraint.not_valid,
                    )
            elif isinstance(action, m.ValidateConstraint) and action.name in table.not_null_checks:
                table.not_null_checks[action.name] = (table.not_null_checks[action.name][0], True)
            elif isinstance(action, m.AddConstraint) and action.constraint.kind == "foreign key":
                constraint = action.constraint
                if constraint.name and constraint.references is not None:
                    table.foreign_keys[constraint.name] = ForeignKeyState(
                        constraint.columns,
                        self.key(constraint.references),
                        constraint.ref_columns,
                        validated=not constraint.not_valid,
                    )
            elif isinstance(action, m.ValidateConstraint) and action.name in table.foreign_keys:
                table.foreign_keys[action.name] = replace(table.foreign_keys[action.name], validated=True)
            elif isinstance(action, m.DropConstraint):
                table.not_null_checks.pop(action.name, None)
                # a UNIQUE or PRIMARY KEY constraint takes its index with it
                own_index = self.indexes.get((key[0], action.name))
                if own_index is not None and own_index.table == key:
                    del self.indexes[(key[0], action.name)]
                    self._hold(own_index, migration)
                dropped = table.foreign_keys.pop(action.name, None)
                if dropped is not None:
                    types = replace(dropped, types_when_dropped=self._key_types(key, dropped))
                    table.dropped_foreign_keys[action.name] = (types, migration)
            elif isinstance(action, m.RenameConstraint):
                renamed_index = self.indexes.get((key[0], action.old))
                if renamed_index is not None and renamed_index.table == key:  # PostgreSQL renames its index too
                    del self.indexes[(key[0], action.old)]
                    self.indexes[(key[0], action.new)] = replace(renamed_index, key=(key[0], action.new))
                if action.old in table.not_null_checks:
                    table.not_null_checks[action.new] = table.not_null_checks.pop(action.old)
                if action.old in table.foreign_keys:
                    table.foreign_keys[action.new] = table.foreign_keys.pop(action.old)
            elif isinstance(action, m.AddConstraint) and action.constraint.kind == "primary key":
                for column_name in action.constraint.columns:
                    _update(table, column_name, not_null=True)
                for column_name in self._add_key(key, action.constraint, migration):  # USING INDEX: its columns
                    _update(table, column_name, not_null=True)
            elif isinstance(action, m.AddConstraint) and action.constraint.kind == "unique":
                self._add_key(key, action.constraint, migration)

    def _key_types(self, table: tuple[str, str], key: ForeignKeyState) -> tuple[tuple[KeyColumn, m.TypeSpec], ...]:
        """The types of a foreign key's columns and of the columns it references, as the model knows them."""
        sides = ((table, key.columns), (key.references, key.ref_columns))
        types = []
        for side, columns in sides:
            state = self.tables.get(side)
            for name in columns:
                column = state.columns.get(name) if state is not None else None
                if column is not None:
                    types.append(((side, name), column.type))
        return tuple(types)

    def _add_key(self, table: tuple[str, str], constraint: m.ConstraintSpec, migration: str) -> tuple[str, ...]:
        """Record the index of a PRIMARY KEY or UNIQUE constraint, under its name or the one PostgreSQL
        gives it (<table>_pkey, <table>_<columns>_key). A default name that would be too long (PostgreSQL
        shortens it) or is taken (it adds a number) is not guessed: the index is left out. Returns the
        key's columns."""
        if constraint.kind not in ("primary key", "unique"):
            return ()
        columns = constraint.columns
        name = constraint.name
        if constraint.using_index is not None:
            # The index becomes the constraint's (renamed to its name), with its columns.
            used = self.indexes.get((table[0], constraint.using_index))
            if used is not None and used.table == table:
                del self.indexes[(table[0], constraint.using_index)]
                columns = used.columns
            name = name or constraint.using_index
        if name is None:
            suffix = "pkey" if constraint.kind == "primary key" else "_".join(columns) + "_key"
            name = f"{table[1]}_{suffix}"
            taken = (table[0], name) in self.indexes or (table[0], name) in self.tables
            if taken or len(name.encode()) > _MAX_NAME_BYTES or not columns:
                return columns
        index_key = (table[0], name)
        self.indexes[index_key] = IndexState(index_key, table, True, migration, columns, constraint=True)
        return columns

    def _hold(self, index: IndexState, migration: str) -> None:
        """A unique key dropped by a statement: its rows stay unique until something may change them."""
        if index.unique and not index.partial and index.columns and index.table[0] != "pg_temp":
            self.held_keys = (*self.held_keys, HeldKey(index.table, index.columns, migration))

    def _forget_held_keys(
        self, summary: m.Summary, migration: str, unseen: bool, touched: set[str] | None = None
    ) -> None:
        """Drop the held keys whose rows the statement may change (see the module docstring). ``touched``:
        for an ALTER TABLE, the columns whose values it may change (``_changed_columns``, before its fold)."""
        if unseen or isinstance(summary, m.TransactionControl):
            self.held_keys = ()
            return
        kept = [h for h in self.held_keys if h.migration == migration]
        if m.data_changes(summary):
            # Rows written into any table: a cascade, a trigger or a rule may carry the change to this one.
            kept = []
        elif isinstance(summary, m.AlterTable):
            table = self.key(summary.table)
            if any(isinstance(action, m.RenameTable) for action in summary.actions):
                kept = [h for h in kept if h.table != table]
            columns = touched or set()
            kept = [h for h in kept if h.table != table or not columns.intersection(h.columns)]
        elif isinstance(summary, m.DropObjects):
            if summary.cascade and summary.kind not in ("table", "index"):
                kept = []  # a type or domain dropped with CASCADE drops the columns that use it
            elif summary.kind == "table":
                gone = {self.key(name) for name in summary.names}
                kept = [h for h in kept if h.table not in gone]
            elif summary.kind == "schema":
                schemas = {name.name for name in summary.names}
                kept = [h for h in kept if h.table[0] not in schemas]
        self.held_keys = tuple(kept)


def _column_state(column: m.ColumnSpec, added_in: str | None = None) -> ColumnState:
    is_pk = any(c.kind == "primary key" for c in column.constraints)
    return ColumnState(
        column.name,
        column.type,
        column.not_null or is_pk or column.identity,
        column.default is not None or column.identity or column.generated,
        added_in,
    )


def _update(table: TableState, column: str, *, not_null: bool | None = None, has_default: bool | None = None) -> None:
    state = table.columns.get(column)
    if state is None:
        return
    if not_null is not None:
        state = replace(state, not_null=not_null)
    if has_default is not None:
        state = replace(state, has_default=has_default)
    table.columns[column] = state


# PostgreSQL's identifiers are at most 63 bytes (NAMEDATALEN - 1); it shortens longer generated names.
_MAX_NAME_BYTES = 63

# A column default runs for inserted rows that get no value, and for UPDATE ... SET column = DEFAULT.
_DEFAULT_EVENTS = frozenset({"insert", "update"})
_CHECK_EVENTS = frozenset({"insert", "update"})


_Kept = TypeVar("_Kept")


def _without(kept: dict[tuple[str, str], _Kept], key: tuple[str, str]) -> dict[tuple[str, str], _Kept]:
    return {k: v for k, v in kept.items() if k != key}


def _named(kind: str, name: str) -> Callable[[RowCode], bool]:
    return lambda code: code.kind == kind and code.name == name


def _dropped_with(column: str) -> Callable[[RowCode], bool]:
    """PostgreSQL drops a column's default, and the CHECKs that read it, with the column."""
    return lambda code: (
        (code.kind == "default" and code.name == column) or (code.kind == "check" and column in code.columns)
    )


def _column_code(table: str, column: m.ColumnSpec) -> tuple[RowCode, ...]:
    """The project code a column definition leaves on its table: its default's calls, its CHECKs'."""
    if not column.constraints and (column.default is None or not column.default.unknown_calls):
        return ()  # most columns: nothing to build
    codes = []
    if column.default is not None and column.default.unknown_calls:
        codes.append(RowCode("default", column.name, column.default.unknown_calls, _DEFAULT_EVENTS))
    codes.extend(_check_code(table, c) for c in column.constraints if c.kind == "check" and c.calls)
    return tuple(codes)


def _check_code(table: str, check: m.ConstraintSpec) -> RowCode:
    # An unnamed CHECK gets PostgreSQL's name: <table>_<column>_check (for one column), else <table>_check.
    name = check.name or (f"{table}_{check.columns[0]}_check" if len(check.columns) == 1 else f"{table}_check")
    return RowCode("check", name, check.calls, _CHECK_EVENTS, columns=check.columns)


def _generated(table: tuple[str, str], column: m.ColumnSpec) -> Dependent:
    """A generated column, as a dependent of the columns of its table its expression reads (its
    definition: the column's, for ADD COLUMN)."""
    reads = frozenset((table, name) for name in column.reads)
    return Dependent("generated column", column.name, table, reads, definition=column.definition)


def _reading_or_being(column: KeyColumn) -> Callable[[Dependent], bool]:
    """The dependents that read the column, and the generated column it is."""
    return lambda d: column in d.reads or (d.kind == "generated column" and (d.on, d.name) == column)


def _on_or_reading(tables: set[tuple[str, str]]) -> Callable[[Dependent], bool]:
    """The dependents on, or reading from, any of the tables (or views)."""
    return lambda d: d.on in tables or bool(d.relations & tables) or any(t in tables for t, _ in d.reads)


def _runs(code: RowCode, change: m.DataChange) -> bool:
    """True when the row change runs the code."""
    if isinstance(change, m.Insert):
        if "insert" not in code.events:
            return False
        return code.kind != "default" or change.given is None or code.name not in change.given
    if isinstance(change, m.Update):
        if "update" not in code.events:
            return False
        if code.kind == "default":
            return code.name in change.to_default
        if code.kind == "trigger" and code.columns:
            return any(column in change.columns for column in code.columns)
        return True
    return "delete" in code.events
