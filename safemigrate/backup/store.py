"""The local backup store: one folder per backup, published by a rename once complete (and renamed to
``.<id>.deleting`` before it is removed, see :mod:`safemigrate.backup.stores`).

A backup is written into ``.<id>.partial/``, whose writer holds an exclusive ``flock`` on the folder
until it is published or removed. The kernel drops that lock however the process ends, SIGKILL and
power loss included, so a partial folder nobody holds is one whose backup will never finish
(:func:`unfinished_backups`), and ``backups prune`` may remove it without racing a running backup."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

try:
    import fcntl
except ImportError:  # Windows: no flock, so a partial folder's writer cannot be told alive or gone
    fcntl = None  # type: ignore[assignment]

from safemigrate.backup.manifest import Manifest, parse_utc
from safemigrate.errors import BackupFormatError, BackupNotFoundError, BackupStoreError, StoreSettingError

DEFAULT_STORE = ".safemigrate/backups"
MANIFEST = "manifest.json"
DELETING = ".deleting"  # a backup being deleted: local folder ".<id>.deleting", S3 marker object "<id>/.deleting"
PARTIAL = ".partial"  # a backup being taken: local folder ".<id>.partial"
ID_PATTERN = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")
DIR_MODE = 0o700
FILE_MODE = 0o600


@dataclass(frozen=True)
class UnreadableBackup:
    """A backup whose manifest cannot be read (damaged, or of a newer format): listed apart, never used."""

    id: str
    reason: str  # one sentence: what is wrong with the manifest
    hint: str = ""

    @property
    def taken_at(self) -> datetime | None:
        """The time in the id (to the second; None when the id holds no real date)."""
        try:
            return datetime.strptime(self.id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            return None

    def error(self) -> BackupFormatError:
        return BackupFormatError(
            self.reason, self.hint or "Restore another backup (see `safemigrate backups list`) or delete this one."
        )


UnfinishedState = Literal["abandoned", "in-progress", "unknown"]


@dataclass(frozen=True)
class UnfinishedBackup:
    """A backup that was started and not published. ``abandoned``: its process is gone, the backup
    will never finish, and ``backups prune`` removes it; ``in-progress``: being taken right now;
    ``unknown``: a running backup and a killed one cannot be told apart here (an S3 upload, or a
    system without ``flock``), so it is left for a person to remove."""

    id: str
    location: str  # the folder or S3 prefix, for messages
    state: UnfinishedState


class BackupListing(tuple[Manifest, ...]):
    """The backups a store holds that can be read (a tuple, oldest first) and, in ``unreadable``, those
    whose manifest cannot be read. One damaged or newer-format manifest must not hide every other
    backup, nor be mistaken for no backup at all: the commands say which ones were skipped and why."""

    unreadable: tuple[UnreadableBackup, ...]
    unfinished: tuple[UnfinishedBackup, ...]  # started, never published (see UnfinishedBackup)

    def __new__(
        cls,
        backups: Iterable[Manifest] = (),
        unreadable: Iterable[UnreadableBackup] = (),
        unfinished: Iterable[UnfinishedBackup] = (),
    ) -> BackupListing:
        listing = super().__new__(cls, backups)
        listing.unreadable = tuple(sorted(unreadable, key=lambda u: u.id))
        listing.unfinished = tuple(sorted(unfinished, key=lambda u: u.id))
        return listing

    def find_unreadable(self, backup_id: str) -> UnreadableBackup | None:
        return next((u for u in self.unreadable if u.id == backup_id), None)

    def unreadable_in_place_of(self, chosen: Manifest | None, at: datetime | None = None) -> UnreadableBackup | None:
        """The newest unreadable backup that may be newer than ``chosen`` (taken at or before ``at``).

        ``--latest`` or ``--at`` meant it: restoring the older ``chosen`` instead would silently bring
        back older data. Ids hold the time to the second, so the same second counts as newer."""
        floor = parse_utc(chosen.created_at) - timedelta(seconds=1) if chosen is not None else None
        found = [
            u
            for u in self.unreadable
            if (taken := u.taken_at) is not None and (at is None or taken <= at) and (floor is None or taken > floor)
        ]
        return found[-1] if found else None


def unreadable_refusal(unreadable: UnreadableBackup, chosen: Manifest | None) -> BackupFormatError:
    """The newest backup meant cannot be read: say so rather than restore an older one in its place."""
    instead = f"; the newest readable one is {chosen.id}" if chosen is not None else ""
    return BackupFormatError(
        f"Backup {unreadable.id} would be the one to restore, but it cannot be read{instead}: {unreadable.reason}",
        "Name a backup with --id to restore an older one (see `safemigrate backups list`), or "
        + (unreadable.hint[:1].lower() + unreadable.hint[1:] if unreadable.hint else "delete the damaged one."),
    )


def new_id(now: datetime) -> str:
    """``YYYYMMDDTHHMMSSZ-xxxxxx``: UTC time, then 6 random hex digits; ids sort by time."""
    return now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def ensure_store(store: Path) -> Path:
    """Create the store (0700, whatever the umask) when missing. An existing folder is used with the
    mode it has, so a store a group shares (owned by another user, ``chmod 2770``) stays shared; each
    backup in it is 0700 all the same."""
    try:
        store.mkdir(mode=DIR_MODE, parents=True)
    except FileExistsError:
        if store.is_dir():
            return store
        raise
    os.chmod(store, DIR_MODE)
    return store


def store_folder(store: Path) -> bool:
    """Whether the store folder exists (False: nothing was stored yet). A path that is a file, or
    lies inside one, is refused with one sentence (never taken for an empty store), as is one that
    cannot be looked up."""
    try:
        mode = os.stat(store).st_mode
    except (FileNotFoundError, NotADirectoryError):
        for parent in store.parents:  # the nearest part of the path that exists
            try:
                if not stat.S_ISDIR(os.stat(parent).st_mode):
                    raise _not_a_folder(store, parent)
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError:
                pass
            break
        return False
    except OSError as err:
        raise unreadable_store(store, err) from err
    if not stat.S_ISDIR(mode):
        raise _not_a_folder(store, store)
    return True


def readable_store(store: Path) -> bool:
    """Whether the store folder exists, refused with one sentence when this user cannot read it."""
    if not store_folder(store):
        return False
    if not _may(store, os.R_OK | os.X_OK):
        raise unreadable_store(store)
    return True


def check_writable(store: Path) -> None:
    """Refuse, in one sentence, a store folder this user cannot write backups into."""
    if not _may(store, os.W_OK | os.X_OK):
        raise BackupStoreError(
            f"The backup store {store} is not writable by this user.",
            "Give this user write access to the folder (write and execute permission, as its owner or "
            "through its group), or set [backup] store to another folder.",
        )


def _may(path: Path, mode: int) -> bool:
    """``access(2)`` with the effective user and groups (those the files are created with)."""
    return os.access(path, mode, effective_ids=os.access in os.supports_effective_ids)


def _not_a_folder(store: Path, found: Path) -> StoreSettingError:
    where = "is a file" if found == store else f"is inside {found}, which is a file"
    return StoreSettingError(
        f"The backup store {store} {where}, not a folder.",
        "Point [backup] store at a folder (or an s3:// URL), or move the file away.",
    )


def unreadable_store(store: Path, err: OSError | None = None) -> BackupStoreError:
    """The store (or something in it) that this user cannot read, as one sentence."""
    if err is None or isinstance(err, PermissionError):
        reason = "permission denied"
    else:
        text = err.strerror or str(err)
        reason = text[:1].lower() + text[1:]
    if err is not None and err.filename and Path(os.fsdecode(err.filename)) != store:
        reason += f" ({os.fsdecode(err.filename)})"
    return BackupStoreError(
        f"Cannot read the backup store {store}: {reason}.",
        "Give this user read access to the folder (read and execute permission, as its owner or through its "
        "group), or set [backup] store to another folder.",
    )


@contextlib.contextmanager
def reading_store(store: Path) -> Iterator[None]:
    """What cannot be read while the store is listed, as one sentence (never a traceback)."""
    try:
        yield
    except OSError as err:
        raise unreadable_store(store, err) from err


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
    """``<store>/.<id>.partial/`` for the block, locked (``flock``) while the block runs; removed if
    the block fails. The caller publishes it (the lock follows the folder through the rename)."""
    folder = store / f".{backup_id}{PARTIAL}"
    folder.mkdir(mode=DIR_MODE)
    held = _open_folder(folder)
    try:
        if fcntl is not None:
            fcntl.flock(held, fcntl.LOCK_EX)  # a folder just made: nobody else holds it
        # "tables" only once the lock is held: an unlocked folder without it may be a backup starting
        (folder / "tables").mkdir(mode=DIR_MODE)
        yield folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        os.close(held)  # drops the lock


def _open_folder(folder: Path) -> int:
    return os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))


@contextlib.contextmanager
def _held_if_abandoned(folder: Path) -> Iterator[bool]:
    """Whether ``folder`` (a partial backup) is abandoned: no process holds its lock and it got as
    far as ``tables``. While the block runs the lock is held here, so no writer can come back to it
    (a writer only ever locks a folder it has just made). False when it vanished meanwhile (published)."""
    try:
        held = _open_folder(folder)
    except FileNotFoundError:
        yield False
        return
    try:
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield (folder / "tables").is_dir()
    finally:
        os.close(held)


def marked_ids(store: Path, suffix: str) -> list[str]:
    """The backup ids of the store's ``.<id><suffix>`` entries (``PARTIAL``, ``DELETING``), sorted."""
    if not readable_store(store):
        return []
    with reading_store(store):
        names = sorted(entry.name for entry in store.iterdir())
    return [
        name[1 : -len(suffix)]
        for name in names
        if name.startswith(".") and name.endswith(suffix) and ID_PATTERN.fullmatch(name[1 : -len(suffix)])
    ]


