"""The commands' library functions: find the project's database URL, configuration and store, then
take, list or restore backups. Typed arguments in, frozen dataclasses out; nothing printed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from safemigrate.backup.manifest import Manifest, Reason
from safemigrate.backup.restore import RestoreResult, restore_backup
from safemigrate.backup.store import list_backups
from safemigrate.backup.take import BackupProgressCallback, take_backup
from safemigrate.config import Config, load_config
from safemigrate.db.url import DatabaseUrl
from safemigrate.errors import ProjectError


@dataclass(frozen=True)
class BackupSetup:
    config: Config
    store: Path


def backup_setup(project_dir: Path, config_file: Path | None) -> BackupSetup:
    """The configuration and the backup store (``[backup] store``, relative to the project directory)."""
    from safemigrate.lint.registry import rule_names

    if not project_dir.is_dir():
        raise ProjectError(
            f"The project directory {project_dir} does not exist.", "Pass an existing folder with --project."
        )
    config = load_config(project_dir, config_file, rule_names())
    store = Path(config.backup.store).expanduser()
    return BackupSetup(config, store if store.is_absolute() else project_dir / store)


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
    progress: BackupProgressCallback | None = None,
    environ: Mapping[str, str] | None = None,
) -> Manifest:
    """``safemigrate backup``: back up the project's database into its store."""
    setup = backup_setup(project_dir, config_file)
    url = project_url(project_dir, database_url=database_url, schema_path=schema_path, environ=environ)
    return take_backup(
        url,
        setup.store,
        settings=setup.config.database,
        tables=tables,
        reason=reason,
        jobs=jobs,
        project_dir=project_dir,
        progress=progress,
    )


def project_backups(project_dir: Path = Path("."), *, config_file: Path | None = None) -> tuple[Manifest, ...]:
    """``safemigrate backups list``: the store's backups, oldest first."""
    return list_backups(backup_setup(project_dir, config_file).store)


def restore_database(
    project_dir: Path = Path("."),
    *,
    backup_id: str | None = None,
    tables: Sequence[str] | None = None,
    to_url: str | None = None,
    database_url: str | None = None,
    schema_path: Path | None = None,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> RestoreResult:
    """``safemigrate restore``: restore a backup of the store (the newest when ``backup_id`` is None)
    into the project's database, or into ``to_url``."""
    from safemigrate.db.url import parse_database_url

    setup = backup_setup(project_dir, config_file)
    if to_url is not None:
        url = parse_database_url(to_url, source="--to-url").require_direct()
    else:
        url = project_url(project_dir, database_url=database_url, schema_path=schema_path, environ=environ)
    return restore_backup(url, setup.store, backup_id=backup_id, tables=tables, settings=setup.config.database)
