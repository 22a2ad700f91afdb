"""``safemigrate rollback``: undo a `migrate` run from its pre-migrate backup, in one transaction.

1. The run comes from the ledger (``--run ID`` or the newest applied one; an "interrupted" run only
   by id, see :func:`find_run`); it must be the last thing applied: a migration applied after it is
   refused (roll that back first).
2. Before acting, :func:`rollback_preview` says what is lost: per backed-up table its rows now
   against the backup's, the rows of tables the run created, and what was added to a backed-up
   table since the run (:func:`changes_since_run`: columns, constraints, indexes, triggers, column
   types, found by comparing the table now with its backup's DDL moved forward by the run's recorded
   schema changes). A column added since holds data the backup does not have: the rollback is
   refused (:func:`refuse_losing_later_columns`) unless the caller accepts dropping it.
3. Under Prisma's migration lock, one transaction: objects the run added to tables outside the
   backup are dropped (tables, columns, indexes, constraints, from the run's recorded schema diff);
   every backed-up table is dropped and recreated from the backup (structure and rows, verified by
   counts and fingerprints, then its triggers, grants, row-level security, policies, comments,
   storage parameters, replica identity and owner, when the backup holds them), without CASCADE:
   the views, foreign keys and sequence defaults that depended on it are taken off and put back
   (:mod:`safemigrate.pipeline.dependents`), anything else refuses; enum types the run created are
   dropped; the run's migrations are marked rolled back in ``_prisma_migrations``
   (``rolled_back_at``): its applied rows, and the rows it left failed (a run that stopped inside a
   migration: `--engine prisma` failed or interrupted), as `prisma migrate resolve --rolled-back`
   marks them (the function `recover` uses), so `prisma migrate deploy` applies them again and is
   not left stuck (P3009). The result says which migrations were marked and why any was not. What a
   recreated table could not get back (see :mod:`safemigrate.backup.restore`) is in the result's
   ``warnings``.
   Any error rolls everything back.
4. The ledger entry is rewritten as rolled back once that transaction committed, also when an
   interrupt arrives after (or during) the COMMIT and the rows show it went through; a store that
   cannot take it keeps the record beside the project (``save_run_or_keep``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from safemigrate.backup.manifest import SequenceDef
from safemigrate.backup.retention import rollback_accepts
from safemigrate.db import load_sql
from safemigrate.errors import BackupError, InputError, RestoreRefusedError, with_outcome
from safemigrate.pipeline.dependents import (
    drop_keys,
    drop_tables,
    incoming_keys,
    put_back,
    read_dependents,
    take_off,
)

# Changes on a table outside the backup that rollback can undo by dropping what was added.
_UNDOABLE_OUTSIDE = frozenset({"column_added", "index_added", "constraint_added", "trigger_added"})


@dataclass(frozen=True)
class TableLoss:
    table: str
    rows_now: int | None  # None when the table no longer exists
    rows_in_backup: int | None  # None for a table the run created
    # The sum of its rows' xmin when counted: any insert, update or delete since changes it (with the
    # count), so the rollback can see that the app wrote to the table after the preview was shown.
    writes_seen: int | None = None


@dataclass(frozen=True)
class LaterChange:
    """Something a backed-up table holds now that the run did not leave there (made since the run):
    recreating the table from the backup takes it away."""

    table: str
    kind: str  # "column" | "column type" | "constraint" | "index" | "trigger"
    name: str
    detail: str = ""  # a column type changed since: "bigint now, integer in the backup"
    values: int | None = None  # a column added since: its non-NULL values, lost with it
    # False when the run recorded no schema changes: only the backup's DDL was compared, so the run
    # itself may have added it (unknown, hence treated as a loss too).
    certain: bool = True

    @property
    def loses_data(self) -> bool:
        """A column holds values that exist nowhere else (the backup predates it)."""
        return self.kind == "column"

    def describe(self) -> str:
        """One line for the preview: what it is, why it is there, what the rollback does to it."""
        if self.certain:
            since = "changed since the run" if self.kind == "column type" else "added since the run"
        else:  # the run recorded no schema changes: the backup's DDL alone was compared
            since = "not in the backup (the run recorded no schema changes: it may be the run's own)"
        if self.kind == "column":
            return f"column {self.table}.{self.name}, {since}: dropped with its {self.values or 0:,} non-NULL value(s)"
        if self.kind == "column type":
            return f"type of column {self.table}.{self.name}, {since} ({self.detail}): back to the backup's"
        return f"{self.kind} {self.name} of {self.table}, {since}: dropped"


@dataclass(frozen=True)
class RollbackPreview:
    run: Mapping[str, Any]
    backup_id: str | None
    losses: tuple[TableLoss, ...]
    drops: tuple[str, ...]  # what will be dropped, described
    later: tuple[LaterChange, ...] = ()  # made to backed-up tables since the run: lost by recreating them


@dataclass(frozen=True)
class RollbackResult:
    run_id: str
    backup_id: str | None
    migrations: tuple[str, ...]
    restored: tuple[str, ...]
    dropped: tuple[str, ...]
    rows_marked: int
    deliveries: tuple[Any, ...] = ()  # the webhooks told of it (safemigrate.notify.send.Delivery)
    # What a recreated table did not get back (an owner the restoring role may not give it to, a
    # grant to a role that is gone), one line each, for the caller to show.
    warnings: tuple[str, ...] = ()
    marked: tuple[str, ...] = ()  # the migrations marked rolled back in _prisma_migrations
    not_marked: tuple[str, ...] = ()  # the run's other migrations, each with why: "NAME (never started)"


def find_run(runs: Sequence[Mapping[str, Any]], run_id: str | None) -> Mapping[str, Any]:
    """The run named ``run_id``, else the newest applied one.

    An "interrupted" run (stopped after it changed the database, see
    :mod:`safemigrate.pipeline.migrate`) is taken by name once its schema changes were recorded
    (they say what to drop); ``--latest`` never picks it blindly: when the newest run that changed
    the database was interrupted, it asks for the run by name."""
    if run_id is not None:
        for run in runs:
            if run.get("id") == run_id:
                verdict = run.get("verdict")
                if verdict == "interrupted" and run.get("schema_changes") is None:
                    raise InputError(
                        f"Run {run_id} was interrupted and its schema changes could not be read, so rollback cannot "
                        "tell what it created.",
                        f"Restore from its backup {run.get('backup_id') or '(none)'} with `safemigrate restore`, "
                        "and see `safemigrate status`.",
                    )
                if not rollback_accepts(run):  # the rule prune keeps backups by: one place
                    raise InputError(
                        f"Run {run_id} was {verdict}, not applied: there is nothing to roll back.",
                        "Pick an applied run (see the run ledger: `safemigrate runs`).",
                    )
                return run
        raise InputError(f"There is no run {run_id!r} in the ledger.", "Use the id `migrate` printed.")
    changed = [r for r in runs if r.get("verdict") in ("applied", "interrupted")]
    if not changed:
        raise InputError("No applied run in the ledger to roll back.", "Only runs of `safemigrate migrate` can be.")
    if changed[-1].get("verdict") == "interrupted":
        raise InputError(
            f"The newest run that changed the database, {changed[-1].get('id')}, was interrupted: --latest does not "
            "pick it blindly.",
            f"Read its message (`safemigrate runs`), then `safemigrate rollback --run {changed[-1].get('id')}`.",
        )
    return changed[-1]


def _changes(run: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(run.get("schema_changes") or [])


def _backup_tables(manifest: Any) -> list[str]:
    return [t.name for t in manifest.tables] if manifest is not None else []


def holding_security(manifest: Any) -> set[str]:
    """The backed-up tables whose backup holds their row-level security and policies (backups taken
    before those were stored do not)."""
    return {t.name for t in manifest.tables if t.ddl.extras is not None} if manifest is not None else set()


def backed_up_parents(manifest: Any) -> dict[str, set[tuple[str, str]]]:
    """The INHERITS parents (schema, name) each backed-up table's backup holds: a rollback recreates
    the table and links it to them again (none in backups taken before they were stored)."""
    if manifest is None:
        return {}
    return {t.name: {(p.schema, p.name) for p in t.ddl.parents} for t in manifest.tables}


def _unquoted(qualified: str) -> tuple[str, str] | None:
    """``public."User"`` (``quote_ident(schema) || '.' || quote_ident(name)``, as the schema diff
    names a parent) as ``("public", "User")``; None when it is not two such names."""
    found = re.fullmatch(r'((?:"(?:[^"]|"")*")|[^".]+)\.((?:"(?:[^"]|"")*")|[^".]+)', qualified)
    if found is None:
        return None
    schema, name = (p[1:-1].replace('""', '"') if p.startswith('"') else p for p in found.groups())
    return schema, name


def _created_tables(run: Mapping[str, Any], backed_up: set[str]) -> list[str]:
    """Tables the run created. A "probable rename" (a table gone, another with the same columns)
    counts as created only when the old table is in the backup (dropped, then restored from it);
    otherwise it is a rename, undone by renaming back (:func:`_renamed_tables`)."""
    created = [c["table"] for c in _changes(run) if c["kind"] == "table_added"]
    created += [c["after"] for c in _changes(run) if c["kind"] == "table_probably_renamed" and c["before"] in backed_up]
    return [name for name in created if name not in backed_up]


def _renamed_tables(run: Mapping[str, Any], backed_up: set[str]) -> list[tuple[str, str]]:
    """(new name, old name) of tables the run renamed and the backup does not hold."""
    return [
        (c["after"], c["before"])
        for c in _changes(run)
        if c["kind"] == "table_probably_renamed" and c["before"] not in backed_up
    ]


# Definitions that name their table (indexes, keys, triggers) read as changed after a rename; the
# rename back restores them.
_FOLLOW_A_RENAME = frozenset({"index_changed", "constraint_changed", "trigger_changed", "table_changed"})


# Changes outside any table that rollback cannot undo: left in place, they would make the rolled-back
# migration fail when deployed again (an enum value or a function that already exists), or leave
# the schema other than before. (Sequences are left out: a table's own sequence goes with it.)
_NOT_UNDOABLE = {
    "enum_value_added": "PostgreSQL cannot remove a value from an enum",
    "enum_value_removed": "the type's old values are not in the backup",
    "enum_values_reordered": "the type's old order is not in the backup",
    "enum_dropped": "the type is not in the backup",
    "extension_added": "extensions are not undone",
    "extension_dropped": "extensions are not undone",
    "extension_changed": "extensions are not undone",
    "view_added": "views are not undone",
    "view_dropped": "views are not in the backup",
    "view_changed": "views are not in the backup",
    "function_added": "functions are not undone",
    "function_dropped": "functions are not in the backup",
    "function_changed": "functions are not in the backup",
    "domain_added": "domains are not undone",
    "domain_dropped": "domains are not in the backup",
    "domain_changed": "domains are not in the backup",
    "domain_constraint_added": "domains are not undone",
    "domain_constraint_dropped": "domains are not in the backup",
    "domain_constraint_changed": "domains are not in the backup",
    "composite_type_added": "composite types are not undone",
    "composite_type_dropped": "composite types are not in the backup",
    "composite_type_changed": "composite types are not in the backup",
    # A backup taken before they were stored holds neither row-level security and policies (see
    # _SECURITY_IN_EXTRAS) nor a table's INHERITS parents (see backed_up_parents), so a table restored
    # from it would not get back what the run took away. (policy_added and inheritance_added go with a
    # table the run created or that is restored; elsewhere they are refused, as every table change
    # outside _UNDOABLE_OUTSIDE is.)
    "row_security_changed": "row-level security is not in the backup",
    "policy_dropped": "policies are not in the backup",
    "policy_changed": "policies are not in the backup",
    "inheritance_removed": "inheritance is not in the backup",
}

# Undone by recreating the table when its backup holds its extras (row-level security, policies).
_SECURITY_IN_EXTRAS = frozenset({"row_security_changed", "policy_dropped", "policy_changed"})


def refuse_unundoable(
    run: Mapping[str, Any],
    backed_up: set[str],
    *,
    secured: Collection[str] = (),
    parents: Mapping[str, Collection[tuple[str, str]]] | None = None,
) -> None:
    """RestoreRefusedError when ``run`` changed something that a rollback from a backup of the
    ``backed_up`` tables cannot undo (checked before anything changes). ``secured``: the backed-up
    tables whose backup holds their row-level security and policies (:func:`holding_security`);
    ``parents``: the INHERITS parents each backed-up table's backup holds (:func:`backed_up_parents`)."""
    created = set(_created_tables(run, backed_up))
    renamed = {new for new, _ in _renamed_tables(run, backed_up)}
    for change in _changes(run):
        table = change.get("table")
        kind = change["kind"]
        if kind in _SECURITY_IN_EXTRAS and table in backed_up and table in secured:
            continue
        held = (parents or {}).get(str(table), ())
        if kind == "inheritance_removed" and _unquoted(str(change.get("parent"))) in held:
            continue  # the recreated table is linked to its backed-up parents again
        if kind in _NOT_UNDOABLE:
            names = ("enum", "view", "function", "domain", "composite", "policy", "name", "table")
            what = next((str(change[key]) for key in names if change.get(key)), "")
            raise RestoreRefusedError(
                f"Run {run['id']} changed {what!r} ({kind.replace('_', ' ')}), which rollback cannot undo "
                f"({_NOT_UNDOABLE[kind]}); nothing was changed.",
                "Undo the run with a new migration instead.",
            )
        if table is None or table in backed_up or table in created or kind == "table_added":
            continue
        if table in renamed and kind in _FOLLOW_A_RENAME:
            continue
        if kind not in _UNDOABLE_OUTSIDE:
            raise RestoreRefusedError(
                f"Run {run['id']} changed {table!r} ({kind.replace('_', ' ')}) but its backup does not hold that "
                "table, so the change cannot be undone; nothing was changed.",
                "Restore that table from another backup, or undo the change with a new migration.",
            )


