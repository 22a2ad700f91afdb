"""Options shared by every command and the little state the CLI keeps."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import typer


@dataclass
class _State:
    debug: bool = False


state = _State()

PROJECT = typer.Option(Path("."), "--project", help="The Prisma project folder.", show_default=True)
SCHEMA = typer.Option(None, "--schema", help="Path to schema.prisma (or a schema folder).")
MIGRATIONS = typer.Option(None, "--migrations", help="Path to the migrations directory.")
CONFIG = typer.Option(None, "--config", help="safemigrate.toml to use.")


def use_color() -> bool:
    """Colour only on a terminal, never in CI logs or when NO_COLOR is set."""
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
