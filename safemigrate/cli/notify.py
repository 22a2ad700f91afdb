"""`safemigrate notify check`: the scheduled check that the newest backup is recent enough."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from safemigrate.cli.common import ConfigOption, ProjectOption
from safemigrate.errors import EXIT_CHECK_FAILED

notify_app = typer.Typer(help="Webhook notifications.", no_args_is_help=True)


def check(project: ProjectOption = Path("."), config: ConfigOption = None) -> None:
    """Notify (backup_stale) when the newest backup is older than [notifications] backup_max_age;
    exit 1 when it is, or when a webhook failed."""
    from safemigrate.backup.project import backup_setup
    from safemigrate.notify.events import stale_backup_event
    from safemigrate.notify.send import notify_stale_backups

    setup = backup_setup(project, config)
    settings = setup.config.notifications
    if settings.backup_max_age is None:
        typer.echo("No [notifications] backup_max_age is set: nothing to check.")
        return
    from datetime import datetime, timezone

    backups = setup.store.list()
    stale = stale_backup_event(backups, settings.backup_max_age, datetime.now(timezone.utc), store=setup.store.location)
    deliveries = notify_stale_backups(backups, settings, os.environ, store=setup.store.location)
    for delivery in deliveries:
        typer.echo(delivery.describe(), err=not delivery.ok)
    if stale is None:
        typer.echo("The newest backup is recent enough.")
    else:
        typer.echo(stale.title)
    if stale is not None or any(not d.ok for d in deliveries):
        raise typer.Exit(EXIT_CHECK_FAILED)


notify_app.command("check")(check)
