"""`safemigrate fingerprint`: row counts and order-independent hashes of the data, per table and column."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from safemigrate import __version__
from safemigrate.cli.common import (
    ConfigOption,
    DatabaseUrlOption,
    ProjectOption,
    SchemaOption,
    TextOrJson,
    table_names,
)

if TYPE_CHECKING:
    from safemigrate.db.fingerprint import FingerprintProgress, FingerprintRun, ProgressCallback

BIG_TABLE_BYTES = 64 << 20  # plain progress lines (CI, no terminal) only for tables at least this big


class Mode(str, Enum):
    fast = "fast"
    full = "full"


Format = TextOrJson


def fingerprint(
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
    mode: Annotated[Mode, typer.Option("--mode", help="fast: counts only; full: counts and hashes.")] = Mode.full,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.text,
    database_url: DatabaseUrlOption = None,
    project: ProjectOption = Path("."),
    schema: SchemaOption = None,
    config: ConfigOption = None,
) -> None:
    """Count and hash the data of the schema's tables (read only), to compare before and after a change."""
    from safemigrate.db.fingerprint import fingerprint_database

    names = table_names(tables, "fingerprint every table of the schema")
    with progress_display() as progress:
        run = fingerprint_database(
            project,
            database_url=database_url,
            schema_path=schema,
            config_file=config,
            tables=names,
            mode=mode.value,
            progress=progress,
        )
    typer.echo(render_json(run) if fmt is Format.json else render_text(run))


def render_text(run: FingerprintRun) -> str:
    data = run.fingerprint
    lines = [
        f'Data fingerprint ({data.mode}) of schema "{data.schema}" at {run.database}: '
        f"{len(data.tables)} table{'s' if len(data.tables) != 1 else ''} in {run.seconds:.1f} s"
    ]
    for table in data.tables:
        lines.append("")
        hashed = f"  row hash {table.row_hash}" if table.row_hash is not None else ""
        lines.append(f'"{table.table}": {table.rows:,} row{"s" if table.rows != 1 else ""}{hashed}')
        width = max((len(c.name) for c in table.columns), default=0)
        count_width = max((len(f"{c.non_null:,}") for c in table.columns), default=0)
        for column in table.columns:
            value_hash = f"  {column.value_hash}" if column.value_hash is not None else ""
            lines.append(f"  {column.name:<{width}}  {column.non_null:>{count_width},} non-null{value_hash}")
    return "\n".join(lines)


def render_json(run: FingerprintRun) -> str:
    data = run.fingerprint.to_dict()
    document: dict[str, Any] = {"version": data.pop("version"), "tool": f"safemigrate {__version__}"}
    document |= {"database": run.database, "seconds": round(run.seconds, 3)} | data
    return json.dumps(document, indent=2 if sys.stdout.isatty() else None, ensure_ascii=False)


def progress_line(event: FingerprintProgress) -> str | None:
    """The plain line (CI, no terminal) for a progress event, or None: big tables only."""
    if event.bytes_total < BIG_TABLE_BYTES:
        return None
    where = f'fingerprint: "{event.table}" ({event.table_index}/{event.table_count})'
    if event.finished:
        return f"{where}: {event.rows_done:,} rows in {event.elapsed:.1f} s"
    if event.bytes_done == 0:
        estimate = f"~{event.estimated_rows:,} rows, " if event.estimated_rows is not None else ""
        return f"{where}: {estimate}{_size(event.bytes_total)}"
    return f"{where}: {event.fraction:.0%} ({event.rows_done:,} rows so far)"


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover - the loop always returns


def _interactive() -> bool:
    ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    return sys.stderr.isatty() and not ci and os.environ.get("TERM") != "dumb"


@contextmanager
def progress_display() -> Iterator[ProgressCallback]:
    """A progress callback: a rich progress bar on a terminal, plain lines on stderr otherwise."""
    if not _interactive():

        def plain(event: FingerprintProgress) -> None:
            line = progress_line(event)
            if line is not None:
                typer.echo(line, err=True)

        yield plain
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    tasks: dict[str, TaskID] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[rows]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:

        def rich_progress(event: FingerprintProgress) -> None:
            key = event.table
            if key not in tasks:
                description = f"{event.table} ({event.table_index}/{event.table_count})"
                # One statement tells nothing until it ends: a pulsing bar then.
                total = max(event.bytes_total, 1) if event.ranges > 1 else None
                tasks[key] = bar.add_task(description, total=total, rows="")
            bar.update(
                tasks[key],
                completed=event.bytes_total if event.finished else event.bytes_done,
                rows=f"{event.rows_done:,} rows" if event.rows_done else "",
            )
            if event.finished:
                bar.remove_task(tasks.pop(key))

        yield rich_progress
