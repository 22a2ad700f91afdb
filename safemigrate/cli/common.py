"""Options shared by every command and the little state the CLI keeps."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer


class TextOrJson(str, Enum):
    """The --format choices of the commands that print a report."""

    text = "text"
    json = "json"


@dataclass
class _State:
    debug: bool = False


state = _State()

ProjectOption = Annotated[Path, typer.Option("--project", help="The Prisma project folder.")]
SchemaOption = Annotated[
    Optional[Path],  # noqa: UP045 - typer reads annotations at runtime, on Python 3.10 too
    typer.Option("--schema", help="Path to schema.prisma (or a schema folder)."),
]
MigrationsOption = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--migrations", help="Path to the migrations directory."),
]
DatabaseUrlOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--database-url",
        show_default=False,
        help="PostgreSQL URL to use instead of the project's datasource (directUrl, else url). Never printed.",
    ),
]
ConfigOption = Annotated[Optional[Path], typer.Option("--config", help="safemigrate.toml to use.")]  # noqa: UP045


def use_color() -> bool:
    """Colour only on a terminal, never in CI logs or when NO_COLOR is set."""
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def on_terminal() -> bool:
    """A person can answer a question: stdin and stderr are terminals."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def refuse_off_terminal(yes: bool, what: str) -> None:
    """Commands that replace data ask on a terminal; elsewhere they need --yes."""
    from safemigrate.errors import InputError

    if not yes and not on_terminal():
        raise InputError(f"{what}: refusing without --yes when not run on a terminal.")


def plural(count: int, noun: str) -> str:
    """``1 row``, ``2 rows``, ``1,000 rows``: a count with its noun, for the lines the commands print."""
    return f"{count:,} {noun}{'s' if count != 1 else ''}"


def table_names(tables: str | None, every: str) -> list[str] | None:
    """The names of a ``--tables`` option: comma-separated, a name holding a comma in double quotes
    (``--tables 'a,"x,y"'``; ``""`` inside quotes is one ``"``). None when the option is not given;
    given but naming none (``--tables ""``) is refused, never taken as "no table"."""
    import csv

    from safemigrate.errors import InputError

    if tables is None:
        return None
    if tables.count('"') % 2:
        raise InputError(
            f"--tables {tables!r} has a double quote that is not closed.",
            'Separate names with commas; put a name that holds a comma in double quotes: --tables \'a,"x,y"\'.',
        )
    fields = next(csv.reader([tables], skipinitialspace=True), [])
    names = [name.strip() for name in fields if name.strip()]
    if not names:
        raise InputError(
            f"--tables {tables!r} names no table.",
            f"Name tables separated by commas, or leave --tables out to {every}.",
        )
    return names
