"""Read a table's DDL from the catalog (what a backup stores) and turn it back into statements.

Types, defaults, constraint and index definitions are the server's own deparsed text
(``format_type``, ``pg_get_expr``, ``pg_get_constraintdef``, ``pg_get_indexdef``), read with the
session's search_path set to the backed-up schema, as pg_dump does; they are spliced into the
composed statements as SQL text, every name around them is a ``sql.Identifier``.

A column's collation, when it is not its type's default, is part of its stored ``type``
(``text COLLATE "public"."ci"``), as CREATE TABLE writes it. Constraints added ``NOT VALID`` and
never validated keep that suffix in their definition (``pg_get_constraintdef`` writes it); old rows
may break them, so they are added after the data, still NOT VALID, as pg_dump does.

A table's extras (:class:`TableExtras`: triggers, privileges, row-level security, policies,
comments, storage parameters, replica identity, owner) are read with it; :func:`extras_statements`
turns them back into statements, which a restore runs once a recreated table holds its rows.

A table's INHERITS parents are stored with it, in order; a recreated table is created with all its
columns in their backed-up order, then linked with :func:`inherit_statement` (as pg_dump's
binary-upgrade mode does): ``CREATE TABLE ... INHERITS`` would put the parents' columns first, and a
column the parent got later would move, changing the table's fingerprint. Its inherited checks and
NOT NULL are its own in the DDL, so they match the parent's as ``ALTER TABLE ... INHERIT`` requires.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from safemigrate.backup.manifest import (
    ColumnComment,
    ColumnDef,
    ConstraintDef,
    EnumType,
    GrantDef,
    IndexDef,
    ObjectComment,
    ParentTable,
    PolicyDef,
    SequenceDef,
    TableDDL,
    TableExtras,
    TriggerDef,
)
from safemigrate.errors import BackupFormatError


def load_sql(name: str) -> str:
    """The text of ``safemigrate/backup/sql/<name>.sql``."""
    return (
        resources.files(__package__ or "safemigrate.backup").joinpath("sql").joinpath(f"{name}.sql").read_text("utf-8")
    )


_Row = TypeVar("_Row")


@dataclass(frozen=True)
class _ColumnRow:
    name: str
    type: str
    collation_schema: str | None
    collation_name: str | None
    default_expr: str | None
    not_null: bool
    identity: str
    generated_expr: str | None
    binary_ok: bool
    enum_schema: str | None
    enum_name: str | None


@dataclass(frozen=True)
class _ConstraintRow:
    name: str
    kind: str
    definition: str
    referenced_schema: str | None
    referenced_table: str | None


@dataclass(frozen=True)
class _SequenceRow:
    column_name: str
    schema: str
    name: str
    data_type: str
    start_value: int
    increment: int
    min_value: int
    max_value: int
    cache: int
    cycle: bool
    identity: bool


@dataclass(frozen=True)
class _NameRow:
    name: str


@dataclass(frozen=True)
class PartitionRow:
    name: str
    partitioned: bool  # True: a partitioned table; False: a partition


@dataclass(frozen=True)
class UnvalidatedConstraint:
    table_name: str
    name: str
    definition: str  # pg_get_constraintdef, ending in NOT VALID


def schema_tables(conn: psycopg.Connection[Any], schema: str) -> list[str]:
    """The ordinary tables of ``schema``, by name."""
    with conn.cursor(row_factory=class_row(_NameRow)) as cur:
        return [r.name for r in cur.execute(load_sql("tables"), {"schema": schema})]


def partitioned_tables(conn: psycopg.Connection[Any], schema: str) -> list[PartitionRow]:
    """The partitioned tables and partitions of ``schema`` (not supported by backups yet), by name."""
    with conn.cursor(row_factory=class_row(PartitionRow)) as cur:
        return cur.execute(load_sql("partitioned_tables"), {"schema": schema}).fetchall()


def unvalidated_constraints(
    conn: psycopg.Connection[Any], schema: str, tables: list[str]
) -> list[UnvalidatedConstraint]:
    """The check and foreign key constraints of ``tables`` that are NOT VALID."""
    with conn.cursor(row_factory=class_row(UnvalidatedConstraint)) as cur:
        return cur.execute(load_sql("unvalidated_constraints"), {"schema": schema, "tables": tables}).fetchall()


@dataclass(frozen=True)
class _XmlColumnRow:
    table_name: str
    column_name: str
    cast_to: str  # text | text[]


def xml_text_casts(conn: psycopg.Connection[Any], schema: str, tables: list[str]) -> dict[str, dict[str, str]]:
    """Per table, its xml (and xml[]) columns and the type a backup reads them as: COPY would drop
    their XML declaration, a cast to text keeps the value as stored."""
    casts: dict[str, dict[str, str]] = {}
    with conn.cursor(row_factory=class_row(_XmlColumnRow)) as cur:
        for row in cur.execute(load_sql("xml_columns"), {"schema": schema, "tables": tables}):
            casts.setdefault(row.table_name, {})[row.column_name] = row.cast_to
    return casts


@dataclass(frozen=True)
class TargetColumn:
    name: str
    type: str  # as a backup stores it: with COLLATE when not the type's default
    bare_type: str  # format_type alone (what backups taken before collations were stored hold)
    generated_expr: str | None
    needs_value: bool = False  # NOT NULL without a default, identity or generation: a load must fill it


class WantedColumn(Protocol):
    """A column a restore or clone brings: a backup's ``ColumnDef`` or a source's ``TargetColumn``."""

    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def generated_expr(self) -> str | None: ...


def column_difference(
    table: str, wanted: Sequence[WantedColumn], present: Sequence[TargetColumn], holder: str
) -> str | None:
    """The first column ``holder`` ("backup", "source") has for ``table`` that the target's table cannot
    take as it is (generated columns are computed, not loaded), as a sentence start; None when all fit."""
    found = {c.name: c for c in present}
    for column in wanted:
        if column.generated_expr is not None:
            continue
        there = found.get(column.name)
        if there is None or there.generated_expr is not None:
            return f"Table {table!r} in the target has no column {column.name!r} that the {holder} has"
        # A backup taken before collations were stored holds the bare type.
        if column.type not in (there.type, there.bare_type):
            return f"Column {table}.{column.name} is {there.type} in the target but {column.type} in the {holder}"
    return None


def read_columns(conn: psycopg.Connection[Any], schema: str, table: str) -> list[TargetColumn]:
    """The columns of ``schema.table`` as a restore compares them with a backup's."""
    return [
        TargetColumn(
            c.name,
            column_type(conn, c),
            c.type,
            c.generated_expr,
            c.not_null and c.default_expr is None and not c.identity and c.generated_expr is None,
        )
        for c in _column_rows(conn, schema, table)
    ]


