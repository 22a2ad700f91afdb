"""Which backup a restore means: ``--id``, ``--latest``, or ``--at TIME`` (the newest at or before it).

A backup whose manifest cannot be read is never chosen in place of the one meant: ``--id`` of it says
why it cannot be read, and ``--latest``/``--at`` refuse when it may be the newest they mean.

One store may hold the backups of several databases (staging and prod sharing a bucket). Given the
target database, ``--latest``/``--at`` choose among its own backups only, and ``--id`` of another
database's backup is refused unless the caller says the target was named on purpose (``--to-url``):
restoring staging's rows into prod must never be what "the newest backup" means."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from safemigrate.backup.manifest import Manifest, parse_utc, shown_time
from safemigrate.backup.store import BackupListing, unreadable_refusal
from safemigrate.errors import BackupNotFoundError, InputError, RestoreRefusedError


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


def same_database(manifest: Manifest, database: str) -> bool:
    """Whether ``manifest`` was taken of ``database`` (``host:port/database?schema=``, as
    ``DatabaseUrl.display()`` writes it and the manifest records it): same host (in any case, as host
    names are), port, database and schema."""
    return _where(manifest.database) == _where(database)


def _where(database: str) -> str:
    if database.startswith("/"):  # a socket folder: a path, compared as is
        return database
    host, slash, rest = database.partition("/")
    return host.lower() + slash + rest


def newest_at_or_before(
    backups: Sequence[Manifest], moment: datetime, location: str, database: str | None = None
) -> Manifest:
    candidates = [m for m in backups if created(m) <= moment]
    if not candidates:
        oldest = f" The oldest is {backups[0].id} ({shown_time(backups[0].created_at)})." if backups else ""
        of = f" of {database}" if database is not None else ""
        raise BackupNotFoundError(
            f"There is no backup at or before {moment:%Y-%m-%d %H:%M:%S} UTC{of} in {location}.{oldest}",
            "Run `safemigrate backups list` to see the backups and their times.",
        )
    return max(candidates, key=created)


def choose_backup(
    backups: Sequence[Manifest],
    *,
    backup_id: str | None,
    at: datetime | None,
    location: str,
    database: str | None = None,
    other_database: bool = False,
) -> Manifest:
    """The backup named by id, else the newest at or before ``at``, else the newest of all.

    ``backups`` from a store's ``list()`` also knows the backups that cannot be read (see above).
    ``database``: the target (``host:port/database?schema=``); ``--latest``/``--at`` then choose
    among its backups only, and an id of another database's backup is refused unless
    ``other_database`` (the caller named the target on purpose). None: every backup of the store."""
    listing = backups if isinstance(backups, BackupListing) else BackupListing(backups)
    if backup_id is not None:
        for manifest in listing:
            if manifest.id == backup_id:
                if database is not None and not other_database and not same_database(manifest, database):
                    raise _other_database_refusal(manifest, database)
                return manifest
        unreadable = listing.find_unreadable(backup_id)
        if unreadable is not None:
            raise unreadable.error()
        raise BackupNotFoundError(
            f"There is no backup {backup_id!r} in {location}.", "Run `safemigrate backups list` to see the ids."
        )
    own = [m for m in listing if database is None or same_database(m, database)]
    candidates = [m for m in own if at is None or created(m) <= at]
    chosen = max(candidates, key=lambda m: (created(m), m.id), default=None)
    # An unreadable backup may be of this database (its manifest says nothing readable): it still blocks.
    blocking = listing.unreadable_in_place_of(chosen, at)
    if blocking is not None:
        raise unreadable_refusal(blocking, chosen)
    if chosen is not None:
        return chosen
    if database is not None and not own and listing:
        raise _no_backup_of(database, listing, at, location)
    if at is not None:
        # says there is none, and which is the oldest
        return newest_at_or_before(own, at, location, database)
    raise BackupNotFoundError(f"There is no backup in {location}.", "Take one with `safemigrate backup`.")


def _other_database_refusal(manifest: Manifest, database: str) -> RestoreRefusedError:
    return RestoreRefusedError(
        f"Backup {manifest.id} was taken of {manifest.database}, not of {database}, the database it would "
        "restore into; nothing was restored.",
        "Check the id (`safemigrate backups list` shows each backup's database); to restore it into that "
        "database all the same, name the database with --to-url.",
    )


def _no_backup_of(
    database: str, listing: Sequence[Manifest], at: datetime | None, location: str
) -> BackupNotFoundError:
    """--latest/--at into a database the store holds no backup of: which databases it has backups of."""
    newest: dict[str, Manifest] = {}
    counts: dict[str, int] = {}
    for manifest in sorted(listing, key=lambda m: (created(m), m.id)):
        newest[manifest.database] = manifest
        counts[manifest.database] = counts.get(manifest.database, 0) + 1
    held = " and ".join(
        f"{counts[where]} backup{'s' if counts[where] != 1 else ''} of {where} (the newest {m.id})"
        for where, m in newest.items()
    )
    example = max(newest.values(), key=lambda m: (created(m), m.id))
    when = f" at or before {at:%Y-%m-%d %H:%M:%S} UTC" if at is not None else ""
    return BackupNotFoundError(
        f"There is no backup{when} of {database} in {location}: it holds {held}.",
        f"To restore one of them into this database, name it and the database: `safemigrate restore --id "
        f"{example.id} --to-url URL`; or check --database-url.",
    )