def unfinished_backups(store: Path) -> tuple[UnfinishedBackup, ...]:
    """The ``.<id>.partial`` folders of the store, each abandoned, in progress, or unknown."""
    found: list[UnfinishedBackup] = []
    for backup_id in marked_ids(store, PARTIAL):
        entry = store / f".{backup_id}{PARTIAL}"
        if fcntl is None:
            found.append(UnfinishedBackup(backup_id, str(entry), "unknown"))
            continue
        try:
            with _held_if_abandoned(entry) as abandoned:
                if abandoned or entry.is_dir():  # else published (or removed) while we looked
                    found.append(UnfinishedBackup(backup_id, str(entry), "abandoned" if abandoned else "in-progress"))
        except PermissionError:  # another user's, in a shared store: whether it is running cannot be told
            found.append(UnfinishedBackup(backup_id, str(entry), "unknown"))
    return tuple(found)


def remove_abandoned(store: Path, backup_id: str, deleting: Path) -> bool:
    """Remove the abandoned partial backup ``backup_id``: renamed to ``deleting`` under its lock (so
    an interrupted removal is finished like any delete), then removed. False when it is not
    abandoned (any more): it was left alone."""
    folder = store / f".{backup_id}{PARTIAL}"
    if fcntl is None or not ID_PATTERN.fullmatch(backup_id):
        return False
    with _held_if_abandoned(folder) as abandoned:
        if not abandoned:
            return False
        os.rename(folder, deleting)
        fsync_dir(store)
    remove_tree(deleting)
    return True