def _rows_and_writes(conn: psycopg.Connection[Any], schema: str, table: str) -> tuple[int | None, int | None]:
    """The table's row count and the sum of its rows' xmin (the transactions that wrote them); Nones
    when the table does not exist."""
    if not _exists(conn, schema, table):
        return None, None
    row = conn.execute(  # ONLY: a backup holds each table's own rows, not those of its inheritance children
        sql.SQL("SELECT count(*), coalesce(sum(xmin::text::bigint), 0) FROM ONLY {}").format(
            sql.Identifier(schema, table)
        )
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _loss(conn: psycopg.Connection[Any], schema: str, table: str, rows_in_backup: int | None) -> TableLoss:
    rows, writes = _rows_and_writes(conn, schema, table)
    return TableLoss(table, rows, rows_in_backup, writes)


def refuse_writes_since_preview(conn: psycopg.Connection[Any], schema: str, losses: Sequence[TableLoss]) -> None:
    """RestoreRefusedError when a table the preview counted was written to since (a confirmation can
    take any time while the app goes on): the rollback would lose rows nobody was shown. Called in the
    rollback's transaction: the tables are locked first, so nothing changes between this and the drop."""
    present = [loss for loss in losses if loss.rows_now is not None]
    if not present:
        return
    conn.execute(
        sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
            sql.SQL(", ").join(sql.Identifier(schema, loss.table) for loss in present)
        )
    )
    for loss in present:
        rows, writes = _rows_and_writes(conn, schema, loss.table)
        if (rows, writes) != (loss.rows_now, loss.writes_seen):
            now = "is gone" if rows is None else f"has {rows:,} rows now"
            raise RestoreRefusedError(
                f"Table {loss.table!r} was written to since the rollback's preview (it had {loss.rows_now:,} rows "
                f"then and {now}), so the rollback would lose changes nobody was shown; nothing was changed.",
                "Run the rollback again to see what it would lose now, or stop the app's writes to that table first.",
            )


