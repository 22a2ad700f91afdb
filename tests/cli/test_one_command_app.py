"""`safemigrate <command>` builds its command-line app with that one command only (its module is the
only command module imported); what the user sees must not differ from the app with every command."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from safemigrate.cli import _COMMANDS, build_app, command_named

WIDE = {"COLUMNS": "400", "TERM": "dumb"}


def _paths(command: Any, path: list[str]) -> list[list[str]]:
    found = [path]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found += _paths(sub, [*path, name])
    return found


def test_the_table_of_commands_names_every_command_of_the_whole_app() -> None:
    whole = typer.main.get_command(build_app())
    assert sorted(whole.commands) == sorted(_COMMANDS)  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(_COMMANDS))
def test_help_of_every_command_and_subcommand_is_the_same_from_the_one_command_app(name: str) -> None:
    whole, alone = build_app(), build_app(name)
    assert sorted(typer.main.get_command(alone).commands) == [name]  # type: ignore[attr-defined]
    for path in _paths(typer.main.get_command(whole).commands[name], [name]):  # type: ignore[attr-defined]
        expected = CliRunner().invoke(whole, [*path, "--help"], env=WIDE)
        shown = CliRunner().invoke(alone, [*path, "--help"], env=WIDE)
        assert expected.exit_code == 0, expected.output
        assert (shown.exit_code, shown.output) == (expected.exit_code, expected.output), path


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (["backup", "--tables", "a"], "backup"),
        (["--debug", "restore", "--latest"], "restore"),
        (["backups", "list"], "backups"),
        (["dry-run"], "dry-run"),
        ([], None),
        (["--help"], None),  # the top-level help lists every command
        (["--version"], None),
        (["--debug"], None),
        (["bakcup"], None),  # an unknown name: the whole app says so, with what there is
        (["lint.sql"], None),
    ],
)
def test_the_command_named_is_the_first_argument_after_the_top_level_options(
    arguments: list[str], named: str | None
) -> None:
    assert command_named(arguments) == named


def test_an_unknown_command_is_still_a_usage_error_naming_it() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "safemigrate", "bakcup"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2, done.stderr
    assert "No such command 'bakcup'" in done.stderr


def test_a_backup_process_does_not_import_the_linter_command() -> None:
    """The start-up this saves: `backup` alone does not load `safemigrate.cli.lint` (and the API it
    imports), which every command loaded before."""
    probe = (
        "import sys; from safemigrate.cli import build_app; build_app('backup'); "
        "import json; print(json.dumps(sorted(m for m in sys.modules if m.startswith('safemigrate.cli.'))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    loaded = json.loads(done.stdout)
    assert "safemigrate.cli.backup" in loaded
    assert "safemigrate.cli.lint" not in loaded and "safemigrate.cli.migrate" not in loaded
