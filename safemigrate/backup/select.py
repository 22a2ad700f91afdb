"""Which backup a restore means: ``--id``, ``--latest``, or ``--at TIME`` (the newest at or before it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from safemigrate.backup.manifest import Manifest
from safemigrate.errors import BackupNotFoundError, InputError


def parse_time(text: str) -> datetime:
    """``2026-11-20 14:00``, ``2026-11-20T14:00:05``, ``2026-11-20`` or with an offset (``Z``, ``+01:00``).

    A time without an offset is UTC, like the times ``backups list`` shows."""
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise InputError(
            f"--at {text!r} is not a date and time.",
            'Write it like "2026-11-20 14:00" (UTC) or "2026-11-20T14:00:00+01:00".',
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def created(manifest: Manifest) -> datetime:
    return parse_time(manifest.created_at)


def newest_at_or_before(backups: Sequence[Manifest], moment: datetime, location: str) -> Manifest:
    candidates = [m for m in backups if created(m) <= moment]
    if not candidates:
        oldest = f" The oldest is {backups[0].id} ({backups[0].created_at})." if backups else ""
        raise BackupNotFoundError(
            f"There is no backup at or before {moment:%Y-%m-%d %H:%M:%S} UTC in {location}.{oldest}",
            "Run `safemigrate backups list` to see the backups and their times.",
        )
    return max(candidates, key=created)


def choose_backup(
    backups: Sequence[Manifest], *, backup_id: str | None, at: datetime | None, location: str
) -> Manifest:
    """The backup named by id, else the newest at or before ``at``, else the newest of all."""
    if backup_id is not None:
        for manifest in backups:
            if manifest.id == backup_id:
                return manifest
        raise BackupNotFoundError(
            f"There is no backup {backup_id!r} in {location}.", "Run `safemigrate backups list` to see the ids."
        )
    if not backups:
        raise BackupNotFoundError(f"There is no backup in {location}.", "Take one with `safemigrate backup`.")
    if at is not None:
        return newest_at_or_before(backups, at, location)
    return max(backups, key=created)