def _exists(conn: psycopg.Connection[Any], schema: str, table: str) -> bool:
    found = conn.execute("SELECT to_regclass(%s)", (sql.Identifier(schema, table).as_string(conn),)).fetchone()
    return found is not None and found[0] is not None


def _later_migrations(conn: psycopg.Connection[Any], schema: str, run: Mapping[str, Any]) -> list[str]:
    from safemigrate.db.prisma_migrations import read_migration_rows

    rows = read_migration_rows(conn, schema)
    mine = set(run.get("migrations", ()))
    finished = [r for r in rows if r.applied and r.migration_name in mine and r.finished_at is not None]
    if not finished:
        return []
    last = max(r.finished_at for r in finished if r.finished_at is not None)
    return sorted(
        r.migration_name
        for r in rows
        if r.applied and r.migration_name not in mine and r.finished_at is not None and r.finished_at > last
    )


@dataclass(frozen=True)
class TableStructure:
    """The names on a table (columns with their type as a backup stores it; None: a type the run set,
    known only in the schema diff's words, so not compared)."""

    columns: Mapping[str, str | None]
    constraints: frozenset[str]
    indexes: frozenset[str]
    triggers: frozenset[str] | None  # None: a backup taken before triggers were stored


def structure_after_run(schema: str, table: str, ddl: Any, changes: Sequence[Mapping[str, Any]]) -> TableStructure:
    """What the run left on ``table``: its backup's DDL (taken just before the run) moved forward by
    the run's recorded schema changes on it."""
    columns: dict[str, str | None] = {c.name: c.type for c in ddl.columns}
    sets = {
        "constraint": {c.name for c in ddl.constraints},
        "index": {i.name for i in ddl.indexes},
        "trigger": {t.name for t in ddl.extras.triggers} if ddl.extras is not None else set(),
    }
    for change in changes:
        kind = change["kind"]
        if change.get("schema", schema) != schema:
            continue
        if (kind == "table_dropped" and change.get("table") == table) or (
            kind == "table_probably_renamed" and change.get("before") == table
        ):
            columns.clear()  # gone after the run: whatever has the name now came later
            for names in sets.values():
                names.clear()
            continue
        if change.get("table") != table:
            continue
        if kind in ("column_added", "column_type_changed", "column_changed"):
            columns[change["column"]] = None
        elif kind == "column_dropped":
            columns.pop(change["column"], None)
        else:
            object_kind, _, verb = kind.rpartition("_")
            if object_kind in sets and verb in ("added", "dropped"):
                name = change[object_kind]
                (sets[object_kind].add if verb == "added" else sets[object_kind].discard)(name)
    return TableStructure(
        columns,
        frozenset(sets["constraint"]),
        frozenset(sets["index"]),
        frozenset(sets["trigger"]) if ddl.extras is not None else None,
    )


