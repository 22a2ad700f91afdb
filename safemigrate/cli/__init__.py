"""The command line: thin typer commands over safemigrate.api; errors become one sentence and an exit code."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from safemigrate import __version__
from safemigrate.cli import lint as lint_command
from safemigrate.cli import rules as rules_command
from safemigrate.cli.common import state
from safemigrate.errors import EXIT_INTERRUPTED, EXIT_USAGE, SafemigrateError

app = typer.Typer(
    name="safemigrate",
    help="Safe Prisma migrations on PostgreSQL: lint, back up, rehearse, apply all-or-nothing, verify.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"safemigrate {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    state.debug = debug


app.command("lint")(lint_command.lint)
app.add_typer(rules_command.app, name="rules")


def main() -> None:
    """Console-script entry point: every user error ends in one line on stderr and an exit code."""
    try:
        code = app(standalone_mode=False)  # returns the exit code of typer.Exit raised by a command
    except SafemigrateError as err:
        if state.debug:
            raise
        typer.echo(f"error: {err.message}" + (f" {err.hint}" if err.hint else ""), err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        typer.echo("Interrupted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as err:
        # Usage errors of the command-line parser (click's, vendored by recent typer) know how to show
        # themselves; anything else is a bug and keeps its traceback.
        show, exit_code = getattr(err, "show", None), getattr(err, "exit_code", None)
        if callable(show) and isinstance(exit_code, int):
            show()
            sys.exit(EXIT_USAGE if exit_code == 2 else exit_code)
        raise
    sys.exit(code if isinstance(code, int) else 0)
