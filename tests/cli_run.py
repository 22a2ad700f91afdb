"""Run the safemigrate command line as a user does: a new process, nothing on stdin (not a terminal)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def run_cli(project: Path, *args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m safemigrate ARGS --project PROJECT``; ``env`` adds to (or overrides) this process's."""
    return subprocess.run(
        [sys.executable, "-m", "safemigrate", *args, "--project", str(project)],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


# As root, whose capabilities bypass file permissions: ``setpriv`` keeps uid 0 (the venv under /root
# stays readable) but drops the capabilities that ignore file modes, so the modes apply.
_DROPPED = "-dac_override,-dac_read_search,-fowner,-chown"
UNPRIVILEGED = ("setpriv", f"--inh-caps={_DROPPED}", f"--bounding-set={_DROPPED}")


def run_cli_unprivileged(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """:func:`run_cli` under :data:`UNPRIVILEGED`: file permissions apply to the command."""
    return subprocess.run(
        [*UNPRIVILEGED, sys.executable, "-m", "safemigrate", *args, "--project", str(project)],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
