"""`safemigrate validate`: integrity checks on the live database and drift against the migrations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from safemigrate.db.drift import DriftReport
from safemigrate.db.integrity import IntegrityReport


@dataclass(frozen=True)
class ValidateReport:
    database: str  # redacted
    integrity: IntegrityReport
    drift: DriftReport | None  # None when drift was not checked

    @property
    def failed(self) -> bool:
        return self.integrity.problems > 0 or (self.drift is not None and self.drift.drifted)


def validate(
    project_dir: Path = Path("."),
    *,
    schema_path: Path | None = None,
    migrations_dir: Path | None = None,
    database_url: str | None = None,
    shadow_url: str | None = None,
    config_file: Path | None = None,
    check_drift: bool = True,
    environ: Mapping[str, str] | None = None,
) -> ValidateReport:
    """Check the project's database (found as Prisma finds it); reads only, except the throwaway replay."""
    from safemigrate.config import load_config
    from safemigrate.db.connect import connect, database_errors
    from safemigrate.db.datasource import resolve_database_url
    from safemigrate.db.drift import check_drift as drift_check
    from safemigrate.db.integrity import check_integrity
    from safemigrate.db.prisma_migrations import read_migration_rows
    from safemigrate.db.url import parse_database_url
    from safemigrate.lint.registry import rule_names
    from safemigrate.migrations import list_migrations
    from safemigrate.project import discover_project

    config = load_config(project_dir, config_file, rule_names())
    project = discover_project(project_dir, schema_path, migrations_dir)
    url = resolve_database_url(project, database_url=database_url, environ=environ, for_migration=False)
    shadow = parse_database_url(shadow_url, source="--shadow-url") if shadow_url else None
    with connect(url, command="validate", settings=config.database) as conn, database_errors(url, config.database):
        integrity = check_integrity(conn, (url.schema,))
        drift = None
        if check_drift:
            migrations = list_migrations(project.migrations_dir)
            rows = read_migration_rows(conn, url.schema)
            drift = drift_check(conn, url, migrations, rows, config.database, shadow)
    return ValidateReport(url.redacted(), integrity, drift)