def changes_since_run(table: str, after_run: TableStructure, now: Any, *, certain: bool = True) -> list[LaterChange]:
    """What ``table`` holds now (``now``: its DDL as a backup reads it) that the run did not leave on it.
    Only additions and type changes: what was dropped since comes back from the backup, nothing lost."""
    found = [
        LaterChange(table, "column", c.name, certain=certain) for c in now.columns if c.name not in after_run.columns
    ]
    found += [
        LaterChange(
            table, "column type", c.name, f"{c.type} now, {after_run.columns[c.name]} in the backup", certain=certain
        )
        for c in now.columns
        if after_run.columns.get(c.name) not in (None, c.type)
    ]
    found += [
        LaterChange(table, "constraint", c.name, certain=certain)
        for c in now.constraints
        if c.name not in after_run.constraints
    ]
    found += [
        LaterChange(table, "index", i.name, certain=certain) for i in now.indexes if i.name not in after_run.indexes
    ]
    if after_run.triggers is not None and now.extras is not None:
        found += [
            LaterChange(table, "trigger", t.name, certain=certain)
            for t in now.extras.triggers
            if t.name not in after_run.triggers
        ]
    return found


def refuse_losing_later_columns(preview: RollbackPreview, *, discard_later_changes: bool) -> None:
    """RestoreRefusedError when the rollback would drop columns added to backed-up tables since the
    run, with their data (the backup predates them), and the caller did not accept that."""
    lost = [change for change in preview.later if change.loses_data]
    if not lost or discard_later_changes:
        return
    names = ", ".join(f"{c.table}.{c.name} ({c.values or 0:,} non-NULL value(s))" for c in lost)
    raise RestoreRefusedError(
        f"Since run {preview.run['id']}, column(s) {names} were added to tables the rollback recreates from a "
        "backup that predates them, so it would drop them and their data; nothing was changed.",
        "Copy that data elsewhere first, then run the rollback again with --discard-later-changes "
        "(or undo the run with a new migration instead).",
    )


