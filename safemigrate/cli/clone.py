"""`safemigrate clone --to URL`: copy the database (or --tables) into another one, masking on the way."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from safemigrate.cli.common import (
    ConfigOption,
    DatabaseUrlOption,
    ProjectOption,
    SchemaOption,
    plural,
    refuse_off_terminal,
    table_names,
)

if TYPE_CHECKING:
    from safemigrate.backup.take import BackupProgress
    from safemigrate.staging import ClonePlan


def _confirm(plan: ClonePlan) -> bool:
    from safemigrate.report.counts import first_names

    shown = first_names(plan.tables, 10)
    what = f"table{'s' if len(plan.tables) != 1 else ''} {shown}"
    masks = (
        ", ".join(
            f"{m.label}={m.rule}" + (f" (from {m.inherited_from})" if m.inherited_from else "") for m in plan.masks
        )
        or "none"
    )
    typer.echo(f"Clone {what} of {plan.source} into {plan.target} (masks: {masks}).", err=True)
    if plan.skipped_partitioned:
        typer.echo(f"Left out (partitioned, not supported yet): {', '.join(plan.skipped_partitioned)}.", err=True)
    return typer.confirm(f"Replace the rows of those tables in {plan.target}?", err=True)


def _progress(event: BackupProgress) -> None:
    typer.echo(f'clone: read "{event.table}" ({event.index}/{event.count}): {plural(event.rows, "row")}', err=True)


def clone(
    to: Annotated[str, typer.Option("--to", show_default=False, help="The target database's URL. Never printed.")],
    tables: Annotated[
        Optional[str],  # noqa: UP045 - typer reads annotations at runtime, on Python 3.10 too
        typer.Option(
            "--tables",
            help=(
                "Comma-separated table names, a name holding a comma in double quotes (default: every table of "
                "the schema)."
            ),
        ),
    ] = None,
    mask: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--mask",
            # "\\[": typer renders help as Rich markup, which would take "[clone]" for a style tag.
            help="Table.column=RULE (email, name, phone, hash, null); repeatable; adds to \\[clone] masks.",
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    database_url: DatabaseUrlOption = None,
    project: ProjectOption = Path("."),
    schema: SchemaOption = None,
    config: ConfigOption = None,
) -> None:
    """Copy the project's database (or --tables) into another database through a backup and a verified
    restore; --mask replaces personal data with deterministic fakes in the same transaction."""
    from safemigrate.staging import clone_database, parse_mask_option

    masks = dict(parse_mask_option(text) for text in mask or [])
    names = table_names(tables, "clone every table of the schema")
    refuse_off_terminal(yes, "A clone replaces the target's tables")
    result = clone_database(
        project,
        to_url=to,
        tables=names,
        masks=masks,
        database_url=database_url,
        schema_path=schema,
        config_file=config,
        confirm=None if yes else _confirm,
        progress=_progress,
    )
    for table in result.tables:
        how = "created" if table.created else "replaced"
        typer.echo(f'clone: "{table.name}": {plural(table.rows, "row")} ({how})', err=True)
        for warning in table.warnings:
            typer.echo(f"warning: {warning}", err=True)
    for column in result.masked:
        # a table inheriting a masked table's column gets its mask: say where it comes from
        how = column.rule + (f", inherited from {column.inherited_from}" if column.inherited_from else "")
        typer.echo(f"clone: masked {column.table}.{column.column} ({how}): {column.values:,} values", err=True)
    if result.skipped_partitioned:
        typer.echo(
            "clone: left out partitioned tables (not supported yet): " + ", ".join(result.skipped_partitioned),
            err=True,
        )
    count = len(result.tables)
    typer.echo(
        f"Cloned {result.source} into {result.target}: {count} table{'s' if count != 1 else ''}, "
        f"{plural(result.rows, 'row')}, counts and fingerprints match"
        + (
            f", then {len(result.masked)} column{'s' if len(result.masked) != 1 else ''} masked"
            if result.masked
            else ""
        )
        + f", in {result.seconds:.1f} s"
    )
