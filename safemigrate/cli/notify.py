"""`safemigrate notify check`: the scheduled check that the newest backup is recent enough."""

from __future__ import annotations

from pathlib import Path

import typer

from safemigrate.cli.common import ConfigOption, ProjectOption
from safemigrate.errors import EXIT_CHECK_FAILED

notify_app = typer.Typer(help="Webhook notifications.", no_args_is_help=True)


def check(project: ProjectOption = Path("."), config: ConfigOption = None) -> None:
    r"""Notify (backup_stale) when the newest backup is older than \[notifications] backup_max_age;
    exit 1 when it is, or when a webhook failed."""
    from safemigrate.notify.check import check_backup_age

    result = check_backup_age(project, config)
    if not result.configured:
        typer.echo("No [notifications] backup_max_age is set: nothing to check.")
        return
    for delivery in result.deliveries:
        typer.echo(delivery.describe(), err=not delivery.ok)
    typer.echo(result.stale.title if result.stale is not None else "The newest backup is recent enough.")
    if result.failed:
        raise typer.Exit(EXIT_CHECK_FAILED)


notify_app.command("check")(check)