def _later_changes(
    conn: psycopg.Connection[Any], schema: str, run: Mapping[str, Any], manifest: Any
) -> list[LaterChange]:
    """:func:`changes_since_run` for every backed-up table present now, with the values of each column
    added since counted. Without recorded schema changes, the backup's DDL alone is the reference."""
    from safemigrate.backup.ddl import read_ddl

    recorded = run.get("schema_changes")
    found: list[LaterChange] = []
    for table in manifest.tables if manifest is not None else ():
        if not _exists(conn, schema, table.name):
            continue
        after_run = structure_after_run(schema, table.name, table.ddl, recorded or [])
        for change in changes_since_run(
            table.name, after_run, read_ddl(conn, schema, table.name), certain=recorded is not None
        ):
            if change.loses_data:
                values = conn.execute(
                    sql.SQL("SELECT count({}) FROM {}").format(
                        sql.Identifier(change.name), sql.Identifier(schema, table.name)
                    )
                ).fetchone()
                change = dataclasses.replace(change, values=int(values[0]) if values else 0)
            found.append(change)
    return found


def rollback_preview(
    conn: psycopg.Connection[Any], schema: str, run: Mapping[str, Any], manifest: Any
) -> RollbackPreview:
    backed_up = set(_backup_tables(manifest))
    created = _created_tables(run, backed_up)
    refuse_unundoable(run, backed_up, secured=holding_security(manifest), parents=backed_up_parents(manifest))
    children = conn.execute(
        load_sql("rollback_inheritance_children"), {"schema": schema, "tables": sorted(backed_up)}
    ).fetchall()
    if children:
        parent, child = children[0]
        raise RestoreRefusedError(
            f"Rollback would drop and recreate {parent} from the backup, and with it {child}, which inherits "
            "from it and is not in the backup; nothing was changed.",
            f"Restore {parent} with `safemigrate restore --tables`, which keeps its children, and undo the rest "
            "with a new migration.",
        )
    later = _later_migrations(conn, schema, run)
    if later:
        raise InputError(
            f"Migrations were applied after run {run['id']} ({', '.join(later)}); rolling it back would undo "
            "them blindly.",
            "Roll back the later run first.",
        )
    losses = [_loss(conn, schema, t.name, t.rows) for t in (manifest.tables if manifest else ())]
    losses += [_loss(conn, schema, name, None) for name in created]
    drops = [f"table {name} (created by the run)" for name in created]
    drops += [f"rename table {new} back to {old}" for new, old in _renamed_tables(run, backed_up)]
    for change in _changes(run):
        table = change.get("table")
        if table in backed_up or table in created:
            continue
        if change["kind"] == "column_added":
            drops.append(f"column {table}.{change['column']}")
        elif change["kind"] == "index_added":
            drops.append(f"index {change.get('index') or change.get('name')}")
        elif change["kind"] == "constraint_added":
            drops.append(f"constraint {change.get('constraint') or change.get('name')} of {table}")
        elif change["kind"] == "trigger_added":
            drops.append(f"trigger {change.get('trigger') or change.get('name')} of {table}")
    drops += [f"type {c['enum']}" for c in _changes(run) if c["kind"] == "enum_added"]
    since = _later_changes(conn, schema, run, manifest)
    return RollbackPreview(run, manifest.id if manifest else None, tuple(losses), tuple(drops), tuple(since))


