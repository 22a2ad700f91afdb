"""`safemigrate status`: every migration as applied / pending / failed / rolled back / edited / missing locally."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from safemigrate import __version__
from safemigrate.cli.common import (
    ConfigOption,
    DatabaseUrlOption,
    MigrationsOption,
    ProjectOption,
    SchemaOption,
    TextOrJson,
    use_color,
)
from safemigrate.errors import EXIT_CHECK_FAILED

Format = TextOrJson


def status(
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.text,
    database_url: DatabaseUrlOption = None,
    project: ProjectOption = Path("."),
    schema: SchemaOption = None,
    migrations: MigrationsOption = None,
    config: ConfigOption = None,
) -> None:
    """Compare the migrations folder with _prisma_migrations, like `prisma migrate status` (exit 1 when not in sync)."""
    from safemigrate.status import status as read_status

    report = read_status(
        project, schema_path=schema, migrations_dir=migrations, database_url=database_url, config_file=config
    )
    if fmt is Format.json:
        from safemigrate.report.status_json import render_status_json

        typer.echo(render_status_json(report, __version__, pretty=sys.stdout.isatty()))
    else:
        from safemigrate.report.status_text import render_status_text

        typer.echo(render_status_text(report, color=use_color()))
    if not report.in_sync:
        raise typer.Exit(EXIT_CHECK_FAILED)