def remove_tree(folder: Path) -> None:
    """``rm -r folder``, where another prune may be removing the same folder at the same time: what
    is already gone is no error (a folder that cannot be removed still is)."""

    def gone_already(function: object, path: str, exc_info: object) -> None:
        error = exc_info[1] if isinstance(exc_info, tuple) else exc_info
        if not isinstance(error, FileNotFoundError):
            raise error  # type: ignore[misc]

    if sys.version_info >= (3, 12):
        shutil.rmtree(folder, onexc=gone_already)
    else:
        shutil.rmtree(folder, onerror=gone_already)


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


def read_backup(folder: Path) -> Manifest:
    """The manifest of the backup in ``folder``, which must name the folder's backup."""
    manifest = read_manifest(folder)
    if manifest.id != folder.name:
        raise misnamed_backup(manifest.id, folder.name)
    return manifest


def misnamed_backup(manifest_id: str, backup_id: str) -> BackupFormatError:
    """A backup folder (or S3 prefix) renamed or copied under another name holds another backup's
    manifest: it is not the backup its name says, so it is never used as one, but it is never hidden."""
    named = manifest_id if ID_PATTERN.fullmatch(manifest_id) else repr(manifest_id)
    return BackupFormatError(
        f"Its manifest names backup {named}, not {backup_id} (the folder's name).",
        "It was renamed or copied: give it back its manifest's name if that backup is not in the store, "
        "else delete it.",
    )


def _has_manifest(folder: Path) -> bool:
    """Whether ``folder`` holds a manifest; one this user cannot look into is a backup that cannot be
    read (another user's, in a shared store), never one silently left out."""
    try:
        return (folder / MANIFEST).is_file()
    except PermissionError:
        return True


def list_backups(store: Path) -> BackupListing:
    """Every published backup of the store, oldest first (partial folders are never listed); those
    whose manifest cannot be read, or names another backup, are in ``unreadable``."""
    if not readable_store(store):
        return BackupListing()
    backups: list[Manifest] = []
    unreadable: list[UnreadableBackup] = []
    with reading_store(store):
        entries = sorted(store.iterdir())
    for entry in entries:
        if not (ID_PATTERN.fullmatch(entry.name) and _has_manifest(entry)):
            continue
        try:
            backups.append(read_backup(entry))
        except BackupFormatError as err:
            unreadable.append(UnreadableBackup(entry.name, err.message, err.hint))
    return BackupListing(backups, unreadable)


def find_backup(store: Path, backup_id: str | None) -> tuple[Path, Manifest]:
    """The folder and manifest of backup ``backup_id``, or of the newest one when None (refused when
    the newest cannot be read: an older one is not what was asked for)."""
    if backup_id is None:
        backups = list_backups(store)
        newest = backups[-1] if backups else None
        blocking = backups.unreadable_in_place_of(newest)
        if blocking is not None:
            raise unreadable_refusal(blocking, newest)
        if newest is None:
            raise BackupNotFoundError(f"There is no backup in {store}.", "Take one with `safemigrate backup`.")
        return store / newest.id, newest
    folder = store / backup_id
    if not ID_PATTERN.fullmatch(backup_id) or not readable_store(store) or not _has_manifest(folder):
        raise BackupNotFoundError(
            f"There is no backup {backup_id!r} in {store}.", "Run `safemigrate backups list` to see the ids."
        )
    return folder, read_backup(folder)
