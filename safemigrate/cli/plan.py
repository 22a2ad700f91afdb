"""`safemigrate plan`: what `migrate` would do, read only: pending migrations, findings weighed by live
table sizes, preflight data checks, sessions in the way, backup scope, clone (exit 1 when a check
predicts a failure)."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from safemigrate import __version__
from safemigrate.cli.common import (
    ConfigOption,
    DatabaseUrlOption,
    MigrationsOption,
    ProjectOption,
    SchemaOption,
    use_color,
)
from safemigrate.errors import EXIT_CHECK_FAILED


class Format(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


def plan(
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.text,
    large_table_rows: Annotated[
        Optional[int],  # noqa: UP045 - typer reads annotations at runtime, on Python 3.10 too
        typer.Option("--large-table-rows", min=1, help="Lock findings on tables this big become errors."),
    ] = None,
    check_budget: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option("--check-budget", min=0.001, help="Seconds the preflight data checks may take in total."),
    ] = None,
    database_url: DatabaseUrlOption = None,
    project: ProjectOption = Path("."),
    schema: SchemaOption = None,
    migrations: MigrationsOption = None,
    config: ConfigOption = None,
) -> None:
    """Show what `migrate` would do and check the live data it would meet (read only; exit 1 when it would fail)."""
    from safemigrate.plan.build import plan_migrations

    result = plan_migrations(
        project,
        database_url=database_url,
        schema_path=schema,
        migrations_dir=migrations,
        config_file=config,
        large_table_rows=large_table_rows,
        check_budget=check_budget,
    )
    if fmt is Format.json:
        from safemigrate.report.plan_json import render_plan_json

        typer.echo(render_plan_json(result, __version__, pretty=sys.stdout.isatty()))
    elif fmt is Format.markdown:
        from safemigrate.report.plan_markdown import render_plan_markdown

        typer.echo(render_plan_markdown(result, __version__))
    else:
        from safemigrate.report.plan_text import render_plan_text

        typer.echo(render_plan_text(result, color=use_color()))
    if result.predicts_failure:
        raise typer.Exit(EXIT_CHECK_FAILED)
