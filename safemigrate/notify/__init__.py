"""Webhook notifications: Slack incoming webhooks and a generic JSON webhook.

The pipeline calls one of these after the fact; none of them raises, each returns one
:class:`Delivery` per webhook tried, for the caller to report (a failing webhook never fails a
migration)::

    notify_run(run_to_dict(run), config.notifications)            # after `migrate` saved its ledger entry
    notify_rollback(result, config.notifications, database=...)   # after `safemigrate rollback`
    notify_backup_failed(err.message, config.notifications, ...)  # when `backup` raised a BackupError
    notify_stale_backups(store.list(), config.notifications)      # from `notify check` (a schedule)

Configuration: :func:`parse_notifications` (the ``[notifications]`` table). See docs/notifications.md.
"""

from safemigrate.notify.events import (
    BackupFacts,
    Event,
    RunFacts,
    backup_failed_event,
    rollback_event,
    run_event,
    stale_backup_event,
)
from safemigrate.notify.payloads import json_payload, slack_payload
from safemigrate.notify.send import (
    Delivery,
    notify_backup_failed,
    notify_rollback,
    notify_run,
    notify_stale_backups,
    redact_webhook_url,
    send,
)
from safemigrate.notify.settings import EVENTS, NotificationsConfig, Webhook, parse_notifications

__all__ = [
    "EVENTS",
    "BackupFacts",
    "Delivery",
    "Event",
    "NotificationsConfig",
    "RunFacts",
    "Webhook",
    "backup_failed_event",
    "json_payload",
    "notify_backup_failed",
    "notify_rollback",
    "notify_run",
    "notify_stale_backups",
    "parse_notifications",
    "redact_webhook_url",
    "rollback_event",
    "run_event",
    "send",
    "slack_payload",
    "stale_backup_event",
]
