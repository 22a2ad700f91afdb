"""The command line: thin typer commands over safemigrate.api; errors become one sentence and an exit code.

typer and the commands are imported only when needed: `safemigrate lint` with plain arguments and a
machine-readable format is read by safemigrate.cli.lint_fast (CI runs it on every pull request).
"""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from safemigrate.errors import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    SafemigrateError,
    Terminated,
    outcome_of,
)

if TYPE_CHECKING:
    import typer


# Each command (or command group) by name: its module under safemigrate.cli, the attribute typer
# registers, and whether that attribute is a group (a typer.Typer) rather than a function.
_COMMANDS: dict[str, tuple[str, str, bool]] = {
    "lint": ("lint", "lint", False),
    "fingerprint": ("fingerprint", "fingerprint", False),
    "snapshot": ("snapshot", "snapshot", False),
    "diff": ("snapshot", "diff", False),
    "status": ("status", "status", False),
    "validate": ("validate", "validate", False),
    "rules": ("rules", "app", True),
    "backup": ("backup", "backup", False),
    "backups": ("backup", "backups_app", True),
    "restore": ("backup", "restore", False),
    "plan": ("plan", "plan", False),
    "dry-run": ("dryrun", "dry_run", False),
    "migrate": ("migrate", "migrate", False),
    "rollback": ("migrate", "rollback", False),
    "runs": ("migrate", "runs", False),
    "recover": ("migrate", "recover", False),
    "notify": ("notify", "notify_app", True),
    "report": ("report", "report", False),
    "clone": ("clone", "clone", False),
    "init": ("init", "init", False),
}


def build_app(only: str | None = None) -> typer.Typer:
    """The typer application with every command, or with only the command named ``only``: one
    command's module is imported instead of all of them, which saves a command like ``backup``
    a third of its start-up (the linter's modules, among others)."""
    import importlib

    import typer

    from safemigrate import __version__
    from safemigrate.cli.common import state

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

    # Options as default values, not Annotated: typer resolves string annotations in the module's
    # globals, where typer (imported here, on demand) is not.
    @app.callback()
    def _main(
        debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
        version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    ) -> None:
        state.debug = debug
        if debug:
            import logging

            logging.getLogger("psycopg").setLevel(logging.NOTSET)

    for name, (module, attribute, group) in _COMMANDS.items():
        if only is not None and name != only:
            continue
        target = getattr(importlib.import_module(f"safemigrate.cli.{module}"), attribute)
        if group:
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)
    return app


def command_named(arguments: list[str]) -> str | None:
    """The command the arguments name, when it is one of ours: the first argument that is not one
    of the top-level options (``--debug``; ``--version`` and ``--help`` need the whole app)."""
    for argument in arguments:
        if argument == "--debug":
            continue
        return argument if argument in _COMMANDS else None
    return None


def __getattr__(name: str) -> Any:
    # `safemigrate.cli.app`, built on first use.
    if name == "app":
        app = build_app()
        globals()["app"] = app
        return app
    raise AttributeError(name)


def _say(text: str) -> None:
    # The one redaction helper, once more: no message may ever carry a password.
    from safemigrate.db.url import redact_url

    sys.stderr.write(redact_url(text) + "\n")
    sys.stderr.flush()


_terminated: list[bool] = []  # set by the SIGTERM handler: typer reports any interrupt as exit code 130


def _raise_terminated(signum: int, frame: object) -> None:
    _terminated.append(True)
    raise Terminated()


def _interrupted(err: KeyboardInterrupt) -> NoReturn:
    """Ctrl-C or SIGTERM reached the top: one line, and 130 or 143. A second signal during the last
    words changes nothing (the clean-up has run already)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    terminated = isinstance(err, Terminated)
    outcome = outcome_of(err)
    _say(("Terminated." if terminated else "Interrupted.") + (f" {outcome}" if outcome else ""))
    sys.exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED)


def main() -> None:
    """Console-script entry point: every user error ends in one line on stderr and an exit code.
    SIGTERM (a CI cancel, `timeout`) runs the same clean-up as Ctrl-C: backups, clones and locks
    are released the same way."""
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        import logging  # here, not at the top: a signal in the process's first milliseconds is handled

        # psycopg warns ("error ignored in rollback ...") when a connection is closed in the middle of an
        # interrupted query: noise after the one sentence a user gets (--debug shows it again).
        logging.getLogger("psycopg").setLevel(logging.ERROR)
        from safemigrate.cli.lint_fast import plain_lint_arguments, run_plain_lint

        plain = plain_lint_arguments(sys.argv[1:])
        if plain is not None:
            try:
                sys.exit(run_plain_lint(plain))
            except SafemigrateError as err:
                _say(f"error: {err.message}" + (f" {err.hint}" if err.hint else ""))
                sys.exit(err.exit_code)
            except KeyboardInterrupt:
                raise
            except OSError as err:
                _system_error(err)
            except Exception:
                _print_traceback()  # a bug: the traceback helps, but passwords are still taken out
                sys.exit(1)
        _main_typer()
    except KeyboardInterrupt as err:  # also during start-up's imports
        _interrupted(err)


def _main_typer() -> None:
    import typer

    from safemigrate.cli.common import state
    from safemigrate.db.url import redact_url

    app = build_app(command_named(sys.argv[1:]))
    try:
        code = app(standalone_mode=False)  # returns the exit code of typer.Exit raised by a command
    except SafemigrateError as err:
        if state.debug:
            _print_traceback()
        # The one redaction helper, once more: no message may ever carry a password.
        typer.echo(redact_url(f"error: {err.message}" + (f" {err.hint}" if err.hint else "")), err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        raise  # main() says it
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except typer.Abort as abort:
        if isinstance(abort.__cause__, KeyboardInterrupt):  # click turns Ctrl-C and SIGTERM into Abort
            raise abort.__cause__ from None
        typer.echo("Aborted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as err:
        # Usage errors of the command-line parser (click's, vendored by recent typer) know how to show
        # themselves; anything else is a bug and keeps its traceback.
        show, exit_code = getattr(err, "show", None), getattr(err, "exit_code", None)
        if callable(show) and isinstance(exit_code, int):
            show()
            sys.exit(EXIT_USAGE if exit_code == 2 else exit_code)
        if isinstance(err, OSError) and not state.debug:
            _system_error(err)
        _print_traceback()  # a bug: the traceback helps, but passwords are still taken out
        sys.exit(1)
    if code == EXIT_INTERRUPTED:  # typer turns Ctrl-C (and SIGTERM) into this exit code, silently
        _interrupted(Terminated() if _terminated else KeyboardInterrupt())
    sys.exit(code if isinstance(code, int) else 0)


def _system_error(err: OSError) -> NoReturn:
    """An error of the machine the command met where no sentence of its own was written (the output
    going to a full disk, say): one line with the system's words, exit 1 (--debug shows where)."""
    import errno

    where = f" ({err.filename})" if err.filename else " (writing the output)" if err.errno == errno.ENOSPC else ""
    _say(f"error: {err.strerror or err}{where}.")
    sys.exit(1)


def _print_traceback() -> None:
    import traceback

    _say(traceback.format_exc().rstrip("\n"))
