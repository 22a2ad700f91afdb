"""What depends on the tables a rollback drops and recreates, taken off first and put back after.

``DROP TABLE ... CASCADE`` would remove, without a word, everything that depends on a table: views
on views, a materialized view's indexes, a view's grants, another table's ``DEFAULT
nextval('"User_id_seq"')``, a function returning the table's row type, a policy reading it. The
rollback drops the tables without CASCADE instead, after taking off what it knows how to put back:

- views and materialized views reading the tables, directly or through other views, in any schema:
  recreated deepest-last with their options (``check_option``, ``security_barrier``, storage
  parameters), owner (a role that may not give it back refuses: a view reads its tables with its
  owner's privileges), grants, INSTEAD OF triggers, column defaults, comments, and a materialized
  view's indexes and populated state;
- foreign keys of other tables into them: added back (a row written since that references a removed
  row refuses the rollback);
- other tables' column defaults using a sequence the tables own: set again once it is recreated.

The tables a run created are dropped the same way, their incoming foreign keys first (they cannot
outlive the table); a view, or another table's default on their sequence, refuses the rollback.

Anything else that depends on them makes PostgreSQL refuse the DROP; the rollback then refuses with
its list, nothing changed (everything runs in the rollback's one transaction). So does a view that
cannot be put back on the table as backed up (it reads a column the backup does not have).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from safemigrate.backup.ddl import (
    grant_statement,
    relation_column_comments,
    relation_grants,
    relation_triggers,
)
from safemigrate.backup.manifest import ColumnComment, GrantDef, TriggerDef
from safemigrate.db import load_sql
from safemigrate.errors import RestoreRefusedError


@dataclass(frozen=True)
class _ViewRow:
    view_schema: str
    view_name: str
    materialized: bool
    definition: str
    depth: int
    options: list[str]
    owner: str
    comment: str | None
    populated: bool
    indexes: list[str]
    defaults: list[list[str]]  # jsonb: [[column, expression], ...]
    other_rules: int


@dataclass(frozen=True)
class DependentView:
    schema: str
    name: str
    materialized: bool
    definition: str  # pg_get_viewdef text
    depth: int  # the longest chain of views from a dropped table to this one
    options: tuple[str, ...]  # "name=value"
    owner: str
    comment: str | None
    populated: bool
    indexes: tuple[str, ...]  # pg_get_indexdef text
    defaults: tuple[tuple[str, str], ...]  # (column, pg_get_expr text)
    grants: tuple[GrantDef, ...]
    triggers: tuple[TriggerDef, ...]
    column_comments: tuple[ColumnComment, ...]

    @property
    def kind(self) -> str:
        return "materialized view" if self.materialized else "view"

    @property
    def identifier(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)


@dataclass(frozen=True)
class IncomingKey:
    child_schema: str
    child_table: str
    constraint_name: str
    definition: str  # pg_get_constraintdef text


@dataclass(frozen=True)
class SequenceDefault:
    table_schema: str
    table_name: str
    column_name: str
    expression: str  # pg_get_expr text, naming the sequence


@dataclass(frozen=True)
class Dependents:
    views: tuple[DependentView, ...]
    keys: tuple[IncomingKey, ...]
    defaults: tuple[SequenceDefault, ...]


def read_dependents(conn: psycopg.Connection[Any], schema: str, tables: Sequence[str]) -> Dependents:
    """The views, foreign keys and defaults that depend on ``schema``'s ``tables`` from outside them.
    A view with rules besides its own refuses the rollback (they would be lost)."""
    params = {"schema": schema, "tables": list(tables)}
    with conn.cursor(row_factory=class_row(_ViewRow)) as cur:
        rows = cur.execute(load_sql("rollback_dependent_views"), params).fetchall()
    keys = incoming_keys(conn, schema, tables)
    with conn.cursor(row_factory=class_row(SequenceDefault)) as cur:
        defaults = cur.execute(load_sql("rollback_sequence_defaults"), params).fetchall()
    ruled = [r for r in rows if r.other_rules]
    if ruled:
        raise RestoreRefusedError(
            f'The view "{ruled[0].view_schema}"."{ruled[0].view_name}" reads a table the rollback recreates '
            "and has rules of its own, which the rollback cannot put back; nothing was changed.",
            "Drop its rules (or the view) first and create them again after the rollback, or undo the run "
            "with a new migration instead.",
        )
    views = tuple(
        DependentView(
            r.view_schema,
            r.view_name,
            r.materialized,
            r.definition,
            r.depth,
            tuple(r.options),
            r.owner,
            r.comment,
            r.populated,
            tuple(r.indexes),
            tuple((str(c), str(e)) for c, e in r.defaults),  # jsonb, read as a list
            relation_grants(conn, r.view_schema, r.view_name),
            relation_triggers(conn, r.view_schema, r.view_name),
            relation_column_comments(conn, r.view_schema, r.view_name),
        )
        for r in rows
    )
    return Dependents(views, tuple(keys), tuple(defaults))


def incoming_keys(conn: psycopg.Connection[Any], schema: str, tables: Sequence[str]) -> tuple[IncomingKey, ...]:
    """The foreign keys of other tables into ``schema``'s ``tables``."""
    with conn.cursor(row_factory=class_row(IncomingKey)) as cur:
        return tuple(cur.execute(load_sql("rollback_incoming_keys"), {"schema": schema, "tables": list(tables)}))


