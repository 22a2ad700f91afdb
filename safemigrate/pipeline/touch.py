"""What pending migrations may do to each table's rows: the allowance the verification checks
row counts against, the tables whose data must come out unchanged, the tables whose rows they read
(locked against writes before the apply's snapshot); and the names they create (:class:`Creations`:
what a schema diff may count as the run's own).

Read from the statements' summaries: a DELETE or TRUNCATE may remove rows, an INSERT may add them,
everything else (ALTER, CREATE INDEX, UPDATE) must keep the count; rows a foreign key's ON DELETE /
ON UPDATE action reaches count as touched too. A statement the linter could not read (a DO block,
unparsed SQL) may do anything: then every table counts as touched, and the result says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from safemigrate.sql import model as m
from safemigrate.sql.preflight_sql import tables_named


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
    # Tables that exist before the migrations and whose rows a statement reads to change rows, by
    # their names before the migrations: what must not change under the transaction's snapshot. The
    # targets of an UPDATE, DELETE or TRUNCATE, and the tables a data-moving statement reads from
    # (INSERT ... SELECT, UPDATE ... FROM, DELETE ... USING, subqueries, CREATE TABLE AS): a row
    # committed after the snapshot would not be copied, and lost once its source is dropped.
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
    # Data-moving statements whose source tables could not be read ("file:line"): any table may be one.
    unread_sources: tuple[str, ...] = ()

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

    sources: set[str] = set()  # tables data-moving statements read from, by their names before the migrations
    unread_sources: list[str] = []

    def read_from(label: str, statement: m.Statement, written: Iterable[m.Name]) -> None:
        """The tables ``statement`` reads rows from: every table it names but those it only writes
        (an INSERT's target, a CREATE TABLE AS's new table)."""
        named = tables_named(statement.text)
        if named is None:
            unread_sources.append(f"{label}:{statement.line}")
            return
        skip = {n.name for n in written if _same_schema(n, schema)}
        sources.update(original(n.name) for n in named if _same_schema(n, schema) and n.name not in skip)

    for label, statement in statements:
        s = statement.summary
        if isinstance(s, (m.Procedural, m.Unparsed)):
            unknown.append(f"{label}:{statement.line}")
        elif isinstance(s, m.CreateTable) and _same_schema(s.table, schema):
            if s.as_query and not s.no_data:
                read_from(label, statement, [s.table])
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
            read_from(label, statement, [c.table for c in changes if isinstance(c, m.Insert)])
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
    for tables in (removing, updating, rewriting, locking_exclusive, sources):
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
    read = frozenset((removing_before | updating_before | sources) - created)
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
        unread_sources=tuple(unread_sources),
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


@dataclass(frozen=True)
class Elsewhere:
    """A table (or object) outside the database URL's schema that a pending statement reaches."""

    where: str  # file:line of the statement
    table: m.Name
    why: str  # how the statement reaches it ("it is named", "ON DELETE CASCADE from app.User (fk)")


@dataclass(frozen=True)
class KeyEdge:
    """A foreign key of the live database with its columns (``sql/migrate_reaching_foreign_keys.sql``)."""

    child_schema: str
    child_name: str
    child_columns: Sequence[str]
    parent_schema: str
    parent_name: str
    parent_columns: Sequence[str]
    on_delete: str  # "a" no action, "r" restrict, "c" cascade, "n" set null, "d" set default
    on_update: str
    name: str


