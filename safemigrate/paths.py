"""Looking at the user's files and folders: a path that cannot be read, or whose folder cannot be
searched, is one sentence of the caller's error class (ProjectError, ConfigError), never an OSError."""

from __future__ import annotations

from pathlib import Path

from safemigrate.errors import ProjectError, SafemigrateError


def cannot_read(path: Path, err: OSError, error: type[SafemigrateError] = ProjectError) -> SafemigrateError:
    """One sentence for a file or folder that cannot be read."""
    if isinstance(err, PermissionError):
        return error(
            f"Cannot read {path}: permission denied.",
            "Make it readable by the user running safemigrate (and its folders searchable), or run as its owner.",
        )
    return error(f"Cannot read {path}: {err.strerror or err}.", "Check the file and its folder.")


def is_file(path: Path, error: type[SafemigrateError] = ProjectError) -> bool:
    """``path.is_file()`` (likewise is_dir, exists); stat fails when the folder holding ``path`` cannot
    be searched, so that folder is the one named."""
    try:
        return path.is_file()
    except PermissionError as err:
        raise cannot_read(path.parent, err, error) from err


def is_dir(path: Path, error: type[SafemigrateError] = ProjectError) -> bool:
    try:
        return path.is_dir()
    except PermissionError as err:
        raise cannot_read(path.parent, err, error) from err


def exists(path: Path, error: type[SafemigrateError] = ProjectError) -> bool:
    try:
        return path.exists()
    except PermissionError as err:
        raise cannot_read(path.parent, err, error) from err
