"""`safemigrate lint` read without typer (safemigrate.cli.lint_fast) behaves as the typer command."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from safemigrate.cli import build_app
from safemigrate.cli import lint as lint_command
from safemigrate.cli.lint_fast import FAIL_ON, FORMATS, plain_lint_arguments

FIXTURES = Path(__file__).parents[2] / "fixtures"
CACHE_DIR = tempfile.mkdtemp(prefix="safemigrate-test-cache-")


def _run(*args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SAFEMIGRATE_CACHE_DIR": CACHE_DIR}
    command = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "safemigrate", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False, env=env)


def test_choices_are_the_typer_commands_choices() -> None:
    assert tuple(f.value for f in lint_command.Format) == FORMATS
    assert tuple(f.value for f in lint_command.FailOn) == FAIL_ON


def test_plain_arguments_are_read() -> None:
    options = plain_lint_arguments(
        ["lint", "a", "--format", "json", "--fail-on=never", "--pg-version", "15", "--no-cache", "b"]
    )
    assert options == {"paths": ["a", "b"], "fmt": "json", "fail_on": "never", "pg_version": 15, "no_cache": True}


@pytest.mark.parametrize(
    "args",
    [
        ["lint"],  # the text format: typer's terminal helpers
        ["lint", "--format", "text"],
        ["lint", "--format", "JSON"],
        ["lint", "--format", "json", "--help"],
        ["lint", "--format", "json", "--fail-on", "sometimes"],
        ["lint", "--format", "json", "--format", "sarif"],
        ["lint", "--format", "json", "--pg-version", "fifteen"],
        ["lint", "--format", "json", "--since"],
        ["lint", "--format", "json", "--form", "json"],
        ["lint", "--format", "json", "--", "x"],
        ["--debug", "lint", "--format", "json"],
        ["rules"],
    ],
)
def test_anything_else_is_left_to_typer(args: list[str]) -> None:
    assert plain_lint_arguments(args) is None


@pytest.mark.parametrize("fmt", ["json", "sarif", "github", "markdown"])
@pytest.mark.parametrize("fail_on", ["error", "never"])
def test_same_output_and_exit_code_as_the_typer_command(fmt: str, fail_on: str) -> None:
    args = ["lint", "--project", str(FIXTURES / "blog"), "--format", fmt, "--fail-on", fail_on, "--no-cache"]
    assert plain_lint_arguments(args) is not None
    fast = _run(*args)
    through_typer = CliRunner().invoke(build_app(), args)
    assert fast.stdout == through_typer.stdout
    assert fast.returncode == through_typer.exit_code == (1 if fail_on == "error" else 0)


def test_user_mistake_is_one_line_and_exit_2() -> None:
    completed = _run("lint", "no-such-folder", "--format", "json")
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == [
        "error: no-such-folder does not exist. Pass a .sql file, a migration folder or a directory."
    ]


def test_plain_json_lint_imports_no_cli_or_database_library() -> None:
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write(repr(sorted({m.split('.')[0] for m in sys.modules}"
        " & {'typer', 'click', 'rich', 'jinja2', 'psycopg'}))))\n"
        "sys.argv = ['safemigrate', *sys.argv[1:]]\n"
        "from safemigrate.cli import main\n"
        "main()\n"
    )
    completed = _run("lint", str(FIXTURES / "blog" / "prisma" / "migrations"), "--format", "json", code=code)
    assert completed.returncode == 1
    assert completed.stderr.endswith("[]")
