"""``status --format json``: one document, keys in a fixed order, times in UTC ISO 8601 (``...Z``).

    {"version": 1, "tool": "safemigrate 0.1.0",
     "database": {"url": "postgresql://app:****@db:5432/app", "schema": "public",
                  "has_migrations_table": true, "rows": 4, "needs_baseline": false, "unmanaged_tables": []},
     "migrations_dir": "prisma/migrations",
     "migrations": [{"name": "20240101000000_init", "state": "applied", "local": true,
                     "checksum": {"file": "c16d...", "recorded": "c16d...", "matches": true},
                     "started_at": "...Z", "applied_at": "...Z", "rolled_back_at": null,
                     "applied_steps_count": 1, "attempts": 1, "logs": null}],
     "summary": {"applied": 1, "pending": 0, "failed": 0, "rolled_back": 0, "edited": 0,
                 "missing_locally": 0, "in_sync": true}}

``state`` is one of applied, pending, failed, rolled_back, edited, missing_locally; ``logs`` is set
for failed migrations only. The returned text has no trailing newline.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from safemigrate.status import MigrationStatus, StatusReport

FORMAT_VERSION = 1


def _time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _migration(m: MigrationStatus) -> dict[str, Any]:
    return {
        "name": m.name,
        "state": m.state,
        "local": m.local,
        "checksum": {"file": m.checksum, "recorded": m.recorded_checksum, "matches": m.checksum_matches},
        "started_at": _time(m.started_at),
        "applied_at": _time(m.applied_at),
        "rolled_back_at": _time(m.rolled_back_at),
        "applied_steps_count": m.applied_steps_count,
        "attempts": m.attempts,
        "logs": m.logs,
    }


def status_document(report: StatusReport, tool_version: str) -> dict[str, Any]:
    return {
        "version": FORMAT_VERSION,
        "tool": f"safemigrate {tool_version}",
        "database": {
            "url": report.database or None,
            "schema": report.schema,
            "has_migrations_table": report.has_migrations_table,
            "rows": report.rows,
            "needs_baseline": report.needs_baseline,
            "unmanaged_tables": list(report.unmanaged_tables),
        },
        "migrations_dir": str(report.migrations_dir) if report.migrations_dir is not None else None,
        "migrations": [_migration(m) for m in report.migrations],
        "summary": {**report.counts, "in_sync": report.in_sync},
    }


def render_status_json(report: StatusReport, tool_version: str, *, pretty: bool = True) -> str:
    document = status_document(report, tool_version)
    if pretty:
        return json.dumps(document, indent=2, ensure_ascii=False)
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))