def _column_rows(conn: psycopg.Connection[Any], schema: str, table: str) -> list[_ColumnRow]:
    with conn.cursor(row_factory=class_row(_ColumnRow)) as cur:
        return cur.execute(load_sql("columns"), {"schema": schema, "table": table}).fetchall()


def column_type(conn: psycopg.Connection[Any], column: _ColumnRow) -> str:
    """The column's type as CREATE TABLE writes it: ``COLLATE schema.name`` added when its collation
    is not its type's default (a nondeterministic ICU collation changes what UNIQUE accepts)."""
    if column.collation_name is None or column.collation_schema is None:
        return column.type
    return (
        sql.SQL("{} COLLATE {}")
        .format(sql.SQL(column.type), sql.Identifier(column.collation_schema, column.collation_name))
        .as_string(conn)
    )


def is_not_valid(constraint: ConstraintDef) -> bool:
    """A constraint added NOT VALID and never validated: ``pg_get_constraintdef`` ends its text with
    `` NOT VALID`` exactly then (so backups taken before this was checked are read right too)."""
    return constraint.definition.endswith(" NOT VALID")


def catalog_rows(conn: psycopg.Connection[Any], query: str, row_type: type[_Row], params: dict[str, Any]) -> list[_Row]:
    """The rows of the catalog query ``query`` (a .sql file), as ``row_type``."""
    with conn.cursor(row_factory=class_row(row_type)) as cur:
        return cur.execute(load_sql(query), params).fetchall()


@dataclass(frozen=True)
class HiddenRows:
    table_name: str
    role_name: str  # the session's role, from whom row-level security hides rows of the table


def row_security_hidden(conn: psycopg.Connection[Any], schema: str, tables: list[str]) -> list[HiddenRows]:
    """The ``tables`` whose rows row-level security filters for the session's role (see the query)."""
    return catalog_rows(conn, "row_security_hidden", HiddenRows, {"schema": schema, "tables": tables}) if tables else []


