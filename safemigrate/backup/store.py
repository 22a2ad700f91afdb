"""The local backup store: one folder per backup, published by a rename once complete."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from safemigrate.backup.manifest import Manifest
from safemigrate.errors import BackupFormatError, BackupNotFoundError

DEFAULT_STORE = ".safemigrate/backups"
MANIFEST = "manifest.json"
ID_PATTERN = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")
DIR_MODE = 0o700
FILE_MODE = 0o600


def new_id(now: datetime) -> str:
    """``YYYYMMDDTHHMMSSZ-xxxxxx``: UTC time, then 6 random hex digits; ids sort by time."""
    return now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def ensure_store(store: Path) -> Path:
    """Create the store (0700) when missing; tighten its mode when it exists."""
    store.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(store, DIR_MODE)
    return store


def create_file(path: Path) -> int:
    """A new file (0600, never an existing one), as a raw descriptor."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), FILE_MODE)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def partial_folder(store: Path, backup_id: str) -> Iterator[Path]:
    """``<store>/.<id>.partial/`` for the block; removed if the block fails. The caller publishes it."""
    folder = store / f".{backup_id}.partial"
    folder.mkdir(mode=DIR_MODE)
    (folder / "tables").mkdir(mode=DIR_MODE)
    try:
        yield folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def write_manifest(folder: Path, manifest: Manifest) -> None:
    fd = create_file(folder / MANIFEST)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(manifest.to_json())
        out.flush()
        os.fsync(out.fileno())


def publish(store: Path, folder: Path, backup_id: str) -> Path:
    """Rename the complete partial folder into place (atomic on one filesystem)."""
    fsync_dir(folder / "tables")
    fsync_dir(folder)
    final = store / backup_id
    os.rename(folder, final)
    fsync_dir(store)
    return final


def read_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise BackupFormatError(f"Cannot read the manifest {path}: {err}.", "") from err
    return Manifest.from_dict(data, str(path))


def list_backups(store: Path) -> tuple[Manifest, ...]:
    """Every published backup of the store, oldest first (partial folders are never listed)."""
    if not store.is_dir():
        return ()
    found = [
        (entry.name, read_manifest(entry))
        for entry in sorted(store.iterdir())
        if ID_PATTERN.fullmatch(entry.name) and (entry / MANIFEST).is_file()
    ]
    # A folder copied under another name holds someone else's manifest: never list it.
    return tuple(manifest for name, manifest in found if manifest.id == name)


def find_backup(store: Path, backup_id: str | None) -> tuple[Path, Manifest]:
    """The folder and manifest of backup ``backup_id``, or of the newest one when None."""
    if backup_id is None:
        backups = list_backups(store)
        if not backups:
            raise BackupNotFoundError(f"There is no backup in {store}.", "Take one with `safemigrate backup`.")
        return store / backups[-1].id, backups[-1]
    folder = store / backup_id
    if not ID_PATTERN.fullmatch(backup_id) or not (folder / MANIFEST).is_file():
        raise BackupNotFoundError(
            f"There is no backup {backup_id!r} in {store}.", "Run `safemigrate backups list` to see the ids."
        )
    return folder, read_manifest(folder)
