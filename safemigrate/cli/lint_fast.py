"""`safemigrate lint --format json|sarif|github|markdown` without typer.

CI runs this on every pull request, where importing typer and building every command costs more than
linting a new migration. Only plain, valid argument lists are read here; anything else (``--help``,
``--debug``, the text format, a mistake) returns None and goes through typer, which owns the help and
the usage errors. The same api.lint call and the same renderers are used either way.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from safemigrate.api import LintOutcome

# Must equal the choices of the typer command (checked by tests/lint/test_cli_fast_path.py).
FORMATS = ("text", "json", "sarif", "github", "markdown")
FAIL_ON = ("error", "warning", "never")
_FLAGS = {"--pending": "pending", "--no-cache": "no_cache"}
_VALUED = {
    "--format": "fmt",
    "--fail-on": "fail_on",
    "--since": "since",
    "--pg-version": "pg_version",
    "--database-url": "database_url",
    "--project": "project",
    "--schema": "schema",
    "--migrations": "migrations",
    "--config": "config",
}


def plain_lint_arguments(args: Sequence[str]) -> dict[str, object] | None:
    """The options of ``lint ARGS...`` when every argument is plain and valid, else None."""
    if not args or args[0] != "lint":
        return None
    options: dict[str, object] = {"paths": []}
    rest = list(args[1:])
    while rest:
        arg = rest.pop(0)
        if not arg.startswith("-"):
            paths = options["paths"]
            assert isinstance(paths, list)
            paths.append(arg)
            continue
        name, has_value, value = arg.partition("=")
        if name in _FLAGS and not has_value:
            options[_FLAGS[name]] = True
            continue
        if name not in _VALUED or _VALUED[name] in options:
            return None  # unknown, repeated or abbreviated: typer says what is wrong
        if not has_value:
            if not rest or rest[0].startswith("-"):
                return None
            value = rest.pop(0)
        options[_VALUED[name]] = value
    if options.get("fmt") not in FORMATS[1:] or options.get("fail_on", "error") not in FAIL_ON:
        return None  # the text format needs the terminal helpers of the typer commands
    pg_version = options.get("pg_version")
    if pg_version is not None:
        if not isinstance(pg_version, str) or not pg_version.isascii() or not pg_version.isdigit():
            return None
        options["pg_version"] = int(pg_version)
    return options


def run_plain_lint(options: dict[str, object]) -> int:
    """Lint as the typer command does, print the report, return the exit code."""
    from safemigrate import api
    from safemigrate.errors import EXIT_CHECK_FAILED

    def path(key: str) -> Path | None:
        value = options.get(key)
        return Path(value) if isinstance(value, str) else None

    def text(key: str) -> str | None:
        value = options.get(key)
        return value if isinstance(value, str) else None

    paths = options["paths"]
    assert isinstance(paths, list)
    pg_version = options.get("pg_version")
    outcome = api.lint(
        paths,
        project_dir=path("project") or Path("."),
        schema=path("schema"),
        migrations_dir=path("migrations"),
        config_file=path("config"),
        since=text("since"),
        pg_version=pg_version if isinstance(pg_version, int) else None,
        fail_on=text("fail_on"),
        use_cache=not options.get("no_cache"),
        pending=bool(options.get("pending")),
        database_url=text("database_url"),
    )
    fmt = text("fmt")
    assert fmt is not None
    sys.stdout.write(render(outcome, fmt, color=False) + "\n")
    sys.stdout.flush()
    return EXIT_CHECK_FAILED if outcome.failed else 0


def render(outcome: LintOutcome, fmt: str, *, color: bool) -> str:
    """The report of ``outcome`` in one of FORMATS."""
    # Each reporter is imported alone: jinja2 and rich cost start-up time only when used.
    from safemigrate import __version__

    result = outcome.result
    if fmt == "json":
        from safemigrate.report.json_report import render_json

        return render_json(result, __version__, pretty=sys.stdout.isatty())
    if fmt == "sarif":
        from safemigrate.lint.registry import RULES
        from safemigrate.report.sarif import render_sarif

        return render_sarif(result, RULES, __version__)
    if fmt == "github":
        from safemigrate.report.github import render_github

        return render_github(result)
    if fmt == "markdown":
        from safemigrate.report.markdown import render_markdown

        return render_markdown(result, __version__)
    from safemigrate.report.text import render_text

    return render_text(result, color=color)