def apply_rollback(
    conn: psycopg.Connection[Any],
    schema: str,
    run: Mapping[str, Any],
    manifest: Any,
    folder: Path | None,
    previewed: Sequence[TableLoss] | None = None,
    committing: Callable[[int], None] | None = None,
) -> RollbackResult:
    """Everything in one transaction on ``conn`` (autocommit connection holding the migration lock).
    ``previewed``: the losses a confirmed preview showed; a table written to since refuses it.
    ``committing`` is given the transaction's id when everything is done and COMMIT is next (whether
    an interrupt during the COMMIT came too late can then be asked)."""
    from safemigrate.backup.restore import check_files, restore_in_transaction, use_backup_encoding

    backed_up = _backup_tables(manifest)
    created = _created_tables(run, set(backed_up))
    if manifest is not None and folder is not None:
        check_files(folder, manifest.tables)
    dropped: list[str] = []
    with conn.transaction():
        if previewed is not None:
            refuse_writes_since_preview(conn, schema, previewed)
        sequences = _sequence_positions(conn, schema, manifest)
        made = [name for name in created if _exists(conn, schema, name)]
        drop_keys(conn, incoming_keys(conn, schema, made))  # they cannot outlive the tables
        drop_tables(conn, schema, made)
        dropped += [f"table {name}" for name in created]
        for change in _changes(run):
            table = change.get("table")
            if table in backed_up or table in created or table is None:
                continue
            kind = change["kind"]
            if kind == "column_added":
                conn.execute(
                    sql.SQL("ALTER TABLE {} DROP COLUMN IF EXISTS {}").format(
                        sql.Identifier(schema, table), sql.Identifier(change["column"])
                    )
                )
                dropped.append(f"column {table}.{change['column']}")
            elif kind == "index_added":
                name = change["index"]
                conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(schema, name)))
                dropped.append(f"index {name}")
            elif kind == "constraint_added":
                name = change["constraint"]
                conn.execute(
                    sql.SQL("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}").format(
                        sql.Identifier(schema, table), sql.Identifier(name)
                    )
                )
                dropped.append(f"constraint {name}")
            elif kind == "trigger_added":
                name = change["trigger"]
                conn.execute(
                    sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(
                        sql.Identifier(name), sql.Identifier(schema, table)
                    )
                )
                dropped.append(f"trigger {name}")
        # Renamed back last: the changes above name the table by its new name.
        for new_name, old_name in _renamed_tables(run, set(backed_up)):
            conn.execute(
                sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                    sql.Identifier(schema, new_name), sql.Identifier(old_name)
                )
            )
            dropped.append(f"rename {new_name} back to {old_name}")
        restored: list[str] = []
        warnings: list[str] = []
        if manifest is not None and folder is not None:
            present = [name for name in backed_up if _exists(conn, schema, name)]
            dependents = read_dependents(conn, schema, present)
            take_off(conn, dependents)
            drop_tables(conn, schema, present)
            use_backup_encoding(conn, manifest)  # the data files hold the database's encoding
            recreated = restore_in_transaction(conn, schema, folder, manifest.tables, table_extras="apply")
            warnings = [w for table in recreated for w in table.warnings]
            _keep_sequences_ahead(conn, schema, sequences)
            put_back(conn, dependents)
            for key in dependents.keys:
                try:
                    with conn.transaction():
                        conn.execute(
                            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
                                sql.Identifier(key.child_schema, key.child_table), sql.Identifier(key.constraint_name)
                            )
                            + sql.SQL(key.definition)  # pg_get_constraintdef text, from the catalog
                        )
                except psycopg.errors.ForeignKeyViolation as err:
                    raise RestoreRefusedError(
                        f"Table {key.child_table!r} (not in the backup) has rows referencing rows the rollback "
                        f"would remove ({(err.diag.message_detail or '').strip() or key.constraint_name}); "
                        "nothing was changed.",
                        f"Those rows were written since the run: delete or change them first (constraint "
                        f"{key.constraint_name}), or undo the run with a new migration instead.",
                    ) from err
            restored = list(backed_up)
        for change in _changes(run):
            if change["kind"] == "enum_added":
                conn.execute(sql.SQL("DROP TYPE IF EXISTS {}").format(sql.Identifier(schema, change["enum"])))
                dropped.append(f"type {change['enum']}")
        marked, not_marked, rows_marked = _mark_rolled_back(conn, schema, run)
        if committing is not None:
            row = conn.execute(b"SELECT pg_catalog.txid_current()").fetchone()
            assert row is not None
            committing(int(row[0]))
    return RollbackResult(
        str(run["id"]),
        manifest.id if manifest else None,
        tuple(run.get("migrations", ())),
        tuple(restored),
        tuple(dropped),
        rows_marked,
        warnings=tuple(warnings),
        marked=marked,
        not_marked=not_marked,
    )


