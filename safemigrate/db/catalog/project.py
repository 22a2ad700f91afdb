"""The snapshot of a project's database: the library behind ``safemigrate snapshot``."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from safemigrate.db.catalog.snapshot import Snapshot, take_snapshot


def snapshot_database(
    project_dir: Path = Path("."),
    *,
    schema_path: Path | None = None,
    migrations_dir: Path | None = None,
    database_url: str | None = None,
    config_file: Path | None = None,
    schemas: Sequence[str] = (),
    exclude_tables: Collection[str] = (),
    environ: Mapping[str, str] | None = None,
) -> Snapshot:
    """Snapshot the database of ``--database-url``, else of the project's datasource (found as Prisma finds it).

    ``schemas`` defaults to the URL's ``?schema=`` (``public`` when it has none). Read only; the
    session is named ``safemigrate/snapshot`` and has the configured lock and statement timeouts.
    """
    from safemigrate.config import load_config
    from safemigrate.db.connect import connect, database_errors
    from safemigrate.db.datasource import resolve_database_url
    from safemigrate.lint.registry import rule_names
    from safemigrate.project import discover_project

    config = load_config(project_dir, config_file, rule_names())
    project = None if database_url is not None else discover_project(project_dir, schema_path, migrations_dir)
    url = resolve_database_url(project, database_url=database_url, environ=environ, for_migration=False)
    with connect(url, command="snapshot", settings=config.database) as conn, database_errors(url, config.database):
        return take_snapshot(conn, tuple(schemas) or (url.schema,), exclude_tables=exclude_tables)