def drop_keys(conn: psycopg.Connection[Any], keys: Sequence[IncomingKey]) -> None:
    for key in keys:
        conn.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.Identifier(key.child_schema, key.child_table), sql.Identifier(key.constraint_name)
            )
        )


def take_off(conn: psycopg.Connection[Any], dependents: Dependents) -> None:
    """Drop the views (deepest first) and the foreign keys, and take the defaults off."""
    with _refusing_other_dependents():  # a function of a view's row type, say
        for view in sorted(dependents.views, key=lambda v: -v.depth):
            conn.execute(sql.SQL("DROP {} {}").format(sql.SQL(view.kind.upper()), view.identifier))
    drop_keys(conn, dependents.keys)
    for default in dependents.defaults:
        conn.execute(
            sql.SQL("ALTER TABLE {} ALTER COLUMN {} DROP DEFAULT").format(
                sql.Identifier(default.table_schema, default.table_name), sql.Identifier(default.column_name)
            )
        )


def drop_tables(conn: psycopg.Connection[Any], schema: str, tables: Sequence[str]) -> None:
    """``DROP TABLE`` of all ``tables`` in one statement (their keys to each other and inheritance
    links go with them), without CASCADE: what else depends on them refuses the rollback."""
    if not tables:
        return
    with _refusing_other_dependents():
        conn.execute(
            sql.SQL("DROP TABLE IF EXISTS {}").format(sql.SQL(", ").join(sql.Identifier(schema, t) for t in tables))
        )


@contextlib.contextmanager
def _refusing_other_dependents() -> Iterator[None]:
    """PostgreSQL's refusal to drop what something else depends on, as the rollback's refusal."""
    try:
        yield
    except psycopg.errors.DependentObjectsStillExist as err:
        detail = "; ".join(line.strip() for line in (err.diag.message_detail or "").splitlines() if line.strip())
        raise RestoreRefusedError(
            "The rollback would also drop objects that depend on the tables it recreates and that it cannot "
            f"put back ({detail or err.diag.message_primary}); nothing was changed.",
            "Drop those objects first and create them again after the rollback, or undo the run with a new "
            "migration instead.",
        ) from err