def read_ddl(conn: psycopg.Connection[Any], schema: str, table: str) -> TableDDL:
    """Everything needed to recreate ``schema.table`` (sequence values as the server has them now)."""
    params = {"schema": schema, "table": table}
    columns = _column_rows(conn, schema, table)
    constraints = catalog_rows(conn, "constraints", _ConstraintRow, params)
    indexes = catalog_rows(conn, "indexes", IndexDef, params)
    sequence_rows = catalog_rows(conn, "sequences", _SequenceRow, params)
    sequences = []
    for s in sequence_rows:
        row = conn.execute(
            sql.SQL("SELECT last_value, is_called FROM {}").format(sql.Identifier(s.schema, s.name))
        ).fetchone()
        assert row is not None
        sequences.append(
            SequenceDef(
                s.column_name, s.name, s.data_type, s.start_value, s.increment, s.min_value, s.max_value,
                s.cache, s.cycle, s.identity, int(row[0]), bool(row[1]),
            )
        )  # fmt: skip
    enums: dict[tuple[str, str], EnumType] = {}
    for c in columns:
        if c.enum_schema is not None and c.enum_name is not None and (c.enum_schema, c.enum_name) not in enums:
            labels = conn.execute(load_sql("enum_labels"), {"schema": c.enum_schema, "name": c.enum_name}).fetchall()
            enums[(c.enum_schema, c.enum_name)] = EnumType(c.enum_schema, c.enum_name, tuple(r[0] for r in labels))
    return TableDDL(
        tuple(
            ColumnDef(
                c.name, column_type(conn, c), c.default_expr, c.not_null, c.identity, c.generated_expr, c.binary_ok
            )
            for c in columns
        ),
        tuple(
            ConstraintDef(
                c.name,
                c.kind,
                c.definition,
                c.referenced_table,
                None if c.referenced_schema in (None, schema) else c.referenced_schema,
            )
            for c in constraints
        ),
        tuple(indexes),
        tuple(sequences),
        tuple(enums.values()),
        read_extras(conn, schema, table),
        tuple(catalog_rows(conn, "inheritance_parents", ParentTable, params)),
    )


@dataclass(frozen=True)
class _ExtrasRow:
    owner: str
    row_security: bool
    force_row_security: bool
    comment: str | None
    reloptions: list[str]
    replica_identity: str
    replica_identity_index: str | None
    unlogged: bool


@dataclass(frozen=True)
class _GrantRow:
    grantee: str | None
    privileges: list[str]
    column_name: str | None
    grantable: bool


@dataclass(frozen=True)
class _PolicyRow:
    name: str
    permissive: bool
    command: str
    to_public: bool
    roles: list[str]
    using_expr: str | None
    check_expr: str | None


@dataclass(frozen=True)
class _ColumnCommentRow:
    column_name: str
    comment: str


def read_extras(conn: psycopg.Connection[Any], schema: str, table: str) -> TableExtras:
    """The triggers, privileges, row-level security, policies, comments, storage parameters, replica
    identity and owner of ``schema.table``."""
    params = {"schema": schema, "table": table}
    with conn.cursor(row_factory=class_row(_ExtrasRow)) as cur:
        row = cur.execute(load_sql("table_extras"), params).fetchone()
    assert row is not None, f"{schema}.{table} is not an ordinary table"
    triggers = catalog_rows(conn, "triggers", TriggerDef, params)
    grants = catalog_rows(conn, "grants", _GrantRow, params)
    policies = catalog_rows(conn, "policies", _PolicyRow, params)
    column_comments = catalog_rows(conn, "column_comments", _ColumnCommentRow, params)
    object_comments = catalog_rows(conn, "object_comments", ObjectComment, params)
    return TableExtras(
        row.owner,
        tuple(triggers),
        tuple(GrantDef(g.grantee, tuple(g.privileges), g.column_name, g.grantable) for g in grants),
        row.row_security,
        row.force_row_security,
        tuple(
            PolicyDef(p.name, p.permissive, p.command, p.to_public, tuple(p.roles), p.using_expr, p.check_expr)
            for p in policies
        ),
        row.comment,
        tuple(ColumnComment(c.column_name, c.comment) for c in column_comments),
        tuple(row.reloptions),
        row.replica_identity,
        row.replica_identity_index,
        tuple(object_comments),
        row.unlogged,
    )


