"""`safemigrate report --html DIR`: the static dashboard of runs, backups and lint findings."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from safemigrate.cli.common import ConfigOption, ProjectOption
from safemigrate.errors import InputError


def _days(days: float) -> timedelta:
    try:
        return timedelta(days=days)
    except (OverflowError, ValueError) as err:  # nan, inf, or past timedelta's 999,999,999 days
        raise InputError(
            f"--max-backup-age {days:g} is not a number of days safemigrate can use.",
            "Pass a number of days such as 7 or 0.5.",
        ) from err


def report(
    html: Annotated[
        Path,
        typer.Option("--html", help="Directory to write the dashboard into (index.html; created when missing)."),
    ],
    max_backup_age: Annotated[
        float,
        typer.Option("--max-backup-age", min=0, help="Days after which the newest backup turns the status amber."),
    ] = 7.0,  # DEFAULT_MAX_BACKUP_AGE; the dashboard module (jinja2) is imported only when the command runs
    project: ProjectOption = Path("."),
    config: ConfigOption = None,
) -> None:
    """Write a static HTML dashboard of the runs, backups (age, verification, retention) and lint
    findings, under a red/amber/green status. Reads the backup store and the migration files only."""
    from safemigrate.report.dashboard import build_dashboard, write_dashboard

    dashboard = build_dashboard(project, config, max_backup_age=_days(max_backup_age))
    written = write_dashboard(dashboard, html)
    typer.echo(f"Dashboard written to {written} (status: {dashboard.status.level}).")
    for reason in dashboard.status.reasons:
        typer.echo(f"  {reason.level}: {reason.text}")
