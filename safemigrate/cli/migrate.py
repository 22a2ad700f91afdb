"""`safemigrate migrate`: the safe pipeline (lint, back up, rehearse, apply all-or-nothing, verify)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from safemigrate.cli.common import ConfigOption, DatabaseUrlOption, MigrationsOption, ProjectOption, SchemaOption
from safemigrate.cli.dryrun import CloneChoice, RehearsalFormat
from safemigrate.errors import EXIT_CHECK_FAILED, InputError

CATEGORIES = ("data-loss", "may-fail", "lock", "breaking", "unchecked", "style")


def migrate(
    allow: Annotated[
        Optional[str],  # noqa: UP045 - typer reads annotations at runtime, on Python 3.10 too
        typer.Option("--allow", help="Comma-separated finding categories to accept, e.g. data-loss,may-fail."),
    ] = None,
    skip_dry_run: Annotated[
        bool, typer.Option("--skip-dry-run", help="Apply without rehearsing on a clone first (recorded).")
    ] = False,
    clone: Annotated[
        Optional[CloneChoice],  # noqa: UP045
        typer.Option("--clone", help="Where to rehearse (default: the dry_run.clone setting, else database)."),
    ] = None,
    clone_url: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--clone-url", show_default=False, help="The throwaway database for --clone url. Never printed."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation (CI).")] = False,
    fmt: Annotated[RehearsalFormat, typer.Option("--format", help="Output format.")] = RehearsalFormat.text,
    database_url: DatabaseUrlOption = None,
    project: ProjectOption = Path("."),
    schema: SchemaOption = None,
    migrations: MigrationsOption = None,
    config: ConfigOption = None,
) -> None:
    """Apply the pending migrations safely: lint, back up, rehearse on a clone, apply all-or-nothing,
    verify, or roll back by itself. Exit 1 when refused, failed or rolled back."""
    from safemigrate.pipeline.migrate import Stage
    from safemigrate.pipeline.migrate import migrate as run_migrate
    from safemigrate.report.run import render_run_json, render_run_markdown, render_run_text, stage_line

    allowed = tuple(a.strip() for a in (allow or "").split(",") if a.strip())
    unknown = [a for a in allowed if a not in CATEGORIES]
    if unknown:
        raise InputError(f"--allow {unknown[0]!r} is not a finding category.", f"Use {', '.join(CATEGORIES)}.")
    if not yes:
        if not sys.stdin.isatty():
            raise InputError("migrate changes the database: refusing without --yes when not run on a terminal.")
        typer.confirm("Apply the pending migrations to the project's database?", abort=True, err=True)

    def progress(stage: Stage) -> None:
        typer.echo(stage_line(stage), err=True)

    run = run_migrate(
        project,
        database_url=database_url,
        schema_path=schema,
        migrations_dir=migrations,
        config_file=config,
        allow=allowed,
        skip_dry_run=skip_dry_run,
        clone=clone.value if clone else None,
        clone_url=clone_url,
        progress=progress,
    )
    if fmt is RehearsalFormat.json:
        typer.echo(render_run_json(run, pretty=sys.stdout.isatty()))
    elif fmt is RehearsalFormat.markdown:
        typer.echo(render_run_markdown(run))
    else:
        typer.echo(render_run_text(run, stages=False))
    if not run.ok:
        raise typer.Exit(EXIT_CHECK_FAILED)