def _mark_rolled_back(
    conn: psycopg.Connection[Any], schema: str, run: Mapping[str, Any]
) -> tuple[tuple[str, ...], tuple[str, ...], int]:
    """Mark the run's migrations rolled back, in the caller's transaction: the rows it applied, and
    the rows it left failed (Prisma stopped inside a migration, whatever the run's verdict), whose
    effects the rollback undid too, marked as `prisma migrate resolve --rolled-back` does (the function
    ``recover`` uses). Returns the migrations marked, the others with why, and the rows marked."""
    from safemigrate.db.prisma_migrations import (
        mark_row_rolled_back,
        read_migration_rows,
        record_migration_rolled_back,
        rows_named,
        utc_now,
    )

    rows = read_migration_rows(conn, schema)
    stamp = utc_now()
    marked: list[str] = []
    not_marked: list[str] = []
    count = 0
    for name in run.get("migrations", ()):
        attempts = rows_named(rows, name)
        applied = [row for row in attempts if row.applied]
        for row in applied:
            mark_row_rolled_back(conn, schema, row.id, now=stamp)
        count += len(applied)
        if any(row.failed for row in attempts):
            count += len(record_migration_rolled_back(conn, schema, name, now=stamp))
        elif not applied:
            why = "already marked rolled back" if attempts else "never started: no row in _prisma_migrations"
            not_marked.append(f"{name} ({why})")
            continue
        marked.append(name)
    return tuple(marked), tuple(not_marked), count


