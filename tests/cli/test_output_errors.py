"""The output itself failing (a full disk) is not a bug of safemigrate: one line, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BLOG = Path(__file__).parents[2] / "fixtures" / "blog" / "prisma" / "migrations"


@pytest.mark.parametrize(
    "args",
    [["rules"], ["lint", str(BLOG), "--format", "json"], ["backups", "list", "--format", "json"]],
    ids=["typer-command", "lint-fast-path", "backups-list"],
)
def test_a_full_disk_under_the_output_is_one_line(args: list[str], tmp_path: Path) -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "safemigrate", *args],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            check=False,
        )
    assert done.returncode == 1
    assert done.stderr == "error: No space left on device (writing the output).\n"
