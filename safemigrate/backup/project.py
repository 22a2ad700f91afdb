"""The commands' library functions: find the project's database URL, configuration and store, then
take, list or restore backups. Typed arguments in, frozen dataclasses out; nothing printed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from safemigrate.backup.manifest import Manifest, Reason
from safemigrate.backup.restore import RestoreResult, restore_backup
from safemigrate.backup.retention import PrunePlan, plan_prune, protected_backups
from safemigrate.backup.scope import BackupScope
from safemigrate.backup.select import choose_backup, same_database
from safemigrate.backup.store import BackupListing, UnfinishedBackup
from safemigrate.backup.stores import BackupStore, open_store
from safemigrate.backup.take import BackupProgressCallback, backup_tables
from safemigrate.backup.verify import Verification, verify_backup
from safemigrate.config import Config, load_config
from safemigrate.db.url import DatabaseUrl, redact_url
from safemigrate.errors import InputError, ProjectError, with_outcome


@dataclass(frozen=True)
class BackupSetup:
    config: Config
    store: BackupStore


@dataclass(frozen=True)
class TakenBackup:
    manifest: Manifest  # as stored (``verified`` set when --verify ran)
    location: str  # the store
    verification: Verification | None
    # Partitioned tables and partitions a full backup left out (not supported yet), by name.
    skipped_partitioned: tuple[str, ...] = ()


def backup_setup(project_dir: Path, config_file: Path | None) -> BackupSetup:
    """The configuration and the backup store (``[backup] store``, relative to the project directory)."""
    from safemigrate.lint.registry import rule_names
    from safemigrate.project import check_project_dir

    check_project_dir(project_dir)
    config = load_config(project_dir, config_file, rule_names())
    return BackupSetup(config, open_store(config.backup.store, project_dir))


def project_url(
    project_dir: Path,
    *,
    database_url: str | None,
    schema_path: Path | None,
    environ: Mapping[str, str] | None = None,
) -> DatabaseUrl:
    """The URL as Prisma finds it (directUrl, else url), or ``database_url``; a direct connection
    (an exported snapshot and one restore transaction need a real session, not a pooler)."""
    from safemigrate.db.datasource import resolve_database_url
    from safemigrate.project import discover_project

    project = None
    if database_url is None:
        try:
            project = discover_project(project_dir, schema_path)
        except ProjectError as err:
            raise ProjectError(
                err.message, "Pass --database-url, or run in your Prisma project (--project DIR)."
            ) from err
    return resolve_database_url(project, database_url=database_url, environ=environ, for_migration=True)


def backup_database(
    project_dir: Path = Path("."),
    *,
    database_url: str | None = None,
    schema_path: Path | None = None,
    config_file: Path | None = None,
    tables: Sequence[str] | None = None,
    reason: Reason | None = None,
    jobs: int | None = None,
    verify: bool = False,
    progress: BackupProgressCallback | None = None,
    environ: Mapping[str, str] | None = None,
) -> TakenBackup:
    """``safemigrate backup``: back up the project's database into its store (then, with ``verify``,
    restore it into a scratch database and mark it verified)."""
    setup = backup_setup(project_dir, config_file)
    url = project_url(project_dir, database_url=database_url, schema_path=schema_path, environ=environ)
    if reason is not None:  # kept in the manifest and shown by list and the dashboard: never a password
        reason = dataclasses.replace(reason, text=redact_url(reason.text))
    setup.store.check()
    with setup.store.staging() as local:
        taken = backup_tables(
            url,
            local,
            settings=setup.config.database,
            tables=tables,
            reason=reason,
            jobs=jobs,
            project_dir=project_dir,
            progress=progress,
        )
        manifest = taken.manifest
        setup.store.publish(local, manifest)
    verification = None
    if verify:
        try:
            verification = verify_backup(url, setup.store, manifest, settings=setup.config.database)
        except KeyboardInterrupt as interrupt:
            saved = f"Backup {manifest.id} is saved in {setup.store.location}, but not verified"
            raise with_outcome(interrupt, f"{saved} (`backups list` shows it so).") from None
        manifest = verification.manifest
    return TakenBackup(manifest, setup.store.location, verification, taken.skipped_partitioned)


@dataclass(frozen=True)
class ScopedBackup:
    scope: BackupScope
    taken: TakenBackup | None  # None when the pending migrations touch no existing table
    everything: bool  # the scope could not be read whole, so every table was backed up


def backup_pending_scope(
    project_dir: Path = Path("."),
    *,
    database_url: str | None = None,
    schema_path: Path | None = None,
    migrations_dir: Path | None = None,
    config_file: Path | None = None,
    reason_text: str = "",
    jobs: int | None = None,
    verify: bool = False,
    progress: BackupProgressCallback | None = None,
) -> ScopedBackup:
    """``backup --scope-from-migrations``: back up what the pending migrations touch (see
    :mod:`safemigrate.backup.scope`), as a pre-migrate backup naming them. When a pending statement
    could not be read, what it touches is unknown: every table is backed up instead."""
    from safemigrate.backup.scope import backup_scope

    scope = backup_scope(
        project_dir,
        database_url=database_url,
        schema_path=schema_path,
        migrations_dir=migrations_dir,
        config_file=config_file,
    )
    everything = bool(scope.unread)
    if scope.empty and not everything:
        return ScopedBackup(scope, None, False)
    taken = backup_database(
        project_dir,
        database_url=database_url,
        schema_path=schema_path,
        config_file=config_file,
        tables=None if everything else scope.tables,
        reason=Reason("pre-migrate", reason_text, scope.migrations),
        jobs=jobs,
        verify=verify,
        progress=progress,
    )
    return ScopedBackup(scope, taken, everything)


def project_backups(project_dir: Path = Path("."), *, config_file: Path | None = None) -> BackupListing:
    """``safemigrate backups list``: the store's backups, oldest first (``unreadable``: those whose
    manifest cannot be read)."""
    return backup_setup(project_dir, config_file).store.list()


def prune_backups(
    project_dir: Path = Path("."),
    *,
    config_file: Path | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    on_finished: Callable[[str], None] | None = None,
    on_removed: Callable[[Manifest], None] | None = None,
    on_abandoned: Callable[[UnfinishedBackup], None] | None = None,
) -> PrunePlan:
    """``safemigrate backups prune``: first finish the deletes an interrupted prune left (each id to
    ``on_finished`` once gone) and remove the backups whose process died before they were published
    (each to ``on_abandoned``), then apply ``[backup.retention]`` and remove what it does not keep
    (each to ``on_removed`` once gone, so an interrupted prune has told what it removed). With
    ``dry_run`` nothing is removed and no callback is called. The backups of runs that ``rollback``
    may still undo are always kept (:func:`~safemigrate.backup.retention.protected_backups`); a backup
    still being taken, or one whose state cannot be known (S3), is never touched."""
    setup = backup_setup(project_dir, config_file)
    interrupted = setup.store.unfinished_deletes()
    if not dry_run:
        for backup_id in interrupted:
            setup.store.finish_delete(backup_id)
            if on_finished is not None:
                on_finished(backup_id)
    protected = protected_backups(setup.store.list_runs())
    listing = setup.store.list()
    unfinished = listing.unfinished
    if not dry_run:
        reported = []
        for partial in unfinished:
            if partial.state != "abandoned":
                reported.append(partial)  # left alone, and said so
            elif setup.store.remove_abandoned(partial.id):  # False: published or removed meanwhile
                reported.append(partial)
                if on_abandoned is not None:
                    on_abandoned(partial)
        unfinished = tuple(reported)
    plan = plan_prune(listing, setup.config.backup.retention, now or datetime.now(timezone.utc), protected)
    if not dry_run:
        for manifest in plan.removed:
            setup.store.delete(manifest.id)
            if on_removed is not None:
                on_removed(manifest)
    return dataclasses.replace(plan, finished=interrupted, unfinished=unfinished)


# Prisma's migration history: which migrations the tables' structure has been through.
PRISMA_HISTORY = "_prisma_migrations"


@dataclass(frozen=True)
class ProjectRestore(RestoreResult):
    """``restore``'s result, and what the command chose around it."""

    # The database the backup was taken of, when another than the target (named with --to-url); "" otherwise.
    taken_of: str = ""
    # Tables of the backup a full restore left out on purpose: _prisma_migrations when the target has it.
    left_out: tuple[str, ...] = ()


