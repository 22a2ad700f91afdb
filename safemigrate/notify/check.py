"""`safemigrate notify check`: is the newest backup of the project recent enough? (The scheduled
check: a cron job or CI schedule runs it, and the webhooks hear of a stale backup store.)"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from safemigrate.notify.events import BackupLike, Event, stale_backup_event
from safemigrate.notify.send import Delivery, send

if TYPE_CHECKING:
    from safemigrate.backup.project import BackupSetup


@dataclass(frozen=True)
class BackupAgeCheck:
    configured: bool  # [notifications] backup_max_age is set
    stale: Event | None  # the backup_stale event, when the newest backup is too old (or none exists)
    deliveries: tuple[Delivery, ...]  # the webhooks told of it

    @property
    def failed(self) -> bool:
        return self.stale is not None or any(not d.ok for d in self.deliveries)


def check_backup_age(
    project_dir: Path = Path("."),
    config_file: Path | None = None,
    *,
    now: datetime | None = None,
    environ: Mapping[str, str] | None = None,
) -> BackupAgeCheck:
    """Compare the newest backup of the project's store with ``[notifications] backup_max_age``;
    tell the webhooks when it is older (``backup_stale``). Nothing is checked when no age is set."""
    from safemigrate.backup.project import backup_setup

    setup = backup_setup(project_dir, config_file)
    settings = setup.config.notifications
    if settings.backup_max_age is None:
        return BackupAgeCheck(False, None, ())
    stale = stale_store(setup, setup.store.list(), now)
    deliveries = send(stale, settings, environ if environ is not None else os.environ) if stale is not None else ()
    return BackupAgeCheck(True, stale, deliveries)


def stale_store(setup: BackupSetup, listing: Sequence[BackupLike], now: datetime | None = None) -> Event | None:
    """The ``backup_stale`` finding for the store's ``listing`` (None when ``[notifications]
    backup_max_age`` is not set or the newest backup is recent enough); nothing is sent."""
    return stale_backup_event(
        listing,
        setup.config.notifications.backup_max_age,
        now or datetime.now(timezone.utc),
        store=setup.store.location,
    )