def relation_grants(conn: psycopg.Connection[Any], schema: str, name: str) -> tuple[GrantDef, ...]:
    """The privileges granted on a table or view and its columns to roles other than its owner."""
    grants = catalog_rows(conn, "grants", _GrantRow, {"schema": schema, "table": name})
    return tuple(GrantDef(g.grantee, tuple(g.privileges), g.column_name, g.grantable) for g in grants)


def relation_triggers(conn: psycopg.Connection[Any], schema: str, name: str) -> tuple[TriggerDef, ...]:
    """The user triggers of a table or view (a view's are INSTEAD OF triggers)."""
    return tuple(catalog_rows(conn, "triggers", TriggerDef, {"schema": schema, "table": name}))


def relation_column_comments(conn: psycopg.Connection[Any], schema: str, name: str) -> tuple[ColumnComment, ...]:
    rows = catalog_rows(conn, "column_comments", _ColumnCommentRow, {"schema": schema, "table": name})
    return tuple(ColumnComment(c.column_name, c.comment) for c in rows)


# The privileges aclexplode names; a manifest's grant is checked against them before it is spliced in.
_PRIVILEGES = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "MAINTAIN"})
_POLICY_COMMANDS = frozenset({"ALL", "SELECT", "INSERT", "UPDATE", "DELETE"})
_TRIGGER_STATES = {"D": "DISABLE TRIGGER", "R": "ENABLE REPLICA TRIGGER", "A": "ENABLE ALWAYS TRIGGER"}
_REPLICA_IDENTITIES = {"f": "FULL", "n": "NOTHING"}


@dataclass(frozen=True)
class ExtrasStatements:
    statements: tuple[sql.Composed, ...]
    warnings: tuple[str, ...]  # what was left out, and why (one line each)


def extras_statements(
    schema: str,
    table: str,
    extras: TableExtras,
    *,
    roles: Collection[str],
    skip_triggers: Collection[str] = (),
    objects_present: Collection[tuple[str, str]] | None = None,
) -> ExtrasStatements:
    """Statements that give the recreated ``schema.table`` back its extras, the owner aside (see the
    restore): storage parameters, replica identity, triggers in their enabled state, privileges,
    row-level security, policies, comments.

    ``roles`` holds the roles that exist on the target: a grant to another one is left out, and so is
    such a role in a policy's TO (a policy left with no role applies to nobody here and is left out);
    each is a warning. ``skip_triggers`` names triggers left out (their function is missing).
    ``objects_present`` holds the (kind, name) of the constraints, indexes, triggers and policies the table
    has before these statements run (None: all of the backup's); a comment on one that is neither
    there nor created here (a foreign key to a table not restored) is left out, with a warning."""
    target = sql.Identifier(schema, table)
    statements: list[sql.Composed] = []
    warnings: list[str] = []
    if extras.reloptions:
        statements.append(
            sql.SQL("ALTER TABLE {} SET ({})").format(
                target, sql.SQL(", ").join(_reloption(option) for option in extras.reloptions)
            )
        )
    if extras.replica_identity in _REPLICA_IDENTITIES:
        statements.append(
            sql.SQL("ALTER TABLE {} REPLICA IDENTITY {}").format(
                target, sql.SQL(_REPLICA_IDENTITIES[extras.replica_identity])
            )
        )
    elif extras.replica_identity == "i" and extras.replica_identity_index is not None:
        statements.append(
            sql.SQL("ALTER TABLE {} REPLICA IDENTITY USING INDEX {}").format(
                target, sql.Identifier(extras.replica_identity_index)
            )
        )
    for trigger in extras.triggers:
        if trigger.name in skip_triggers:
            continue
        statements.append(sql.Composed([sql.SQL(trigger.definition)]))  # pg_get_triggerdef text
        if trigger.enabled in _TRIGGER_STATES:
            statements.append(
                sql.SQL("ALTER TABLE {} {} {}").format(
                    target, sql.SQL(_TRIGGER_STATES[trigger.enabled]), sql.Identifier(trigger.name)
                )
            )
    for grant in extras.grants:
        if grant.grantee is not None and grant.grantee not in roles:
            warnings.append(
                f"table {table!r}: the grant of {', '.join(grant.privileges)}"
                f"{f' on column {grant.column!r}' if grant.column else ''} to role {grant.grantee!r} was left out: "
                "that role does not exist here."
            )
            continue
        statements.append(grant_statement(target, grant))
    if extras.row_security:
        statements.append(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(target))
    if extras.force_row_security:
        statements.append(sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(target))
    for policy in extras.policies:
        present = [r for r in policy.roles if r in roles]
        gone = [r for r in policy.roles if r not in roles]
        if gone:
            left = "left out" if not _policy_kept(policy, roles) else f"created without {', '.join(gone)}"
            warnings.append(
                f"table {table!r}: policy {policy.name!r} was {left}: role(s) {', '.join(gone)} do not exist here "
                "(a policy applies to nobody through a missing role)."
            )
            if not _policy_kept(policy, roles):
                continue
        statements.append(policy_statement(target, policy, present))
    if extras.comment is not None:
        statements.append(sql.SQL("COMMENT ON TABLE {} IS {}").format(target, sql.Literal(extras.comment)))
    for comment in extras.column_comments:
        statements.append(
            sql.SQL("COMMENT ON COLUMN {} IS {}").format(
                sql.Identifier(schema, table, comment.column), sql.Literal(comment.comment)
            )
        )
    created_here = {("trigger", t.name) for t in extras.triggers if t.name not in skip_triggers}
    created_here |= {("policy", p.name) for p in extras.policies if _policy_kept(p, roles)}
    for note in extras.object_comments:
        if note.kind not in _COMMENT_TARGETS:
            continue  # a kind this version does not know (a newer writer's): nothing to put it on
        commented = (note.kind, note.name)
        if note.kind in ("trigger", "policy"):  # made by the statements above, or left out by them
            there = commented in created_here
        else:  # constraints and indexes come with the table, foreign keys only when what they reference is there
            there = objects_present is None or commented in objects_present
        if not there:
            warnings.append(
                f"table {table!r}: the comment on {note.kind} {note.name!r} was left out: that {note.kind} "
                "is not there."
            )
            continue
        statements.append(_comment_statement(schema, table, note))
    return ExtrasStatements(tuple(statements), tuple(warnings))