def rollback(
    project_dir: Path = Path("."),
    *,
    run_id: str | None = None,
    database_url: str | None = None,
    schema_path: Path | None = None,
    config_file: Path | None = None,
    confirm: Any = None,
    environ: Mapping[str, str] | None = None,
    discard_later_changes: bool = False,
) -> RollbackResult:
    """Roll back run ``run_id`` (the newest applied when None). ``confirm(preview) -> bool`` is asked
    before anything changes; False stops with nothing changed. Columns added to the backed-up tables
    since the run refuse it (their data would go with them) unless ``discard_later_changes``. The
    configured webhooks are told once it is done (``environ`` holds their secrets; a failed webhook
    never fails the rollback)."""
    from safemigrate.backup.project import backup_setup, project_url
    from safemigrate.db.connect import connect, database_errors, transaction_status
    from safemigrate.db.lock import migration_lock

    setup = backup_setup(project_dir, config_file)
    run = find_run(setup.store.list_runs(), run_id)
    url = project_url(project_dir, database_url=database_url, schema_path=schema_path)
    settings = setup.config.database
    backup_id = run.get("backup_id")
    manifest = None
    if backup_id:
        listing = setup.store.list()
        found = [m for m in listing if m.id == backup_id]
        unreadable = listing.find_unreadable(backup_id)
        if not found and unreadable is not None:
            raise unreadable.error()
        if not found:
            raise BackupError(  # the run is right, its backup is gone: not a usage error (exit 1)
                f"Run {run['id']}'s backup {backup_id} is not in {setup.store.location} any more.",
                "It may have been pruned; restore the tables from another backup by hand.",
            )
        manifest = found[0]
    result: RollbackResult | None = None
    transaction: list[int] = []  # the rollback's transaction id, once COMMIT is next
    try:
        with (
            connect(url, command="rollback", settings=settings) as conn,
            database_errors(url, settings),
            migration_lock(conn, timeout=settings.migrate_lock_timeout),
        ):
            preview = rollback_preview(conn, url.schema, run, manifest)
            refuse_losing_later_columns(preview, discard_later_changes=discard_later_changes)
            if confirm is not None and not confirm(preview):
                raise InputError("Rollback cancelled; nothing was changed.")
            if manifest is not None:
                with setup.store.fetch(manifest.id) as local:
                    result = apply_rollback(
                        conn, url.schema, run, manifest, local / manifest.id, preview.losses, transaction.append
                    )
            else:
                result = apply_rollback(conn, url.schema, run, None, None, preview.losses, transaction.append)
    except KeyboardInterrupt as interrupt:
        # The transaction commits before the ledger is written: an interrupt on the way (or during the
        # COMMIT itself) must not leave the ledger saying "applied" for a run that was rolled back.
        status = "committed" if result is not None else None
        if status is None and transaction:  # the interrupt came during the COMMIT: did it go through?
            status = transaction_status(url, settings, transaction[0], "rollback") or "unknown"
        if status == "committed":
            restored = result.restored if result is not None else tuple(_backup_tables(manifest))
            unsaved = _record_rolled_back(setup.store, run, restored, project_dir, note="interrupted after its commit")
            recorded = f" {unsaved}" if unsaved else " The run is recorded as rolled back."
            raise with_outcome(interrupt, f"The rollback had already committed.{recorded}") from None
        if status in ("in progress", "unknown"):
            raise with_outcome(
                interrupt,
                f"The interrupt came during the rollback's COMMIT, and whether it committed is not known yet "
                f"(transaction {transaction[0]}); the run is still recorded as applied: check with "
                "`safemigrate status` (are its migrations rolled back?) before anything else.",
            ) from None
        raise with_outcome(interrupt, "Nothing was rolled back.") from None
    unsaved = _record_rolled_back(setup.store, run, result.restored, project_dir)
    from safemigrate.notify.send import notify_rollback

    deliveries = notify_rollback(
        result,
        setup.config.notifications,
        environ if environ is not None else os.environ,
        database=str(run.get("database", "")),
    )
    if unsaved:
        from safemigrate.errors import BackupStoreError

        raise BackupStoreError(f"Rolled back run {run['id']}, but: {unsaved}")
    return dataclasses.replace(result, deliveries=deliveries)


def _sequence_positions(conn: psycopg.Connection[Any], schema: str, manifest: Any) -> list[tuple[SequenceDef, int]]:
    """(a backed-up table's sequence as backed up, the value it last handed out) of the serial and
    identity sequences that exist and have handed one out, read by name before the rollback drops
    them (the run may have renamed or dropped their column)."""
    found: list[tuple[SequenceDef, int]] = []
    for table in manifest.tables if manifest is not None else ():
        for seq in table.ddl.sequences:
            row = conn.execute(
                "SELECT last_value FROM pg_sequences WHERE schemaname = %s AND sequencename = %s",
                (schema, seq.name),
            ).fetchone()
            if row is not None and row[0] is not None:  # NULL: never called
                found.append((seq, int(row[0])))
    return found


def _keep_sequences_ahead(
    conn: psycopg.Connection[Any], schema: str, before: Sequence[tuple[SequenceDef, int]]
) -> None:
    """Move each recreated sequence back up to where it was before the rollback: the restore set it to
    the backup's value, and the ids handed out since (to rows the rollback removed) must not be handed
    out again; the app may have sent them on (links, emails, other systems)."""
    for seq, last in before:
        restored_last = seq.last_value if seq.is_called else seq.last_value - seq.increment
        if (last - restored_last) * seq.increment > 0:  # further along, whichever way it counts
            conn.execute(
                sql.SQL("SELECT setval({}::regclass, {}, true)").format(
                    sql.Literal(sql.Identifier(schema, seq.name).as_string(conn)), sql.Literal(last)
                )
            )


def _record_rolled_back(
    store: Any, run: Mapping[str, Any], restored: Sequence[str], project_dir: Path, note: str = ""
) -> str:
    """Rewrite the run's ledger entry as rolled back by `safemigrate rollback`; the sentence of
    :func:`~safemigrate.backup.stores.save_run_or_keep` when the store could not take it."""
    from safemigrate.backup.stores import save_run_or_keep

    record = dict(run)
    record["rolled_back"] = {
        "by": "safemigrate rollback",
        "restored": list(restored),
        **({"note": note} if note else {}),
    }
    record["verdict"] = "rolled back"
    return save_run_or_keep(store, str(run["id"]), json.dumps(record, ensure_ascii=False, indent=1), project_dir)