def restore_database(
    project_dir: Path = Path("."),
    *,
    backup_id: str | None = None,
    at: datetime | None = None,
    tables: Sequence[str] | None = None,
    to_url: str | None = None,
    database_url: str | None = None,
    schema_path: Path | None = None,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> ProjectRestore:
    """``safemigrate restore``: restore backup ``backup_id``, else the newest at or before ``at``, else
    the newest, into the project's database, or into ``to_url``.

    ``--latest``/``--at`` choose among the backups of the target database only (one store may hold
    staging's and prod's); a backup of another database is restored only into a database named with
    ``to_url``. A full restore into a database that has ``_prisma_migrations`` leaves that table out:
    the restore brings back rows, not the tables' structure (a column a migration added stays), so
    the history must keep saying which migrations that structure went through, or Prisma would
    re-run them. Named in ``tables``, it is restored; into a database without it, it is recreated."""
    from safemigrate.db.url import parse_database_url

    setup = backup_setup(project_dir, config_file)
    if to_url is not None:
        url = parse_database_url(to_url, source="--to-url").require_direct()
    else:
        url = project_url(project_dir, database_url=database_url, schema_path=schema_path, environ=environ)
    manifest = choose_backup(
        setup.store.list(),
        backup_id=backup_id,
        at=at,
        location=setup.store.location,
        database=url.display(),
        other_database=to_url is not None,
    )
    left_out: tuple[str, ...] = ()
    if tables is None and manifest.table(PRISMA_HISTORY) is not None and _has_table(url, setup, PRISMA_HISTORY):
        left_out = (PRISMA_HISTORY,)
        tables = [t.name for t in manifest.tables if t.name != PRISMA_HISTORY]
        if not tables:
            raise InputError(
                f"Backup {manifest.id} holds only {PRISMA_HISTORY}, which a full restore leaves as it is in a "
                "database that has it.",
                f"Name it to restore it all the same: --tables {PRISMA_HISTORY}.",
            )
    with setup.store.fetch(manifest.id) as local:
        result = restore_backup(url, local, backup_id=manifest.id, tables=tables, settings=setup.config.database)
    taken_of = "" if same_database(manifest, url.display()) else manifest.database
    fields = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    return ProjectRestore(**fields, taken_of=taken_of, left_out=left_out)


def _has_table(url: DatabaseUrl, setup: BackupSetup, name: str) -> bool:
    """Whether the URL's schema has the ordinary table ``name`` (read before the restore's transaction)."""
    from safemigrate.backup.ddl import schema_tables
    from safemigrate.db.connect import connect, database_errors

    settings = setup.config.database
    with connect(url, command="restore", settings=settings) as conn, database_errors(url, settings):
        return name in schema_tables(conn, url.schema)
