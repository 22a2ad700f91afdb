"""The bodies posted to webhooks: Slack's incoming-webhook message and safemigrate's own JSON.

Slack (https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks): ``text`` is the
notification's fallback, ``blocks`` the message (a header, the facts as section fields, the first
problem, a context line). Slack's limits are kept: a header's text 150 characters, a section's 3000,
a field's 2000, at most 10 fields. ``&``, ``<`` and ``>`` are escaped because Slack reads them as
markup (``<!channel>`` would ping everyone).

The JSON body (``"schema": "safemigrate-notification"``, ``"version": 1``) is documented in
docs/notifications.md; fields are only ever added within a version.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from safemigrate import __version__
from safemigrate.notify.events import Event, duration_text

SCHEMA = "safemigrate-notification"
VERSION = 1
_HEADER_CHARS = 150
_SECTION_CHARS = 3000
_FIELD_CHARS = 2000
_EMOJI = {
    "run_finished": ":white_check_mark:",
    "run_refused": ":no_entry:",
    "run_failed": ":x:",
    "run_rolled_back": ":rewind:",
    "backup_failed": ":x:",
    "backup_stale": ":hourglass:",
}


def json_payload(event: Event) -> dict[str, Any]:
    """The generic webhook body, version 1."""
    run = None
    if event.run is not None:
        run = asdict(event.run)
        run["migrations"] = list(event.run.migrations)
        run["restored"] = list(event.run.restored)
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "event": event.kind,
        "time": event.time,
        "title": event.title,
        "tool": {"name": "safemigrate", "version": __version__},
        "run": run,
        "backup": asdict(event.backup) if event.backup is not None else None,
    }


def slack_payload(event: Event) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``{"text": ..., "blocks": [...]}``."""
    emoji = _EMOJI[event.kind]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(f"{emoji} {event.title}", _HEADER_CHARS), "emoji": True},
        }
    ]
    fields, problem, context = _facts(event)
    if fields:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": _cut(f"*{label}*\n{escape(value)}", _FIELD_CHARS)}
                    for label, value in fields[:10]
                ],
            }
        )
    if problem:
        label = "Error" if event.kind == "backup_failed" else "First problem"
        text = _cut(f"*{label}*\n{escape(problem)}", _SECTION_CHARS)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": escape(f"safemigrate {__version__} · {event.kind} · {context}")}],
        }
    )
    text = escape(event.title) + (f": {escape(problem)}" if problem else "")
    return {"text": _cut(f"{emoji} {text}", _SECTION_CHARS), "blocks": blocks}


def _facts(event: Event) -> tuple[list[tuple[str, str]], str, str]:
    """(label, value) fields, the problem sentence and the context line of ``event``."""
    fields: list[tuple[str, str]] = []
    if event.run is not None:
        run = event.run
        verdict = run.verdict
        if run.rolled_back_by == "rollback":
            verdict += " (safemigrate rollback)"
        elif run.rolled_back_by == "migrate":
            verdict += " (by the run itself)"
        fields.append(("Verdict", verdict))
        fields.append(("Database", run.database))
        fields.append(("Migrations", ", ".join(run.migrations) or "none pending"))
        fields.append(("Backup", run.backup_id or "none"))
        if run.restored:
            fields.append(("Restored", ", ".join(run.restored)))
        problem = run.first_problem
        if not problem and run.verdict not in ("applied", "up to date"):
            problem = run.message
        return fields, problem, f"run {run.id} · {event.time}" if run.id else event.time
    if event.backup is not None:
        backup = event.backup
        fields.append(("Database", backup.database or "unknown"))
        if backup.store:
            fields.append(("Store", backup.store))
        if event.kind == "backup_stale":
            fields.append(("Newest backup", f"{backup.id} ({backup.created_at})" if backup.id else "none"))
            if backup.age_seconds is not None:
                fields.append(("Age", duration_text(backup.age_seconds)))
            if backup.max_age_seconds is not None:
                fields.append(("Maximum age", duration_text(backup.max_age_seconds)))
        return fields, backup.error, event.time
    return fields, "", event.time


def escape(text: str) -> str:
    """Text safe in Slack mrkdwn: the three characters Slack reads as markup, escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