_ACTIONS = {"c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}

# How a table's rows are reached while walking the keys: ("delete", ()), ("update", columns; none:
# any column), ("truncate", ()).
_Reach = tuple[tuple[str, str], str, tuple[str, ...]]


def reached_by_keys(
    statements: Sequence[tuple[str, m.Statement]],
    schema: str,
    keys: Iterable[KeyEdge],
    descendants: Mapping[str, Iterable[tuple[str, str]]] | None = None,
) -> list[Elsewhere]:
    """The tables outside ``schema`` whose rows a foreign key's action changes when the statements
    change rows of a table, transitively through any schema: ON DELETE CASCADE / SET NULL / SET
    DEFAULT from a table a DELETE removes rows from, ON UPDATE actions from a table an UPDATE changes
    the referenced columns of, any key from a table a TRUNCATE ... CASCADE empties. ``keys``: the live
    database's; ``descendants``: each table of ``schema`` -> (schema, name) of the tables inheriting
    from it (a DELETE, UPDATE or TRUNCATE reaches their rows too). RESTRICT and NO ACTION keys reach
    nothing: the statement fails instead."""
    referencing: dict[tuple[str, str], list[KeyEdge]] = {}
    for key in keys:
        referencing.setdefault((key.parent_schema, key.parent_name), []).append(key)
    below = {table: tuple(found) for table, found in (descendants or {}).items()}
    found: dict[m.Name, Elsewhere] = {}
    before: dict[str, str] = {}  # a table's name now -> its name before the migrations (renamed ones)
    created: set[str] = set()

    def live(name: m.Name) -> tuple[str, str] | None:
        """The table as the live catalog names it (None for one the migrations created)."""
        if not _same_schema(name, schema):
            return (str(name.schema), name.name)
        if name.name in created:
            return None
        return (schema, before.get(name.name, name.name))

    def step(key: KeyEdge, how: str, columns: tuple[str, ...]) -> tuple[str, str] | None:
        """(why, how the child's rows are reached) when ``key`` carries the change on."""
        parent = f"{key.parent_schema}.{key.parent_name}"
        if how == "truncate":
            return f"TRUNCATE ... CASCADE of {parent} empties it ({key.name})", "truncate"
        if how == "delete" and key.on_delete in _ACTIONS:
            onward = "delete" if key.on_delete == "c" else "update"
            return f"ON DELETE {_ACTIONS[key.on_delete]} from {parent} ({key.name})", onward
        hits = not columns or bool(set(columns) & set(key.parent_columns))
        if how == "update" and key.on_update in _ACTIONS and hits:
            return f"ON UPDATE {_ACTIONS[key.on_update]} from {parent} ({key.name})", "update"
        return None

    def walk(where: str, table: tuple[str, str], how: str, columns: tuple[str, ...]) -> None:
        starts = [(table, how, columns)]
        if table[0] == schema:
            starts += [(child, how, columns) for child in below.get(table[1], ())]
        todo: list[_Reach] = list(starts)
        seen: set[_Reach] = set(todo)
        while todo:
            parent, parent_how, parent_columns = todo.pop(0)
            for key in referencing.get(parent, ()):
                carried = step(key, parent_how, parent_columns)
                if carried is None:
                    continue
                why, child_how = carried
                child = (key.child_schema, key.child_name)
                if child[0] not in (schema, "pg_temp"):
                    name = m.Name(child[1], child[0])
                    found.setdefault(name, Elsewhere(where, name, why))
                # a SET NULL / SET DEFAULT or an ON UPDATE CASCADE changes the child's key columns
                reach = (child, child_how, tuple(key.child_columns) if child_how == "update" else ())
                if reach not in seen:
                    seen.add(reach)
                    todo.append(reach)

    for label, statement in statements:
        where = f"{label}:{statement.line}"
        s = statement.summary
        if isinstance(s, m.CreateTable) and _same_schema(s.table, schema):
            created.add(s.table.name)
        elif isinstance(s, m.AlterTable) and _same_schema(s.table, schema):
            for action in s.actions:
                if isinstance(action, m.RenameTable):
                    if s.table.name in created:
                        created.discard(s.table.name)
                        created.add(action.new)
                    else:
                        before[action.new] = before.pop(s.table.name, s.table.name)
        elif isinstance(s, m.Truncate) and s.cascade:
            for name in s.tables:
                table = live(name)
                if table is not None:
                    walk(where, table, "truncate", ())
        elif isinstance(s, (m.Delete, m.Update, m.Insert)):
            for change in m.data_changes(s):
                table = live(change.table)
                if table is None or isinstance(change, m.Insert):
                    continue
                if isinstance(change, m.Delete):
                    walk(where, table, "delete", ())
                else:
                    walk(where, table, "update", tuple(change.columns))
    return list(found.values())


def dropped_objects(statements: Sequence[tuple[str, m.Statement]], schema: str) -> list[tuple[str, str, m.Name, bool]]:
    """(file:line, kind, object, cascade) of each object a DROP names (an index's too), named as the
    live catalog does (unqualified: in ``schema``; a schema's own name in ``name``): what may take
    dependents in other schemas along. DROP OWNED BY is not among them (what it drops is known from
    ownership, not dependencies)."""
    found: list[tuple[str, str, m.Name, bool]] = []
    for label, statement in statements:
        s = statement.summary
        where = f"{label}:{statement.line}"
        if isinstance(s, m.DropObjects) and s.kind != "owned by":
            for name in s.names:
                found.append((where, s.kind, m.Name(name.name, name.schema or schema), s.cascade))
        elif isinstance(s, m.DropIndex):
            for name in s.names:
                found.append((where, "index", m.Name(name.name, name.schema or schema), s.cascade))
    return found


def with_tables(touches: Touches, tables: Iterable[str]) -> Touches:
    """``touches`` with ``tables`` touched too (their rows' values may change, not their count)."""
    import dataclasses

    allow = dict(touches.tables)
    for name in tables:
        allow.setdefault(name, TableAllowance())
    return dataclasses.replace(touches, tables=allow)


@dataclass(frozen=True)
class Creations:
    """What the statements create, by the names the objects have once the migrations ran: the
    additions a schema diff may count as the run's own. Another session may create objects while the
    run goes on (its table, made while an index builds CONCURRENTLY or while Prisma deploys): those
    are not the run's, and what undoes the run must leave them alone."""

    # (kind, name): "table", "view", "sequence", "type" (enums, composites, domains), "function", "extension"
    objects: frozenset[tuple[str, str]] = frozenset()
    parts: frozenset[tuple[str, str, str]] = frozenset()  # (kind, table, name): column, constraint, trigger, policy
    indexes: frozenset[str] = frozenset()  # index names (one namespace with the schema's tables)
    # (kind, table) of an index or constraint whose name PostgreSQL chooses (CREATE INDEX ON t, ADD
    # UNIQUE (c), a column's REFERENCES); ("type", "") of a CREATE TYPE / DOMAIN the parser does not name
    unnamed: frozenset[tuple[str, str]] = frozenset()

    def owns(self, change: Mapping[str, object]) -> bool:
        """Whether a schema change (a diff change as a dict, ``kind`` and its names) may be the run's:
        an addition only when a statement creates that name; any other change (a drop, an altered
        column) is the run's, as before (what rollback does with those comes from the backup)."""
        kind = str(change["kind"])
        table = str(change.get("table"))

        def named(key: str) -> str:
            return str(change.get(key))

        if kind == "table_probably_renamed":
            return ("table", named("after")) in self.objects
        if not kind.endswith("_added"):
            return True
        if kind == "table_added":
            return ("table", table) in self.objects
        if kind == "index_added":
            return named("index") in self.indexes or ("index", table) in self.unnamed
        if kind == "constraint_added":
            return ("constraint", table, named("constraint")) in self.parts or ("constraint", table) in self.unnamed
        if kind in ("column_added", "trigger_added", "policy_added"):
            part = kind.removesuffix("_added")
            return (part, table, named(part)) in self.parts
        found: dict[str, tuple[str, str]] = {
            "view_added": ("view", named("view")),
            "sequence_added": ("sequence", named("sequence")),
            "enum_added": ("type", named("enum")),
            "composite_type_added": ("type", named("composite")),
            "domain_added": ("type", named("domain")),
            "domain_constraint_added": ("type", named("domain")),
            "function_added": ("function", named("function").partition("(")[0]),
            "extension_added": ("extension", named("name")),
        }
        wanted = found.get(kind)
        if wanted is None:  # inheritance_added...: no statement the parser reads makes one
            return False
        return wanted in self.objects or (wanted[0] == "type" and ("type", "") in self.unnamed)


def read_creations(statements: Sequence[tuple[str, m.Statement]], schema: str) -> Creations:
    """The names ``statements`` (the pending migrations', in order) create in ``schema``, followed
    through the renames that come after them. Statements the parser cannot read (a DO block) may create
    anything: their creations are known only from a diff read in the run's own transaction, or the
    rehearsal's (see the migrate pipeline)."""
    objects: set[tuple[str, str]] = set()
    parts: set[tuple[str, str, str]] = set()
    indexes: set[str] = set()
    unnamed: set[tuple[str, str]] = set()

    def constraint(table: str, spec: m.ConstraintSpec) -> None:
        makes_index = spec.kind in ("primary key", "unique", "exclude")
        if spec.name is None:
            unnamed.add(("constraint", table))
            if makes_index:
                unnamed.add(("index", table))
            return
        parts.add(("constraint", table, spec.name))
        if makes_index:
            indexes.add(spec.name)

    def column(table: str, spec: m.ColumnSpec) -> None:
        parts.add(("column", table, spec.name))
        if spec.identity:
            objects.add(("sequence", serial_sequence(table, spec.name)))
        if spec.not_null:  # a constraint of its own from PostgreSQL 18 on, named by PostgreSQL
            unnamed.add(("constraint", table))
        for each in spec.constraints:
            constraint(table, each)

    def rename_table(old: str, new: str) -> None:
        nonlocal parts, unnamed
        objects.discard(("table", old))
        objects.add(("table", new))
        parts = {(kind, new if table == old else table, name) for kind, table, name in parts}
        unnamed = {(kind, new if table == old else table) for kind, table in unnamed}

    for _, statement in statements:
        s = statement.summary
        if isinstance(s, m.CreateTable) and _same_schema(s.table, schema):
            objects.add(("table", s.table.name))
            for spec in s.columns:
                if spec.identity:
                    objects.add(("sequence", serial_sequence(s.table.name, spec.name)))
        elif isinstance(s, m.AlterTable) and _same_schema(s.table, schema):
            table = s.table.name
            for action in s.actions:
                if isinstance(action, m.AddColumn):
                    column(table, action.column)
                elif isinstance(action, m.AddConstraint):
                    constraint(table, action.constraint)
                elif isinstance(action, m.SetNotNull):
                    unnamed.add(("constraint", table))
                elif isinstance(action, m.AddIdentity):
                    objects.add(("sequence", serial_sequence(table, action.column)))
                elif isinstance(action, m.RenameColumn):
                    parts.add(("column", table, action.new))
                elif isinstance(action, m.RenameConstraint):
                    parts.add(("constraint", table, action.new))
                    indexes.add(action.new)  # a key's index takes its constraint's new name
                elif isinstance(action, m.RenameTable):
                    rename_table(table, action.new)
                    table = action.new
        elif isinstance(s, m.CreateIndex) and _same_schema(s.table, schema):
            if s.name is not None:
                indexes.add(s.name.name)
            else:
                unnamed.add(("index", s.table.name))
        elif isinstance(s, m.RenameIndex) and _same_schema(s.index, schema):
            indexes.discard(s.index.name)
            indexes.add(s.new)
        elif isinstance(s, m.CreateObject) and _same_schema(s.name, schema) and s.kind != "schema":
            objects.add(("view" if "view" in s.kind else s.kind, s.name.name))
        elif isinstance(s, m.CreateEnum) and _same_schema(s.name, schema):
            objects.add(("type", s.name.name))
        elif isinstance(s, m.RenameType) and _same_schema(s.name, schema):
            objects.add(("type", s.new))
        elif isinstance(s, m.Procedural) and s.kind in ("function", "procedure") and s.name is not None:
            if _same_schema(s.name, schema):
                objects.add(("function", s.name.name))
        elif isinstance(s, m.CreateExtension):
            objects.add(("extension", s.name))
        elif isinstance(s, m.Harmless) and s.kind in ("create domain", "create type"):
            unnamed.add(("type", ""))
        elif isinstance(s, m.Harmless) and s.table is not None and _same_schema(s.table, schema):
            for part in ("trigger", "policy"):
                if s.kind == f"create {part}" and s.name is not None:
                    parts.add((part, s.table.name, s.name))
                elif s.kind == f"rename {part}" and s.new_name is not None:
                    parts.add((part, s.table.name, s.new_name))
    return Creations(frozenset(objects), frozenset(parts), frozenset(indexes), frozenset(unnamed))


def serial_sequence(table: str, column: str) -> str:
    """The name PostgreSQL gives the sequence of a serial or identity column (``makeObjectName``: the
    longer of the two names is cut until ``table_column_seq`` fits in 63 bytes). When that name is
    taken, PostgreSQL adds digits: such a sequence is known only from the rehearsal's diff."""
    first, second = table.encode(), column.encode()
    room = 63 - len("_seq") - 1
    keep_first, keep_second = len(first), len(second)
    while keep_first + keep_second > room:
        if keep_first > keep_second:
            keep_first -= 1
        else:
            keep_second -= 1
    cut_first = first[:keep_first].decode(errors="ignore")  # never half a character, as pg_mbcliplen
    cut_second = second[:keep_second].decode(errors="ignore")
    return f"{cut_first}_{cut_second}_seq"