_COMMENT_TARGETS = {"constraint": "CONSTRAINT", "index": "INDEX", "trigger": "TRIGGER", "policy": "POLICY"}


def _policy_kept(policy: PolicyDef, roles: Collection[str]) -> bool:
    """Whether extras_statements creates ``policy`` (not when every role it named is missing here)."""
    return policy.to_public or any(r in roles for r in policy.roles)


def _comment_statement(schema: str, table: str, comment: ObjectComment) -> sql.Composed:
    if comment.kind == "index":  # an index lives in its table's schema and is named on its own
        return sql.SQL("COMMENT ON INDEX {} IS {}").format(
            sql.Identifier(schema, comment.name), sql.Literal(comment.comment)
        )
    return sql.SQL("COMMENT ON {} {} ON {} IS {}").format(
        sql.SQL(_COMMENT_TARGETS[comment.kind]),
        sql.Identifier(comment.name),
        sql.Identifier(schema, table),
        sql.Literal(comment.comment),
    )


def _reloption(option: str) -> sql.Composed:
    """``fillfactor=70`` as ``"fillfactor" = '70'`` (``toast.x=v`` as ``"toast"."x" = 'v'``)."""
    name, _, value = option.partition("=")
    return sql.SQL("{} = {}").format(sql.Identifier(*name.split(".", 1)), sql.Literal(value))


def grant_statement(target: sql.Identifier, grant: GrantDef) -> sql.Composed:
    """``GRANT privileges [(column)] ON TABLE target TO role|PUBLIC [WITH GRANT OPTION]``."""
    unknown = [p for p in grant.privileges if p not in _PRIVILEGES]
    if unknown:
        raise BackupFormatError(
            f"The backup's grant on {target.as_string()} names an unknown privilege {unknown[0]!r}.", ""
        )
    column = sql.SQL(" ({})").format(sql.Identifier(grant.column)) if grant.column is not None else sql.SQL("")
    return sql.SQL("GRANT {} ON TABLE {} TO {}{}").format(
        sql.SQL(", ").join(sql.SQL("{}{}").format(sql.SQL(p), column) for p in grant.privileges),
        target,
        sql.SQL("PUBLIC") if grant.grantee is None else sql.Identifier(grant.grantee),
        sql.SQL(" WITH GRANT OPTION" if grant.grantable else ""),
    )


