"""What pending migrations may do to each table's rows: the allowance the verification checks
row counts against, and the tables whose data must come out unchanged.

Read from the statements' summaries: a DELETE or TRUNCATE may remove rows, an INSERT may add them,
everything else (ALTER, CREATE INDEX, UPDATE) must keep the count; rows a foreign key's ON DELETE /
ON UPDATE action reaches count as touched too. A statement the linter could not read (a DO block,
unparsed SQL) may do anything: then every table counts as touched, and the result says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from safemigrate.sql import model as m


@dataclass(frozen=True)
class TableAllowance:
    may_remove_rows: bool = False
    may_add_rows: bool = False


@dataclass(frozen=True)
class Touches:
    tables: dict[str, TableAllowance] = field(default_factory=dict)  # by the name the table has *after*
    renamed: dict[str, str] = field(default_factory=dict)  # old name -> new name
    created: frozenset[str] = frozenset()
    dropped: frozenset[str] = frozenset()  # by the name before the migrations
    unknown: tuple[str, ...] = ()  # statements that could not be read ("file:line")
    relabelled_types: frozenset[str] = frozenset()  # enums whose values are renamed: every column of them changes
    # Tables that exist before the migrations and whose rows an UPDATE, DELETE or TRUNCATE reads, by
    # their names before the migrations: what must not change under the transaction's snapshot.
    rows_read: frozenset[str] = frozenset()
    # Tables that exist before the migrations and that an ALTER TABLE may rewrite (a type change, a
    # column added with a per-row default, identity or stored expression, SET LOGGED/UNLOGGED), by
    # their names before the migrations. PostgreSQL rewrites a table from the latest committed rows,
    # not the transaction's snapshot: rows committed meanwhile would show up as rows that appeared.
    rewritten: frozenset[str] = frozenset()
    # Tables that exist before the migrations and that a statement locks ACCESS EXCLUSIVE (ALTER
    # TABLE, TRUNCATE, DROP TABLE), by their names before the migrations.
    locked_exclusive: frozenset[str] = frozenset()
    # Statements that set off code of the project ("file:line"): a trigger they fire, a function a
    # default or CHECK calls. The lint's schema model knows them, not the statements themselves.
    fires_code: tuple[str, ...] = ()

    def allowance(self, table: str) -> TableAllowance | None:
        """None when the migrations do not touch ``table`` (its data must not change). Code a statement
        sets off may add rows to any table (an audit log), never remove them unseen."""
        if self.unknown:
            return TableAllowance(True, True)
        found = self.tables.get(table)
        if found is None and self.fires_code:
            return TableAllowance(False, True)
        return found


@dataclass(frozen=True)
class ForeignKeyAction:
    child: str
    parent: str
    on_delete: str  # "a" no action, "r" restrict, "c" cascade, "n" set null, "d" set default
    on_update: str


def _same_schema(name: m.Name, schema: str) -> bool:
    return name.schema in (None, schema)


def read_touches(
    statements: Sequence[tuple[str, m.Statement]],
    schema: str,
    keys: Iterable[ForeignKeyAction] = (),
    descendants: Mapping[str, Iterable[str]] | None = None,
    index_tables: Mapping[str, str] | None = None,
) -> Touches:
    """``statements``: (file label, statement) of the pending migrations, in order. ``descendants``:
    each live table's INHERITS children, grandchildren... (names before the migrations): an ALTER
    TABLE, UPDATE, DELETE or TRUNCATE of a table reaches them too (unless ONLY, which counts the same).
    ``index_tables``: each live index's table (names before the migrations), for DROP INDEX, which
    locks the table ACCESS EXCLUSIVE while naming only the index."""
    allow: dict[str, TableAllowance] = {}
    current: dict[str, str] = {}  # a table's name before the migrations -> its name now (renamed ones)
    created: set[str] = set()
    dropped: set[str] = set()
    unknown: list[str] = []
    removing: set[str] = set()
    updating: set[str] = set()
    relabelled: set[str] = set()
    rewriting: set[str] = set()
    locking_exclusive: set[str] = set()
    index_table = dict(index_tables or {})  # an index's name now -> its table's name now

    def original(name: str) -> str:
        """The name before the migrations of the table called ``name`` at this point."""
        return next((old for old, now in current.items() if now == name), name)

    def touch(name: str, *, remove: bool = False, add: bool = False) -> None:
        before = allow.get(name, TableAllowance())
        allow[name] = TableAllowance(before.may_remove_rows or remove, before.may_add_rows or add)

    for label, statement in statements:
        s = statement.summary
        if isinstance(s, (m.Procedural, m.Unparsed)):
            unknown.append(f"{label}:{statement.line}")
        elif isinstance(s, m.CreateTable) and _same_schema(s.table, schema):
            created.add(s.table.name)
            touch(s.table.name, add=True)
        elif isinstance(s, m.AlterTable) and _same_schema(s.table, schema):
            touch(s.table.name)
            locking_exclusive.add(original(s.table.name))
            if any(_may_rewrite(action) for action in s.actions):
                rewriting.add(original(s.table.name))
            for action in s.actions:
                if isinstance(action, m.RenameTable):
                    current[original(s.table.name)] = action.new
                    allow[action.new] = allow.pop(s.table.name)
                    index_table = {i: action.new if t == s.table.name else t for i, t in index_table.items()}
        elif isinstance(s, m.CreateIndex) and _same_schema(s.table, schema):
            touch(s.table.name)
            if s.name is not None:
                index_table[s.name.name] = s.table.name
        elif isinstance(s, m.RenameIndex) and _same_schema(s.index, schema) and s.index.name in index_table:
            index_table[s.new] = index_table.pop(s.index.name)
        elif isinstance(s, m.DropIndex):
            for name in s.names:
                if _same_schema(name, schema) and name.name in index_table:
                    locking_exclusive.add(original(index_table.pop(name.name)))
        elif isinstance(s, m.DropObjects) and s.kind == "table":
            dropped.update(original(n.name) for n in s.names if _same_schema(n, schema))
            locking_exclusive.update(original(n.name) for n in s.names if _same_schema(n, schema))
        elif isinstance(s, m.Truncate):
            for name in s.tables:
                if _same_schema(name, schema):
                    touch(name.name, remove=True)
                    removing.add(original(name.name))
                    locking_exclusive.add(original(name.name))
        elif isinstance(s, (m.Delete, m.Update, m.Insert)):
            # every row change of the statement (those in its WITH clause too); a function it calls
            # may change anything
            changes = m.data_changes(s)
            if any(c.calls for c in changes):
                unknown.append(f"{label}:{statement.line}")
            for change in changes:
                if not _same_schema(change.table, schema):
                    continue
                if isinstance(change, m.Delete):
                    touch(change.table.name, remove=True)
                    removing.add(original(change.table.name))
                elif isinstance(change, m.Update):  # an INSERT ... ON CONFLICT DO UPDATE too
                    touch(change.table.name, add=change.on_conflict)
                    updating.add(original(change.table.name))
                else:
                    touch(change.table.name, add=True)
        elif isinstance(s, m.AlterEnumRenameValue) and _same_schema(s.name, schema):
            relabelled.add(s.name.name)

    def final(name: str) -> str:
        return current.get(name, name)

    # What reaches a table reaches the tables inheriting from it (their rows are its rows too).
    below = {table: tuple(found) for table, found in (descendants or {}).items()}
    for table, allowance in list(allow.items()):
        for child in below.get(original(table), ()):
            if final(child) not in created:
                touch(final(child), remove=allowance.may_remove_rows, add=allowance.may_add_rows)
    for tables in (removing, updating, rewriting, locking_exclusive):
        tables |= {child for table in list(tables) for child in below.get(table, ())}

    # Rows a foreign key's action reaches: children of tables that lose or change rows. The keys
    # are the live database's (names before the migrations); everything by the names at the end.
    keys = [replace(k, child=final(k.child), parent=final(k.parent)) for k in keys]
    removing_before, updating_before = set(removing), set(updating)
    removing = {final(n) for n in removing}
    updating = {final(n) for n in updating}
    todo = list(removing)
    reached = set(removing)
    while todo:
        parent = todo.pop()
        for key in keys:
            if key.parent == parent and key.on_delete in ("c", "n", "d"):
                touch(key.child, remove=key.on_delete == "c")
                if key.on_delete == "c" and key.child not in reached:
                    reached.add(key.child)
                    todo.append(key.child)
    for parent in updating:
        for key in keys:
            if key.parent == parent and key.on_update in ("c", "n", "d"):
                touch(key.child)
    # renamed: the name before the migrations -> the name after all of them (renamed twice,
    # Audit -> Log -> Journal, is Audit -> Journal).
    renamed = {old: now for old, now in current.items() if old != now}
    read = frozenset((removing_before | updating_before) - created)
    return Touches(
        allow,
        renamed,
        frozenset(created),
        frozenset(dropped),
        tuple(unknown),
        frozenset(relabelled),
        read,
        frozenset(rewriting - created),
        frozenset(locking_exclusive - created),
    )


def _may_rewrite(action: m.AlterAction) -> bool:
    """Whether the action may make PostgreSQL rewrite the table (when unsure: yes)."""
    if isinstance(action, (m.AlterColumnType, m.SetLogged)):
        return True
    if isinstance(action, m.AddColumn):
        column = action.column
        stored = column.generated and not column.virtual
        return column.identity or stored or bool(column.default and column.default.volatile)
    return False


def changed_tables(statements: Sequence[tuple[str, m.Statement]]) -> list[tuple[str, m.Name]]:
    """(file:line, table) of each table a statement creates, alters, indexes, drops, truncates or writes."""
    found: list[tuple[str, m.Name]] = []
    for label, statement in statements:
        s = statement.summary
        names: list[m.Name] = []
        if isinstance(s, (m.CreateTable, m.AlterTable, m.CreateIndex)):
            names.append(s.table)
        elif isinstance(s, m.DropObjects) and s.kind == "table":
            names.extend(s.names)
        elif isinstance(s, m.Truncate):
            names.extend(s.tables)
        elif isinstance(s, (m.Delete, m.Update, m.Insert)):
            names.extend(change.table for change in m.data_changes(s))
        found += [(f"{label}:{statement.line}", n) for n in names]
    return found


def other_schema_tables(statements: Sequence[tuple[str, m.Statement]], schema: str) -> list[tuple[str, m.Name]]:
    """:func:`changed_tables` in a schema other than ``schema`` (a session's pg_temp aside): what a run
    on ``schema`` can neither back up nor verify."""
    return [(where, n) for where, n in changed_tables(statements) if n.schema not in (None, schema, "pg_temp")]


def with_tables(touches: Touches, tables: Iterable[str]) -> Touches:
    """``touches`` with ``tables`` touched too (their rows' values may change, not their count)."""
    import dataclasses

    allow = dict(touches.tables)
    for name in tables:
        allow.setdefault(name, TableAllowance())
    return dataclasses.replace(touches, tables=allow)
