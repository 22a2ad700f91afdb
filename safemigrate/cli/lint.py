"""`safemigrate lint`: static analysis of migration SQL."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from safemigrate import api
from safemigrate.cli import lint_fast
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
    sarif = "sarif"
    github = "github"
    markdown = "markdown"


class FailOn(str, Enum):
    error = "error"
    warning = "warning"
    never = "never"


def lint(
    paths: Annotated[
        Optional[list[str]],  # noqa: UP045 - typer reads annotations at runtime, on Python 3.10 too
        typer.Argument(help="A .sql file, a migration folder or any directory. Default: the project's migrations."),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.text,
    fail_on: Annotated[
        Optional[FailOn],  # noqa: UP045
        typer.Option("--fail-on", help="Lowest severity that fails (exit 1). Default: from config, error."),
    ] = None,
    since: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--since", help="Only migrations added or changed since this git ref."),
    ] = None,
    pg_version: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--pg-version", help="PostgreSQL major version the migrations target."),
    ] = None,
    pending: Annotated[
        bool, typer.Option("--pending", help="Only the migrations the database has not applied (needs the database).")
    ] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Parse every file again (no parse cache).")] = False,
    database_url: DatabaseUrlOption = None,
    project: ProjectOption = Path("."),
    schema: SchemaOption = None,
    migrations: MigrationsOption = None,
    config: ConfigOption = None,
) -> None:
    """Lint migration SQL for destructive, failing, locking and breaking statements."""
    outcome = api.lint(
        paths or (),
        project_dir=project,
        schema=schema,
        migrations_dir=migrations,
        config_file=config,
        since=since,
        pg_version=pg_version,
        fail_on=fail_on.value if fail_on else None,
        use_cache=not no_cache,
        pending=pending,
        database_url=database_url,
    )
    typer.echo(render(outcome, fmt))
    if outcome.failed:
        raise typer.Exit(EXIT_CHECK_FAILED)


def render(outcome: api.LintOutcome, fmt: Format) -> str:
    return lint_fast.render(outcome, fmt.value, color=use_color())
