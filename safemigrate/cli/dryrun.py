"""`safemigrate dry-run`: rehearse the pending migrations on a throwaway clone."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from safemigrate.cli.common import ConfigOption, DatabaseUrlOption, MigrationsOption, ProjectOption, SchemaOption
from safemigrate.errors import EXIT_CHECK_FAILED


class RehearsalFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


class CloneChoice(str, Enum):
    database = "database"
    embedded = "embedded"
    url = "url"
    container = "container"
    neon = "neon"


CloneOption = Annotated[
    Optional[CloneChoice],  # noqa: UP045 - typer reads annotations at runtime, on Python 3.10 too
    typer.Option("--clone", help="Where to rehearse (default: the dry_run.clone setting, else database)."),
]
CloneUrlOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--clone-url", show_default=False, help="The throwaway database for --clone url (wiped). Never printed."
    ),
]


def dry_run(
    clone: CloneOption = None,
    clone_url: CloneUrlOption = None,
    local: Annotated[
        bool,
        typer.Option("--local", help="Replay the whole history on a local server, without the project's database."),
    ] = False,
    cleanup: Annotated[
        bool,
        typer.Option("--cleanup", help="Only drop clone databases that killed runs left on the target's server."),
    ] = False,
    fmt: Annotated[RehearsalFormat, typer.Option("--format", help="Output format.")] = RehearsalFormat.text,
    database_url: DatabaseUrlOption = None,
    project: ProjectOption = Path("."),
    schema: SchemaOption = None,
    migrations: MigrationsOption = None,
    config: ConfigOption = None,
) -> None:
    """Rehearse the pending migrations on a throwaway clone (or, with no database, the whole history
    on a local server); exit 1 when a migration would fail. The target is only read."""
    from safemigrate.pipeline.rehearse import cleanup_clones, rehearse
    from safemigrate.report.rehearsal import (
        render_rehearsal_json,
        render_rehearsal_markdown,
        render_rehearsal_text,
    )

    if cleanup:
        dropped = cleanup_clones(project, database_url=database_url, schema_path=schema, config_file=config)
        typer.echo(
            f"Dropped {len(dropped)} left-over clone database(s)" + (f": {', '.join(dropped)}" if dropped else ".")
        )
        return
    rehearsal = rehearse(
        project,
        database_url=database_url,
        schema_path=schema,
        migrations_dir=migrations,
        config_file=config,
        clone=clone.value if clone else None,
        clone_url=clone_url,
        local=local,
    )
    if fmt is RehearsalFormat.json:
        typer.echo(render_rehearsal_json(rehearsal, pretty=sys.stdout.isatty()))
    elif fmt is RehearsalFormat.markdown:
        typer.echo(render_rehearsal_markdown(rehearsal))
    else:
        typer.echo(render_rehearsal_text(rehearsal))
    if not rehearsal.ok:
        raise typer.Exit(EXIT_CHECK_FAILED)