def policy_statement(target: sql.Identifier, policy: PolicyDef, roles: list[str]) -> sql.Composed:
    """``CREATE POLICY name ON target AS PERMISSIVE|RESTRICTIVE FOR cmd TO roles [USING (...)] [WITH CHECK (...)]``."""
    if policy.command not in _POLICY_COMMANDS:
        raise BackupFormatError(
            f"The backup's policy {policy.name!r} on {target.as_string()} has an unknown command {policy.command!r}.",
            "",
        )
    to: list[sql.Composable] = [sql.SQL("PUBLIC")] if policy.to_public else []
    to += [sql.Identifier(r) for r in roles]
    statement = sql.SQL("CREATE POLICY {} ON {} AS {} FOR {} TO {}").format(
        sql.Identifier(policy.name),
        target,
        sql.SQL("PERMISSIVE" if policy.permissive else "RESTRICTIVE"),
        sql.SQL(policy.command),
        sql.SQL(", ").join(to),
    )
    if policy.using_expr is not None:  # pg_get_expr text, from the catalog
        statement += sql.SQL(" USING ({})").format(sql.SQL(policy.using_expr))
    if policy.check_expr is not None:
        statement += sql.SQL(" WITH CHECK ({})").format(sql.SQL(policy.check_expr))
    return statement


def _sequence_options(s: SequenceDef) -> sql.Composed:
    """Sequence options; ``AS type`` only for a serial sequence (an identity takes its column's type)."""
    return sql.SQL("{}INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {} {}").format(
        sql.SQL("") if s.identity else sql.SQL("AS {} ").format(sql.SQL(s.data_type)),
        sql.Literal(s.increment),
        sql.Literal(s.min_value),
        sql.Literal(s.max_value),
        sql.Literal(s.start_value),
        sql.Literal(s.cache),
        sql.SQL("CYCLE" if s.cycle else "NO CYCLE"),
    )


def type_and_sequence_statements(
    schema: str, ddl: TableDDL, existing_types: set[tuple[str, str]]
) -> list[sql.Composed]:
    """The table's enum types (when missing) and serial sequences; then :func:`table_statements`, the
    load, :func:`index_statements`, then :func:`foreign_key_statements` and :func:`inherit_statement`
    once every table is loaded.
    When several tables are created, these go first for all of them: a column default may name
    another table's sequence (an inheritance child's ``id`` takes its parent's ``nextval``)."""
    statements: list[sql.Composed] = []
    for enum in ddl.enums:
        if (enum.schema, enum.name) not in existing_types:
            statements.append(
                sql.SQL("CREATE TYPE {} AS ENUM ({})").format(
                    sql.Identifier(enum.schema, enum.name), sql.SQL(", ").join(map(sql.Literal, enum.labels))
                )
            )
            existing_types.add((enum.schema, enum.name))
    for s in ddl.sequences:
        if not s.identity:
            statements.append(
                sql.SQL("CREATE SEQUENCE IF NOT EXISTS {} {}").format(
                    sql.Identifier(schema, s.name), _sequence_options(s)
                )
            )
    return statements


def table_statements(schema: str, table: str, ddl: TableDDL) -> list[sql.Composed]:
    """``CREATE TABLE`` (columns, defaults, identities, validated checks) and its serial sequences'
    ``OWNED BY``, once :func:`type_and_sequence_statements` ran."""
    statements: list[sql.Composed] = []
    serials = [s for s in ddl.sequences if not s.identity]
    identities = {s.column_name: s for s in ddl.sequences if s.identity}
    items: list[sql.Composable] = []
    for c in ddl.columns:
        parts: list[sql.Composable] = [sql.Identifier(c.name), sql.SQL(c.type)]
        if c.generated_expr is not None:
            parts.append(sql.SQL("GENERATED ALWAYS AS ({}) STORED").format(sql.SQL(c.generated_expr)))
        elif c.identity:
            how = sql.SQL("ALWAYS" if c.identity == "a" else "BY DEFAULT")
            seq = identities.get(c.name)
            # under its backed-up name: PostgreSQL would name it after the table, which may have been renamed since
            options = (
                sql.SQL(" (SEQUENCE NAME {} {})").format(sql.Identifier(schema, seq.name), _sequence_options(seq))
                if seq is not None
                else sql.SQL("")
            )
            parts.append(sql.SQL("GENERATED {} AS IDENTITY{}").format(how, options))
        elif c.default_expr is not None:
            parts.append(sql.SQL("DEFAULT {}").format(sql.SQL(c.default_expr)))
        if c.not_null:
            parts.append(sql.SQL("NOT NULL"))
        items.append(sql.SQL(" ").join(parts))
    for con in ddl.constraints:
        if con.kind == "c" and not is_not_valid(con):  # a NOT VALID one comes after the data
            items.append(sql.SQL("CONSTRAINT {} {}").format(sql.Identifier(con.name), sql.SQL(con.definition)))
    unlogged = ddl.extras is not None and ddl.extras.unlogged
    statements.append(
        sql.SQL("CREATE {}TABLE {} ({})").format(
            sql.SQL("UNLOGGED " if unlogged else ""), sql.Identifier(schema, table), sql.SQL(", ").join(items)
        )
    )
    for s in serials:
        statements.append(
            sql.SQL("ALTER SEQUENCE {} OWNED BY {}").format(
                sql.Identifier(schema, s.name), sql.Identifier(schema, table, s.column_name)
            )
        )
    return statements


