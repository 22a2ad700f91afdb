"""What changed in a migrations directory since a git ref (for ``lint --since``)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from safemigrate.errors import GitError


@dataclass(frozen=True)
class MigrationChanges:
    added: frozenset[str]  # migration folder names new since the ref
    edited: frozenset[str]  # folders whose migration.sql existed at the ref and differs now
    removed: frozenset[str]  # folders whose migration.sql existed at the ref and is gone


def _git(cwd: Path, *args: str) -> str:
    try:
        completed = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            encoding="utf-8",
            errors="surrogateescape",
        )
    except FileNotFoundError as err:
        raise GitError("git is not installed, and --since needs it.", "Install git or drop --since.") from err
    if completed.returncode != 0:
        raise GitError(f"git {args[0]} failed: {completed.stderr.strip().splitlines()[-1:] or ['']}"[:300])
    return completed.stdout


def changes_since(ref: str, migrations_dir: Path) -> MigrationChanges:
    """Compare the working tree (committed or not) with ``ref`` under ``migrations_dir``."""
    migrations_dir = migrations_dir.resolve()
    if not migrations_dir.is_dir():
        raise GitError(f"The migrations directory {migrations_dir} does not exist.")
    try:
        _git(migrations_dir, "rev-parse", "--show-toplevel")
    except GitError as err:
        raise GitError(f"{migrations_dir} is not inside a git repository, and --since needs one.") from err
    try:
        _git(migrations_dir, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except GitError as err:
        raise GitError(
            f"The git ref {ref!r} does not exist in this repository.",
            "Fetch it first (e.g. git fetch origin main) or pass another ref.",
        ) from err
    status = _git(migrations_dir, "diff", "--relative", "--no-renames", "--name-status", "-z", ref, "--", ".")
    untracked = _git(migrations_dir, "ls-files", "--others", "--exclude-standard", "-z", "--", ".")
    added: set[str] = set()
    edited: set[str] = set()
    removed: set[str] = set()
    fields = status.split("\0")
    for code, path in zip(fields[0::2], fields[1::2], strict=False):
        parts = Path(path).parts
        if len(parts) != 2 or parts[1] != "migration.sql":
            continue  # only migration.sql files count; paths are relative to the migrations dir
        folder = parts[0]
        if code.startswith("A"):
            added.add(folder)
        elif code.startswith("D"):
            removed.add(folder)
        else:
            edited.add(folder)
    for path in untracked.split("\0"):
        parts = Path(path).parts
        if len(parts) == 2 and parts[1] == "migration.sql":
            added.add(parts[0])
    return MigrationChanges(frozenset(added), frozenset(edited), frozenset(removed))
