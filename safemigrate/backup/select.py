"""Which backup a restore means: ``--id``, ``--latest``, or ``--at TIME`` (the newest at or before it).

A backup whose manifest cannot be read is never chosen in place of the one meant: ``--id`` of it says
why it cannot be read, and ``--latest``/``--at`` refuse when it may be the newest they mean."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from safemigrate.backup.manifest import Manifest, parse_utc, shown_time
from safemigrate.backup.store import BackupListing, unreadable_refusal
from safemigrate.errors import BackupNotFoundError, InputError


def parse_time(text: str) -> datetime:
    """``2026-11-20 14:00``, ``2026-11-20T14:00:05``, ``2026-11-20`` or with an offset (``Z``, ``+01:00``).

    A time without an offset is UTC, like the times ``backups list`` shows."""
    try:
        return parse_utc(text)
    except ValueError as err:
        what = "is out of the range of dates" if "range" in str(err) else "is not a date and time"
        raise InputError(
            f"--at {text!r} {what}.",
            'Write it like "2026-11-20 14:00" (UTC) or "2026-11-20T14:00:00+01:00".',
        ) from None


def created(manifest: Manifest) -> datetime:
    """The manifest's time (checked when the manifest was read)."""
    return parse_utc(manifest.created_at)


def newest_at_or_before(backups: Sequence[Manifest], moment: datetime, location: str) -> Manifest:
    candidates = [m for m in backups if created(m) <= moment]
    if not candidates:
        oldest = f" The oldest is {backups[0].id} ({shown_time(backups[0].created_at)})." if backups else ""
        raise BackupNotFoundError(
            f"There is no backup at or before {moment:%Y-%m-%d %H:%M:%S} UTC in {location}.{oldest}",
            "Run `safemigrate backups list` to see the backups and their times.",
        )
    return max(candidates, key=created)


def choose_backup(
    backups: Sequence[Manifest], *, backup_id: str | None, at: datetime | None, location: str
) -> Manifest:
    """The backup named by id, else the newest at or before ``at``, else the newest of all.

    ``backups`` from a store's ``list()`` also knows the backups that cannot be read (see above)."""
    listing = backups if isinstance(backups, BackupListing) else BackupListing(backups)
    if backup_id is not None:
        for manifest in listing:
            if manifest.id == backup_id:
                return manifest
        unreadable = listing.find_unreadable(backup_id)
        if unreadable is not None:
            raise unreadable.error()
        raise BackupNotFoundError(
            f"There is no backup {backup_id!r} in {location}.", "Run `safemigrate backups list` to see the ids."
        )
    candidates = [m for m in listing if at is None or created(m) <= at]
    chosen = max(candidates, key=lambda m: (created(m), m.id), default=None)
    blocking = listing.unreadable_in_place_of(chosen, at)
    if blocking is not None:
        raise unreadable_refusal(blocking, chosen)
    if chosen is not None:
        return chosen
    if at is not None:
        return newest_at_or_before(listing, at, location)  # says there is none, and which is the oldest
    raise BackupNotFoundError(f"There is no backup in {location}.", "Take one with `safemigrate backup`.")
