"""`safemigrate validate`: integrity and drift of the project's database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from safemigrate.cli.common import (
    ConfigOption,
    DatabaseUrlOption,
    MigrationsOption,
    ProjectOption,
    SchemaOption,
    TextOrJson,
)
from safemigrate.errors import EXIT_CHECK_FAILED

Format = TextOrJson


def validate(
    shadow_url: Annotated[
        Optional[str],  # noqa: UP045 - typer reads annotations at runtime, on Python 3.10 too
        typer.Option("--shadow-url", help="An empty database to replay the migrations on (default: a new one)."),
    ] = None,
    no_drift: Annotated[bool, typer.Option("--no-drift", help="Only the integrity checks, no replay.")] = False,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.text,
    database_url: DatabaseUrlOption = None,
    project: ProjectOption = Path("."),
    schema: SchemaOption = None,
    migrations: MigrationsOption = None,
    config: ConfigOption = None,
) -> None:
    """Check integrity (invalid indexes, NOT VALID constraints, orphans, sequences) and drift; exit 1 on any."""
    from safemigrate.report.validate_report import render_validate_json, render_validate_text
    from safemigrate.validate import validate as run_validate

    report = run_validate(
        project,
        schema_path=schema,
        migrations_dir=migrations,
        database_url=database_url,
        shadow_url=shadow_url,
        config_file=config,
        check_drift=not no_drift,
    )
    typer.echo(render_validate_json(report) if fmt is Format.json else render_validate_text(report))
    if report.failed:
        raise typer.Exit(EXIT_CHECK_FAILED)
