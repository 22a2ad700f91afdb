"""`safemigrate snapshot` and `safemigrate diff`: the database schema as a deterministic snapshot, and
the differences between two saved snapshots."""

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
    use_color,
)
from safemigrate.errors import EXIT_CHECK_FAILED, InputError

Format = TextOrJson


def snapshot(
    fmt: Annotated[Format, typer.Option("--format", help="Output format (json: what `diff` reads).")] = Format.text,
    output: Annotated[
        Optional[Path],  # noqa: UP045 - typer reads annotations at runtime, on Python 3.10 too
        typer.Option("--output", "-o", help="Write to this file instead of standard output."),
    ] = None,
    db_schemas: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--db-schema", help="PostgreSQL schema to describe (repeatable). Default: the URL's ?schema=."),
    ] = None,
    database_url: DatabaseUrlOption = None,
    project: ProjectOption = Path("."),
    schema: SchemaOption = None,
    migrations: MigrationsOption = None,
    config: ConfigOption = None,
) -> None:
    """Describe the database schema: tables, columns, constraints, indexes, enums, views, sequences, functions."""
    from safemigrate.db.catalog.project import snapshot_database

    taken = snapshot_database(
        project,
        schema_path=schema,
        migrations_dir=migrations,
        database_url=database_url,
        config_file=config,
        schemas=db_schemas or (),
    )
    if fmt is Format.json:
        from safemigrate.db.catalog.snapshot import snapshot_to_json

        text = snapshot_to_json(taken)
    else:
        from safemigrate.report.diff_text import render_snapshot_text

        text = render_snapshot_text(taken)
    if output is None:
        typer.echo(text)
        return
    try:
        output.write_text(text + "\n", encoding="utf-8")
    except OSError as err:
        raise InputError(f"Cannot write {output}: {err.strerror}.", "Check the --output path.") from err


def diff(
    before: Annotated[Path, typer.Argument(help="Snapshot file (from `safemigrate snapshot --format json`).")],
    after: Annotated[Path, typer.Argument(help="Snapshot file to compare it with.")],
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.text,
    data: Annotated[
        bool,
        typer.Option("--data", help="Also compare estimated row counts, table sizes and sequence positions."),
    ] = False,
) -> None:
    """List what changed between two saved snapshots (exit 1 when they differ)."""
    from safemigrate.db.diff import diff_snapshot_files

    result = diff_snapshot_files(before, after, data=data)
    if fmt is Format.json:
        import json

        from safemigrate.db.diff import diff_to_dict

        typer.echo(json.dumps(diff_to_dict(result), indent=2, ensure_ascii=False))
    else:
        from safemigrate.report.diff_text import render_diff_text

        typer.echo(render_diff_text(result, color=use_color()))
    if not result.equal:
        raise typer.Exit(EXIT_CHECK_FAILED)