def put_back(conn: psycopg.Connection[Any], dependents: Dependents) -> None:
    """Recreate the views (shallowest first) with their extras, then set the defaults again. The
    foreign keys are the caller's (a violation there has its own refusal)."""
    current_user = _current_user(conn)
    for view in sorted(dependents.views, key=lambda v: v.depth):
        try:
            with conn.transaction():
                for statement in _view_statements(view):
                    conn.execute(statement)
        except psycopg.Error as err:
            raise RestoreRefusedError(
                f'The {view.kind} "{view.schema}"."{view.name}" cannot be put back on the tables as backed up '
                f"({err.diag.message_primary}); nothing was changed.",
                "Drop it first and create it again after the rollback, to fit the tables as they were, or undo "
                "the run with a new migration instead.",
            ) from err
        if view.owner != current_user:
            _give_back(conn, view)
    for default in dependents.defaults:
        target = sql.Identifier(default.table_schema, default.table_name)
        try:
            with conn.transaction():
                conn.execute(
                    sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET DEFAULT ").format(
                        target, sql.Identifier(default.column_name)
                    )
                    + sql.SQL(default.expression)  # pg_get_expr text, from the catalog
                )
        except psycopg.Error as err:
            raise RestoreRefusedError(
                f'The default of "{default.table_schema}"."{default.table_name}"."{default.column_name}" '
                f"({default.expression}) cannot be set again after the rollback ({err.diag.message_primary}); "
                "nothing was changed.",
                "The sequence it uses is not recreated by the backup under that name: change the default to "
                "another sequence first, or undo the run with a new migration instead.",
            ) from err


def _current_user(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute("SELECT current_user::text").fetchone()
    return str(row[0]) if row else ""


def _give_back(conn: psycopg.Connection[Any], view: DependentView) -> None:
    """Its owner back (last: the grants were the creator's to give). A view reads its tables with
    its owner's privileges, row-level security included: under another owner it would show other
    rows, so a role that may not give it back refuses the rollback."""
    statement = sql.SQL("ALTER {} {} OWNER TO {}").format(
        sql.SQL(view.kind.upper()), view.identifier, sql.Identifier(view.owner)
    )
    try:
        with conn.transaction():
            conn.execute(statement)
    except psycopg.Error as err:
        raise RestoreRefusedError(
            f'The {view.kind} "{view.schema}"."{view.name}" belongs to role {view.owner!r}, and the rollback '
            f"cannot give it back once recreated ({err.diag.message_primary}); under another owner it would read "
            "the tables with other privileges. Nothing was changed.",
            f"Run the rollback as a member of {view.owner!r} (or a superuser).",
        ) from err


def _view_statements(view: DependentView) -> list[sql.Composed]:
    kind = sql.SQL(view.kind.upper())
    options = (
        sql.SQL(" WITH ({})").format(sql.SQL(", ").join(_option(o) for o in view.options))
        if view.options
        else sql.SQL("")
    )
    definition = sql.SQL(view.definition.rstrip().rstrip(";"))  # pg_get_viewdef text, from the catalog
    no_data = sql.SQL(" WITH NO DATA" if view.materialized and not view.populated else "")
    statements: list[sql.Composed] = [
        sql.SQL("CREATE {} {}{} AS ").format(kind, view.identifier, options) + definition + no_data
    ]
    for column, expression in view.defaults:
        statements.append(
            sql.SQL("ALTER VIEW {} ALTER COLUMN {} SET DEFAULT ").format(view.identifier, sql.Identifier(column))
            + sql.SQL(expression)  # pg_get_expr text, from the catalog
        )
    statements += [sql.Composed([sql.SQL(index)]) for index in view.indexes]  # pg_get_indexdef text
    statements += [sql.Composed([sql.SQL(t.definition)]) for t in view.triggers]  # pg_get_triggerdef text
    statements += [grant_statement(view.identifier, grant) for grant in view.grants]
    if view.comment is not None:
        statements.append(sql.SQL("COMMENT ON {} {} IS {}").format(kind, view.identifier, sql.Literal(view.comment)))
    for note in view.column_comments:
        statements.append(
            sql.SQL("COMMENT ON COLUMN {} IS {}").format(
                sql.Identifier(view.schema, view.name, note.column), sql.Literal(note.comment)
            )
        )
    return statements


def _option(option: str) -> sql.Composed:
    """``check_option=local`` as ``"check_option" = 'local'``."""
    name, _, value = option.partition("=")
    return sql.SQL("{} = {}").format(sql.Identifier(name), sql.Literal(value))
