"""``safemigrate dry-run``: rehearse the pending migrations on a throwaway clone.

With a target database: the clone gets the target's schema (pg_dump --schema-only) and the data of
the backup scope, closed over the tables those rows reference, restored from a new pre-migrate
backup (which proves that backup restores); then the pending migrations run exactly as `migrate`
runs them (:func:`safemigrate.pipeline.apply.apply_migrations`), traced statement by statement;
then the clone's schema diff (before vs after) and the fingerprints of the data tables are taken.

Without a database (a developer before committing, a pre-commit hook): an embedded server replays
the whole history, new migrations included, and reports errors with their file:line.

The target is only read (the backup's snapshot, the schema dump, the status); clones are always
removed, and clones a killed run left behind are dropped first.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from safemigrate.clone.providers import Clone, drop_stale_clones, open_clone, refuse_unusable_clone
from safemigrate.config import Config, load_config
from safemigrate.db.diff import SnapshotDiff
from safemigrate.db.url import DatabaseUrl
from safemigrate.migrations import Migration
from safemigrate.pipeline.apply import (
    ApplyResult,
    apply_each_committed,
    apply_migrations,
    order_problem,
    prepare,
    relative_label,
)
from safemigrate.sql import model as m

if TYPE_CHECKING:
    import psycopg

    from safemigrate.db.catalog.snapshot import Snapshot

Mode = Literal["target", "history"]


@dataclass(frozen=True)
class Timings:
    clone: float = 0.0  # creating the empty clone
    schema: float = 0.0  # copying the target's schema
    backup: float = 0.0  # the pre-migrate backup of the data tables
    data: float = 0.0  # restoring it into the clone
    apply: float = 0.0
    inspect: float = 0.0  # snapshots, diff, fingerprints

    @property
    def total(self) -> float:
        return self.clone + self.schema + self.backup + self.data + self.apply + self.inspect


@dataclass(frozen=True)
class Rehearsal:
    mode: Mode
    database: str  # the target, redacted ("" in history mode)
    clone_provider: str
    clone_description: str
    clone_major: int
    warnings: tuple[str, ...]
    migrations: tuple[str, ...]  # what was rehearsed, in order
    backup_id: str | None  # the pre-migrate backup that seeded the clone
    data_tables: tuple[str, ...]  # tables whose rows the clone received
    result: ApplyResult
    schema_diff: SnapshotDiff | None  # the clone before vs after (None when the rehearsal failed)
    fingerprints: Mapping[str, Any]  # data tables after the rehearsal: table -> fingerprint dict
    timings: Timings
    dropped_stale: tuple[str, ...] = ()
    # The clone at the commit of the transactional files, when files that cannot run in a
    # transaction ran after it (what `migrate` compares before its own commit); else None.
    commit_diff: SnapshotDiff | None = None

    @property
    def diff_at_commit(self) -> SnapshotDiff | None:
        return self.commit_diff if self.commit_diff is not None else self.schema_diff

    @property
    def ok(self) -> bool:
        return self.result.failed is None


def referenced_by_statements(statements: Iterable[m.Statement]) -> set[str]:
    """Tables that foreign keys added by these statements reference (their rows must be in the clone)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, m.ConstraintSpec) and value.references is not None:
            found.add(value.references.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            for item in dataclasses.fields(value):
                walk(getattr(value, item.name))
        elif isinstance(value, (tuple, list)):
            for item in value:
                walk(item)

    for statement in statements:
        walk(statement.summary)
    return found


def rows_involved(statements: Iterable[m.Statement], schema: str, edges: Iterable[tuple[str, str]]) -> set[str]:
    """Tables of ``schema`` whose rows decide how the statements' row changes go, beyond the backup
    scope: the tables they insert into, update or delete from (unique keys and checks meet the
    existing rows), every table such a statement reads (``INSERT ... SELECT ... FROM b``), and the
    tables whose foreign keys reference a table rows are deleted, updated or truncated in (their
    rows make a RESTRICT or NO ACTION key refuse it). Without them a rehearsal on empty tables may
    pass a change the target refuses, or refuse one it accepts."""
    from safemigrate.sql.preflight_sql import tables_named

    def here(name: m.Name) -> str | None:
        return name.name if name.schema in (None, schema) else None

    involved: set[str] = set()
    referenced: set[str] = set()  # rows removed or keys changed here: what references them matters
    for statement in statements:
        summary = statement.summary
        changes = m.data_changes(summary)
        truncated = summary.tables if isinstance(summary, m.Truncate) else ()
        reads_rows = bool(changes) or (isinstance(summary, m.CreateTable) and summary.as_query)
        for name in [c.table for c in changes] + list(truncated):
            if (table := here(name)) is not None:
                involved.add(table)
        for name in [c.table for c in changes if not isinstance(c, m.Insert)] + list(truncated):
            if (table := here(name)) is not None:
                referenced.add(table)
        if reads_rows:
            for name in tables_named(statement.text) or ():
                if (table := here(name)) is not None:
                    involved.add(table)
    involved.update(child for child, parent in edges if parent in referenced)
    return involved


def close_over_parents(tables: Iterable[str], edges: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """``tables`` plus every table their rows reference through foreign keys, transitively.

    ``edges``: (referencing table, referenced table) pairs of one schema."""
    parents: dict[str, set[str]] = {}
    for child, parent in edges:
        parents.setdefault(child, set()).add(parent)
    wanted = set(tables)
    todo = list(wanted)
    while todo:
        for parent in parents.get(todo.pop(), ()):
            if parent not in wanted:
                wanted.add(parent)
                todo.append(parent)
    return tuple(sorted(wanted))


def rehearse(
    project_dir: Path = Path("."),
    *,
    database_url: str | None = None,
    schema_path: Path | None = None,
    migrations_dir: Path | None = None,
    config_file: Path | None = None,
    clone: str | None = None,
    clone_url: str | None = None,
    local: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Rehearsal:
    """Rehearse the project's pending migrations (or, with ``local`` or no database configured,
    its whole history) on a clone; nothing is changed in the target."""
    from safemigrate.db.datasource import resolve_database_url
    from safemigrate.errors import DatabaseUrlError
    from safemigrate.lint.registry import rule_names
    from safemigrate.migrations import list_migrations
    from safemigrate.project import discover_project

    config = load_config(project_dir, config_file, rule_names())
    project = discover_project(project_dir, schema_path, migrations_dir)
    migrations = list_migrations(project.migrations_dir)
    label = relative_label(project.root)
    target: DatabaseUrl | None = None
    if not local:
        try:
            target = resolve_database_url(project, database_url=database_url, environ=environ, for_migration=True)
        except DatabaseUrlError:
            if database_url is not None:
                raise
            target = None  # no database configured: rehearse the whole history locally
    provider = clone or config.dry_run.clone
    if provider == "url" and clone_url is None:
        clone_url = (environ if environ is not None else os.environ).get(config.dry_run.clone_url_env) or None
    if target is None:
        # No target to copy: a fresh local server (or the given throwaway database).
        return _rehearse_history(
            config, migrations, provider if clone in ("url", "container") else "embedded", clone_url, label
        )
    scope = _scope_tables(project_dir, database_url, schema_path, migrations_dir, config_file)
    return _rehearse_pending(project_dir, config, target, migrations, scope, provider, clone_url, label)


def _rehearse_history(
    config: Config, migrations: tuple[Migration, ...], provider: str, clone_url: str | None, label: Any
) -> Rehearsal:
    from psycopg import sql

    from safemigrate.db.catalog.snapshot import take_snapshot
    from safemigrate.db.connect import connect, database_errors
    from safemigrate.db.diff import diff_snapshots

    started = time.perf_counter()
    # No database to match: run the server version the migrations are written for.
    with open_clone(
        provider, None, settings=config.database, clone_url=clone_url, pg_version=config.lint.pg_version
    ) as clone:
        made = time.perf_counter()
        schema = clone.url.schema
        with connect(clone.url, command="dry-run", settings=config.database) as conn, database_errors(clone.url):
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            before = take_snapshot(conn, (schema,), exclude_tables=("_prisma_migrations",))
            applied = time.perf_counter()
            result = apply_migrations(conn, schema, migrations, trace=True, file_label=label)
            done = time.perf_counter()
            diff = None
            if result.failed is None:
                after = take_snapshot(conn, (schema,), exclude_tables=("_prisma_migrations",))
                diff = diff_snapshots(before, after)
        inspected = time.perf_counter()
    return Rehearsal(
        "history",
        "",
        clone.provider,
        clone.description,
        clone.server_major,
        clone.warnings,
        tuple(mig.name for mig in migrations),
        None,
        (),
        result,
        diff,
        {},
        Timings(clone=made - started, apply=done - applied, inspect=(applied - made) + (inspected - done)),
    )


def deployable_pending(
    migrations: tuple[Migration, ...], conn: Any, schema: str, url: DatabaseUrl
) -> tuple[Migration, ...]:
    """What `prisma migrate deploy` would apply: pending and rolled-back migrations; a failed or edited one refuses."""
    from safemigrate.errors import MigrationHistoryError
    from safemigrate.status import EDITED, FAILED, PENDING, ROLLED_BACK, read_status

    report = read_status(conn, migrations, schema=schema, database=url.redacted())
    if report.needs_baseline:
        from safemigrate.db.prisma_migrations import BASELINE_DOCS

        tables = ", ".join(report.unmanaged_tables[:5]) + (", ..." if len(report.unmanaged_tables) > 5 else "")
        raise MigrationHistoryError(
            f"Schema {schema} of the target has tables ({tables}) but no _prisma_migrations table: Prisma "
            "would refuse to deploy into it (P3005).",
            f'Baseline it first: prisma migrate resolve --applied "{report.first_local or "<migration-name>"}" '
            f"for each migration it already reflects ({BASELINE_DOCS}).",
        )
    failed = report.named(FAILED)
    if failed:
        raise MigrationHistoryError(
            f"Migration {failed[0].name} is in Prisma's failed state in the target; nothing can be deployed "
            "after it (P3009).",
            "Run `safemigrate recover` (it shows what the failed migration left and marks it), then run this again.",
        )
    edited = report.named(EDITED)
    if edited:
        raise MigrationHistoryError(
            f"Migration {edited[0].name} was edited after it was applied (its checksum differs).",
            "Restore the applied file from version control; put changes in a new migration.",
        )
    wanted = {s.name for s in report.migrations if s.local and s.state in (PENDING, ROLLED_BACK)}
    return tuple(mig for mig in migrations if mig.name in wanted)


@dataclass(frozen=True)
class RehearsalInputs:
    pending: tuple[Migration, ...]
    server_major: int
    data_tables: tuple[str, ...]  # the backup scope closed over the tables its rows reference


def rehearsal_inputs(
    target: DatabaseUrl, config: Config, migrations: tuple[Migration, ...], scope: tuple[str, ...]
) -> RehearsalInputs:
    """What a rehearsal of ``target`` needs: its pending migrations, and the tables whose rows the
    clone must get (the scope, the tables their rows reference, and those new keys reference)."""
    from safemigrate.backup.ddl import schema_tables
    from safemigrate.backup.scope import read_foreign_keys
    from safemigrate.db.connect import connect, database_errors
    from safemigrate.lint.reader import parse_source

    settings = config.database
    schema = target.schema
    with connect(target, command="dry-run", settings=settings) as conn, database_errors(target, settings):
        pending = deployable_pending(migrations, conn, schema, target)
        major = conn.info.server_version // 10000
        edges = [
            (e.table_name, e.referenced_name)
            for e in read_foreign_keys(conn)
            if e.table_schema == schema and e.referenced_schema == schema
        ]
        existing = set(schema_tables(conn, schema))
    statements = [s for mig in pending for s in parse_source(mig.data).statements]
    wanted = set(scope) | referenced_by_statements(statements) | rows_involved(statements, schema, edges)
    data_tables = tuple(t for t in close_over_parents(wanted, edges) if t in existing)
    return RehearsalInputs(pending, major, data_tables)


def _rehearse_pending(
    project_dir: Path,
    config: Config,
    target: DatabaseUrl,
    migrations: tuple[Migration, ...],
    scope: tuple[str, ...],
    provider: str,
    clone_url: str | None,
    label: Any,
) -> Rehearsal:
    from safemigrate.backup.manifest import Reason
    from safemigrate.backup.project import backup_setup
    from safemigrate.backup.take import take_backup

    settings = config.database
    refuse_unusable_clone(provider, target, clone_url=clone_url, settings=settings)  # before the backup
    inputs = rehearsal_inputs(target, config, migrations, scope)
    started = time.perf_counter()
    setup = backup_setup(project_dir, config.path)
    backup_id: str | None = None
    if inputs.data_tables and inputs.pending:
        setup.store.check()
        with setup.store.staging() as local_store:
            manifest = take_backup(
                target,
                local_store,
                settings=settings,
                tables=inputs.data_tables,
                reason=Reason("pre-migrate", "dry-run", tuple(mig.name for mig in inputs.pending)),
                project_dir=project_dir,
            )
            setup.store.publish(local_store, manifest)
        backup_id = manifest.id
    backup_seconds = time.perf_counter() - started
    return rehearse_on_clone(project_dir, config, target, inputs, provider, clone_url, label, backup_id, backup_seconds)


def rehearse_on_clone(
    project_dir: Path,
    config: Config,
    target: DatabaseUrl,
    inputs: RehearsalInputs,
    provider: str,
    clone_url: str | None,
    label: Any,
    backup_id: str | None,
    backup_seconds: float = 0.0,
    *,
    each_file_commits: bool = False,
) -> Rehearsal:
    """Build a clone of ``target`` (schema, plus the data tables from backup ``backup_id``) and run
    the pending migrations on it, traced: in one transaction, as `migrate` applies them, or with
    ``each_file_commits`` each committed before the next, as `prisma migrate deploy` does."""
    from safemigrate.backup.project import backup_setup
    from safemigrate.backup.restore import restore_backup
    from safemigrate.clone.schema import (
        dump_schema,
        find_pg_dump,
        load_catalog_post_data,
        load_catalog_pre_data,
        load_schema,
    )
    from safemigrate.db.catalog.snapshot import take_snapshot
    from safemigrate.db.connect import connect, database_errors
    from safemigrate.db.diff import diff_snapshots
    from safemigrate.db.fingerprint import fingerprint
    from safemigrate.errors import CloneError, with_outcome

    settings = config.database
    schema = target.schema
    warnings: list[str] = []
    pending, major, data_tables = inputs.pending, inputs.server_major, inputs.data_tables
    dropped: tuple[str, ...] = ()
    if provider == "database":
        dropped = drop_stale_clones(target, settings)
    setup = backup_setup(project_dir, config.path)
    started = time.perf_counter()

    marks: dict[str, float] = {}
    with open_clone(provider, target, settings=settings, clone_url=clone_url, dry_run=config.dry_run) as clone:
        marks["clone"] = time.perf_counter()
        branch = clone.provider == "neon"  # a Neon branch is a full copy already
        post_data = ""
        catalog = None
        if not branch:
            # Tables first, rows next, then keys and indexes over the loaded rows (as pg_restore does):
            # loading into indexed tables with foreign keys checked row by row is several times slower.
            try:
                find_pg_dump(major)
            except CloneError as err:
                catalog = _catalog_copy(target, settings)
                warnings.append(
                    f"{err.message} The clone's tables were copied from the catalog instead (columns, types, "
                    "sequences, keys, indexes); views, functions and triggers were not."
                )
                with connect(clone.url, command="dry-run", settings=settings) as conn:
                    load_catalog_pre_data(conn, schema, catalog)
            else:
                load_schema_into(clone, dump_schema(target, major, "pre-data"), settings, load_schema)
                post_data = dump_schema(target, major, "post-data")
        marks["schema"] = time.perf_counter()
        if backup_id is not None and not branch:
            with setup.store.fetch(backup_id) as local_store:
                try:
                    restore_backup(clone.url, local_store, backup_id=backup_id, settings=settings, into_empty=True)
                except KeyboardInterrupt as interrupt:
                    # What the restore says it left concerns the throwaway clone, not the user's database.
                    with_outcome(interrupt, "")
                    raise
        if post_data:
            load_schema_into(clone, post_data, settings, load_schema)
        if catalog is not None:
            with connect(clone.url, command="dry-run", settings=settings) as conn:
                load_catalog_post_data(conn, catalog)
        marks["data"] = time.perf_counter()
        with connect(clone.url, command="dry-run", settings=settings) as conn, database_errors(clone.url, settings):
            before = take_snapshot(conn, (schema,), exclude_tables=("_prisma_migrations",))
            marks["before"] = time.perf_counter()
            # What `migrate` verifies before its commit: the files that cannot run in a transaction
            # (CREATE INDEX CONCURRENTLY) run after it, so their changes are not there yet.
            at_commit: list[Snapshot] = []

            def before_commit(conn: psycopg.Connection[Any]) -> None:
                at_commit.append(take_snapshot(conn, (schema,), exclude_tables=("_prisma_migrations",)))

            prepared = [prepare(mig) for mig in pending]
            later = any(not p.transactional for p in prepared) and order_problem(prepared) is None
            if each_file_commits:
                result = apply_each_committed(conn, schema, pending, trace=True, file_label=label)
            else:
                result = apply_migrations(
                    conn, schema, pending, trace=True, file_label=label, before_commit=before_commit if later else None
                )
            marks["apply"] = time.perf_counter()
            diff = None
            commit_diff = diff_snapshots(before, at_commit[0]) if at_commit and result.failed is None else None
            prints: dict[str, Any] = {}
            if result.failed is None:
                after = take_snapshot(conn, (schema,), exclude_tables=("_prisma_migrations",))
                diff = diff_snapshots(before, after)
                now_tables = {t.name for t in after.tables}
                wanted = [t for t in data_tables if t in now_tables]
                if wanted:
                    document = fingerprint(conn, schema=schema, tables=wanted).to_dict()
                    prints = {t["table"]: t for t in document["tables"]}
            marks["inspect"] = time.perf_counter()
    timings = Timings(
        clone=marks["clone"] - started,
        schema=marks["schema"] - marks["clone"],
        backup=backup_seconds,
        data=marks["data"] - marks["schema"],
        apply=marks["apply"] - marks["before"],
        inspect=(marks["before"] - marks["data"]) + (marks["inspect"] - marks["apply"]),
    )
    return Rehearsal(
        "target",
        target.redacted(),
        clone.provider,
        clone.description,
        clone.server_major,
        (*clone.warnings, *warnings),
        tuple(mig.name for mig in pending),
        backup_id,
        data_tables,
        result,
        diff,
        prints,
        timings,
        dropped,
        commit_diff,
    )


def _catalog_copy(target: DatabaseUrl, settings: Any) -> Any:
    from safemigrate.clone.schema import schema_from_catalog
    from safemigrate.db.connect import connect, database_errors

    with connect(target, command="dry-run", settings=settings) as conn, database_errors(target, settings):
        return schema_from_catalog(conn, target.schema)


def load_schema_into(clone: Clone, dump: str, settings: Any, loader: Any) -> None:
    from safemigrate.db.connect import connect, database_errors

    with connect(clone.url, command="dry-run", settings=settings) as conn, database_errors(clone.url, settings):
        loader(conn, dump)


def _scope_tables(
    project_dir: Path,
    database_url: str | None,
    schema_path: Path | None,
    migrations_dir: Path | None,
    config_file: Path | None,
) -> tuple[str, ...]:
    """The backup scope of the pending migrations (what `migrate` would back up)."""
    from safemigrate.backup.scope import backup_scope

    found = backup_scope(
        project_dir,
        database_url=database_url,
        schema_path=schema_path,
        migrations_dir=migrations_dir,
        config_file=config_file,
    )
    return tuple(found.tables)


def cleanup_clones(
    project_dir: Path = Path("."),
    *,
    database_url: str | None = None,
    schema_path: Path | None = None,
    config_file: Path | None = None,
) -> tuple[str, ...]:
    """``dry-run --cleanup``: drop the clone databases killed runs left on the target's server."""
    from safemigrate.db.datasource import resolve_database_url
    from safemigrate.lint.registry import rule_names
    from safemigrate.project import discover_project

    config = load_config(project_dir, config_file, rule_names())
    project = None if database_url is not None else discover_project(project_dir, schema_path)
    target = resolve_database_url(project, database_url=database_url, for_migration=True)
    dropped = drop_stale_clones(target, config.database)
    if config.dry_run.neon_project_id and os.environ.get("NEON_API_KEY"):
        from safemigrate.clone.neon import drop_stale_neon_branches

        dropped += drop_stale_neon_branches(config.dry_run)
    return dropped
