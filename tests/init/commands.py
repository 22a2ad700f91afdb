"""Check that a `safemigrate ...` command line names a command and options that exist (from --help)."""

from __future__ import annotations

import functools
import itertools
import os
import re
import shlex
import subprocess
import sys

_SHELL_STOP = {">", ">>", "||", "&&", "|", ";"}


@functools.cache
def command_help(command: str) -> str | None:
    """`safemigrate <command> --help`, or None when there is no such command."""
    completed = subprocess.run(
        [sys.executable, "-m", "safemigrate", command, "--help"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "250", "NO_COLOR": "1"},
    )
    return completed.stdout if completed.returncode == 0 else None


def safemigrate_invocations(shell: str) -> list[list[str]]:
    """Each `safemigrate ...` command of a shell line, as words up to a redirect or operator."""
    words = shlex.split(shell.replace('"$GITHUB_STEP_SUMMARY"', "SUMMARY"))
    found: list[list[str]] = []
    for start, word in enumerate(words):
        if word != "safemigrate":
            continue
        invocation: list[str] = []
        for later in words[start + 1 :]:
            if later in _SHELL_STOP:
                break
            invocation.append(later)
        found.append(invocation)
    return found


def missing_parts(invocation: list[str]) -> list[str]:
    """What of ``invocation`` (command, options, --format values) its --help does not show."""
    command, *rest = invocation
    help_text = command_help(command)
    if help_text is None:
        return [f"command {command}"]
    missing = [word for word in rest if word.startswith("--") and not _shows(help_text, word)]
    for option, value in itertools.pairwise(rest):
        if option == "--format" and not _shows(help_text, value):
            missing.append(f"--format {value}")
    return missing


def _shows(help_text: str, word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", help_text) is not None
