"""`safemigrate plan`: what `migrate` would do, read only against the target.

The stages, in order: status (which migrations are pending), ``lint --pending`` (their findings and
transaction shapes), the live catalog (table sizes re-weigh lock findings), the preflight data
checks, the sessions a migration would queue behind, and the backup scope. Nothing is written: the
checks run in READ ONLY transactions, the rest reads the catalog.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from safemigrate.lint.findings import Finding
from safemigrate.migrations import Migration
from safemigrate.plan import model as pm
from safemigrate.plan.settings import PlanSettings
from safemigrate.plan.targets import TableKey, Target
from safemigrate.sql.types import type_name

if TYPE_CHECKING:
    from safemigrate.backup.scope import BackupScope
    from safemigrate.db.url import DatabaseUrl


def plan_migrations(
    project_dir: Path = Path("."),
    *,
    database_url: str | None = None,
    schema_path: Path | None = None,
    migrations_dir: Path | None = None,
    config_file: Path | None = None,
    settings: PlanSettings | None = None,
    large_table_rows: int | None = None,
    check_budget: float | None = None,
    environ: Mapping[str, str] | None = None,
    one_transaction: bool | None = None,
) -> pm.Plan:
    """The plan for the project's pending migrations against its database (found as Prisma finds it).
    ``one_transaction``: whether they will be applied in one transaction, when the caller knows."""
    from safemigrate.api import lint
    from safemigrate.config import load_config
    from safemigrate.db.connect import connect, database_errors
    from safemigrate.db.datasource import resolve_database_url
    from safemigrate.lint.registry import rule_names
    from safemigrate.lint.rule import Severity
    from safemigrate.migrations import list_migrations
    from safemigrate.project import discover_project
    from safemigrate.status import FAILED, ROLLED_BACK, status

    config = load_config(project_dir, config_file, rule_names())
    settings = settings or config.plan
    if large_table_rows is not None:
        settings = dataclasses.replace(settings, large_table_rows=large_table_rows)
    if check_budget is not None:
        settings = dataclasses.replace(settings, check_budget=check_budget)
    project = discover_project(project_dir, schema_path, migrations_dir)
    url = resolve_database_url(project, database_url=database_url, environ=environ, for_migration=False)
    report = status(
        project_dir,
        schema_path=schema_path,
        migrations_dir=migrations_dir,
        database_url=database_url,
        config_file=config_file,
        environ=environ,
    )
    failed = tuple(m.name for m in report.named(FAILED))
    outcome = lint(
        project_dir=project_dir,
        schema=schema_path,
        migrations_dir=migrations_dir,
        config_file=config_file,
        pending=True,
        database_url=database_url,
        one_transaction=one_transaction,
        every_rule=True,  # the backup scope is read from every rule's findings
    )
    # What the plan shows: the rules the config turned off stay hidden.
    disabled = {name for name, severity in config.lint.severities.items() if severity is Severity.OFF}
    shown = tuple(f for f in outcome.result.findings if f.rule not in disabled)
    hidden_data_loss = tuple(
        f for f in outcome.result.findings if f.rule in disabled and f.category.value == "data-loss" and f.active
    )
    files = {f.migration: f.file for f in outcome.result.files}
    states = {m.name: m.state for m in report.migrations}
    migrations = tuple(
        pm.PlannedMigration(
            f.migration,
            f.file,
            ROLLED_BACK if states.get(f.migration) == ROLLED_BACK else "pending",
            f.statements,
            f.transaction,
        )
        for f in outcome.result.files
    )
    local = list_migrations(project.migrations_dir)
    pending = [m for m in local if m.name in files]
    default_schema = url.schema
    with connect(url, command="plan", settings=config.database) as conn, database_errors(url, config.database):
        _refuse_like_migrate(conn, local, url, failed)
        return _plan_on(
            conn,
            pending=pending,
            files=files,
            findings=shown,
            scope_findings=outcome.result.findings,
            hidden_data_loss=hidden_data_loss,
            migrations=migrations,
            settings=settings,
            schema=default_schema,
            database=url.redacted(),
            failed=failed,
        )


def _refuse_like_migrate(
    conn: psycopg.Connection[Any], local: tuple[Migration, ...], url: DatabaseUrl, failed: tuple[str, ...]
) -> None:
    """Raise the MigrationHistoryError with which `migrate` would refuse this history (a schema to
    baseline first, P3005; an applied migration edited since), by `migrate`'s own decision. A
    migration recorded as failed (P3009) is not raised: the plan shows it and predicts the failure."""
    from safemigrate.errors import MigrationHistoryError
    from safemigrate.pipeline.rehearse import deployable_pending

    try:
        deployable_pending(local, conn, url.schema, url)
    except MigrationHistoryError:
        if not failed:
            raise


def _plan_on(
    conn: psycopg.Connection[Any],
    *,
    pending: list[Migration],
    files: Mapping[str, str],
    findings: tuple[Finding, ...],
    scope_findings: tuple[Finding, ...],
    hidden_data_loss: tuple[Finding, ...],
    migrations: tuple[pm.PlannedMigration, ...],
    settings: PlanSettings,
    schema: str,
    database: str,
    failed: tuple[str, ...],
) -> pm.Plan:
    from safemigrate.plan.checks import run_checks
    from safemigrate.plan.live_context import read_blockers, read_enum_labels, read_live_context
    from safemigrate.plan.severity import adjust_findings
    from safemigrate.plan.targets import find_targets

    targets = find_targets(pending, files, schema)
    tables = _affected_tables(targets, findings, schema)
    live = read_live_context(conn, tables)
    enums = read_enum_labels(conn, _enum_types(targets, schema))
    adjusted = adjust_findings(findings, live.tables, settings, schema)
    checks = run_checks(conn, targets, live, enums, settings, schema)
    blockers = tuple(read_blockers(conn, live.tables, settings.long_transaction)) if pending else ()
    scope = _backup_scope(conn, schema, scope_findings, pending)
    return pm.Plan(
        database=database,
        schema=schema,
        server_version=live.server_version,
        migrations=migrations,
        findings=adjusted,
        checks=checks,
        blockers=blockers,
        backup_scope=scope,
        clone=settings.clone,
        settings=settings,
        failed_migrations=failed,
        created_at=dt.datetime.now(dt.timezone.utc),
        hidden_data_loss=hidden_data_loss,
    )


def _affected_tables(targets: Iterable[Target], findings: Iterable[Finding], schema: str) -> set[TableKey]:
    """Tables the pending statements name, as they are called today (findings name them at their statement)."""
    tables = {t.live_table for t in targets}
    tables |= {t.parent for t in targets if t.parent is not None}
    tables |= {(f.object.schema or schema, f.object.table) for f in findings if f.object.table is not None}
    return tables


def _enum_types(targets: Iterable[Target], schema: str) -> set[TableKey]:
    return {
        (type_name(t.new_type).schema or t.table.schema or schema, t.new_type.base)
        for t in targets
        if t.new_type is not None and t.new_type.user_defined and t.enum_labels is None
    }


def _backup_scope(
    conn: psycopg.Connection[Any], schema: str, findings: tuple[Finding, ...], pending: list[Migration]
) -> BackupScope:
    """The tables `migrate` would back up first (safemigrate.backup.scope, the same as
    `backup --scope-from-migrations`)."""
    from safemigrate.backup.scope import scope_of

    return scope_of(conn, schema=schema, findings=findings, pending=pending, default_schema=schema)