def index_statements(schema: str, table: str, ddl: TableDDL) -> list[sql.Composed]:
    """Primary key, unique and exclusion constraints, then the other indexes: built once the data is
    loaded (one sort per index instead of maintaining it row by row, as pg_restore does); then the
    check constraints added NOT VALID, which the loaded rows need not satisfy (added NOT VALID)."""
    statements = [
        add_constraint_statement(schema, table, con.name, con.definition)
        for con in ddl.constraints
        if con.kind in ("p", "u", "x")
    ]
    statements.extend(sql.Composed([sql.SQL(i.definition)]) for i in ddl.indexes)
    statements.extend(
        add_constraint_statement(schema, table, con.name, con.definition)
        for con in ddl.constraints
        if con.kind == "c" and is_not_valid(con)
    )
    return statements


def add_constraint_statement(schema: str, table: str, name: str, definition: str) -> sql.Composed:
    """``ALTER TABLE ... ADD CONSTRAINT name definition`` (a NOT VALID definition stays NOT VALID)."""
    return sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
        sql.Identifier(schema, table), sql.Identifier(name), sql.SQL(definition)
    )


def inherit_statement(schema: str, table: str, parent: ParentTable) -> sql.Composed:
    """``ALTER TABLE schema.table INHERIT parent``: run once the table holds its rows and its NOT VALID
    checks (the parent's must be on the child by then), one per parent in the stored order. The
    columns and checks become inherited but stay the table's own too (attislocal, conislocal), as
    after pg_dump's binary upgrade without its catalog updates: a column or check the parent drops
    later stays on the child."""
    return sql.SQL("ALTER TABLE {} INHERIT {}").format(
        sql.Identifier(schema, table), sql.Identifier(parent.schema, parent.name)
    )


def ensure_schema(conn: psycopg.Connection[Any], schema: str) -> None:
    """Create ``schema`` when missing (only then: CREATE SCHEMA, even IF NOT EXISTS, needs the CREATE
    privilege on the database, which a role restoring into an existing schema often lacks)."""
    found = conn.execute(b"SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = %s)", [schema]).fetchone()
    if not (found and found[0]):
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))


def referenced(schema: str, fk: ConstraintDef) -> tuple[str, str]:
    """The (schema, table) a foreign key of a table in ``schema`` references."""
    return (fk.referenced_schema or schema, fk.referenced_table or "")


def foreign_key_statements(
    schema: str, table: str, ddl: TableDDL, present: Collection[tuple[str, str]]
) -> list[sql.Composed]:
    """ALTER TABLE ... ADD CONSTRAINT for the foreign keys whose referenced (schema, table) is ``present``."""
    return [
        add_constraint_statement(schema, table, fk.name, fk.definition)
        for fk in ddl.foreign_keys
        if referenced(schema, fk) in present
    ]


def foreign_keys_left_out(
    schema: str, table: str, ddl: TableDDL, present: Collection[tuple[str, str]]
) -> tuple[str, ...]:
    """A warning line per foreign key :func:`foreign_key_statements` leaves out."""
    return tuple(
        f"table {table!r}: foreign key {fk.name!r} was left out: the table it references, "
        f"{'.'.join(referenced(schema, fk))}, is not there."
        for fk in ddl.foreign_keys
        if referenced(schema, fk) not in present
    )
