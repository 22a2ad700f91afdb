"""The ``[notifications]`` table of safemigrate.toml::

    [notifications]
    backup_max_age = "26h"             # optional: alert when the newest backup is older than this

    [[notifications.webhooks]]
    kind = "slack"                     # slack (incoming webhook) | json (safemigrate's own JSON body)
    url_env = "SLACK_WEBHOOK_URL"      # the environment variable holding the URL (never the URL itself)
    events = ["run_refused", "run_failed", "run_rolled_back", "backup_failed", "backup_stale"]  # default: all
    timeout = "5s"                     # per attempt, as a whole (default 5 s)

A webhook URL is a secret (whoever has it can post to the channel), so the file only names the
environment variable that holds it; a ``url`` key is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from safemigrate.config import _duration
from safemigrate.errors import ConfigError

EventKind = Literal["run_finished", "run_refused", "run_failed", "run_rolled_back", "backup_failed", "backup_stale"]
EVENTS: tuple[EventKind, ...] = (
    "run_finished",  # migrate ended applied or up to date
    "run_refused",  # migrate refused before changing anything
    "run_failed",  # migrate failed (an error, or a non-transactional part committed)
    "run_rolled_back",  # migrate undid its own changes, or `safemigrate rollback` restored a run's backup
    "backup_failed",  # a backup could not be taken
    "backup_stale",  # the newest backup is older than backup_max_age (or there is none)
)
WebhookKind = Literal["slack", "json"]
WEBHOOK_KINDS: tuple[WebhookKind, ...] = ("slack", "json")
DEFAULT_TIMEOUT = 5.0
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HINT = "See docs/notifications.md."


@dataclass(frozen=True)
class Webhook:
    kind: WebhookKind
    url_env: str  # the environment variable holding the URL
    events: tuple[EventKind, ...] = EVENTS
    timeout: float = DEFAULT_TIMEOUT  # seconds, per attempt as a whole (connect and answer)


@dataclass(frozen=True)
class NotificationsConfig:
    webhooks: tuple[Webhook, ...] = ()
    backup_max_age: float | None = None  # seconds; None: no staleness alert


def parse_notifications(data: Mapping[str, Any], where: str) -> NotificationsConfig:
    """Validate the ``[notifications]`` table of the settings document ``data``."""
    table = data.get("notifications", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [notifications] must be a table.", _HINT)
    _check_keys(table, {"webhooks", "backup_max_age"}, f"{where} [notifications]")
    max_age = None
    if "backup_max_age" in table:
        max_age = _positive_duration(table["backup_max_age"], "backup_max_age", f"{where} [notifications]")
    entries = table.get("webhooks", [])
    if not isinstance(entries, list):
        raise ConfigError(
            f"{where}: [notifications] webhooks must be a list of [[notifications.webhooks]] tables.", _HINT
        )
    webhooks = tuple(
        _parse_webhook(entry, f"{where} [[notifications.webhooks]] #{number}")
        for number, entry in enumerate(entries, start=1)
    )
    return NotificationsConfig(webhooks, max_age)


def _parse_webhook(entry: object, where: str) -> Webhook:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a table with kind and url_env.", _HINT)
    if "url" in entry:
        raise ConfigError(
            f"{where}: a webhook URL is a secret and does not belong in the file.",
            'Put it in an environment variable and name that variable with url_env = "SLACK_WEBHOOK_URL".',
        )
    _check_keys(entry, {"kind", "url_env", "events", "timeout"}, where)
    kind = entry.get("kind")
    if kind not in WEBHOOK_KINDS:
        raise ConfigError(f"{where}: kind must be one of {', '.join(WEBHOOK_KINDS)}, not {kind!r}.", _HINT)
    url_env = entry.get("url_env")
    if not isinstance(url_env, str) or not _ENV_NAME.fullmatch(url_env):
        raise ConfigError(
            f"{where}: url_env must name the environment variable that holds the webhook URL, not {url_env!r}.",
            'For example url_env = "SLACK_WEBHOOK_URL".',
        )
    events = entry.get("events", list(EVENTS))
    if not isinstance(events, list) or not events:
        raise ConfigError(f"{where}: events must be a non-empty list of event names (leave it out for all).", _HINT)
    for event in events:
        if event not in EVENTS:
            raise ConfigError(f"{where}: unknown event {event!r}.", f"Events: {', '.join(EVENTS)}.")
    timeout = _positive_duration(entry.get("timeout", DEFAULT_TIMEOUT), "timeout", where)
    return Webhook(kind, url_env, tuple(e for e in EVENTS if e in events), timeout)


def _positive_duration(value: object, key: str, where: str) -> float:
    seconds = _duration(value, key, where)
    if seconds <= 0:
        raise ConfigError(f"{where}: {key} must be more than 0.", _HINT)
    return seconds


def _check_keys(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting(s) {', '.join(unknown)}.", f"Allowed here: {', '.join(sorted(allowed))}."
        )
