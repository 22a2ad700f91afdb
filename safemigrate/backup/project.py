"""The commands' library functions: find the project's database URL, configuration and store, then
take, list or restore backups. Typed arguments in, frozen dataclasses out; nothing printed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from safemigrate.backup.manifest import Manifest, Reason
from safemigrate.backup.restore import RestoreResult, restore_backup
from safemigrate.backup.retention import PrunePlan, plan_prune
from safemigrate.backup.scope import BackupScope
from safemigrate.backup.select import choose_backup
from safemigrate.backup.store import BackupListing
from safemigrate.backup.stores import BackupStore, open_store
from safemigrate.backup.take import BackupProgressCallback, backup_tables
from safemigrate.backup.verify import Verification, verify_backup
from safemigrate.config import Config, load_config
from safemigrate.db.url import DatabaseUrl
from safemigrate.errors import ProjectError


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

    if not project_dir.is_dir():
        raise ProjectError(
            f"The project directory {project_dir} does not exist.", "Pass an existing folder with --project."
        )
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
        verification = verify_backup(url, setup.store, manifest, settings=setup.config.database)
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

    scope = backup_scope(project_dir, database_url=database_url, schema_path=schema_path, config_file=config_file)
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
) -> PrunePlan:
    """``safemigrate backups prune``: apply ``[backup.retention]``; remove what it does not keep
    (nothing with ``dry_run``)."""
    setup = backup_setup(project_dir, config_file)
    protected = {
        str(run["backup_id"]): f"backup of applied run {run['id']} (what `rollback` restores)"
        for run in setup.store.list_runs()
        if run.get("verdict") == "applied" and run.get("backup_id")
    }
    plan = plan_prune(setup.store.list(), setup.config.backup.retention, now or datetime.now(timezone.utc), protected)
    if not dry_run:
        for manifest in plan.removed:
            setup.store.delete(manifest.id)
    return plan


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
) -> RestoreResult:
    """``safemigrate restore``: restore backup ``backup_id``, else the newest at or before ``at``, else
    the newest, into the project's database, or into ``to_url``."""
    from safemigrate.db.url import parse_database_url

    setup = backup_setup(project_dir, config_file)
    if to_url is not None:
        url = parse_database_url(to_url, source="--to-url").require_direct()
    else:
        url = project_url(project_dir, database_url=database_url, schema_path=schema_path, environ=environ)
    manifest = choose_backup(setup.store.list(), backup_id=backup_id, at=at, location=setup.store.location)
    with setup.store.fetch(manifest.id) as local:
        return restore_backup(url, local, backup_id=manifest.id, tables=tables, settings=setup.config.database)
