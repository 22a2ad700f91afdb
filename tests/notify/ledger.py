"""Ledger entries made by the pipeline's own run_to_dict, so the notifications read the real shape."""

from __future__ import annotations

from typing import Any

from safemigrate.lint.findings import Finding
from safemigrate.lint.rule import Category, ObjectRef, Severity
from safemigrate.pipeline.migrate import MigrateRun, Problem, run_to_dict

DATABASE = "postgresql://app:****@db.internal:5432/app?schema=public"
MIGRATIONS = ("20261130_add_email", "20261201_drop_legacy")


def ledger_entry(verdict: Any, message: str = "", **changes: Any) -> dict[str, Any]:
    run = MigrateRun(
        id="20261201T101500Z-a1b2c3",
        started_at="2026-12-01T10:15:00.000Z",
        database=changes.pop("database", DATABASE),
        migrations=MIGRATIONS,
        verdict=verdict,
        message=message or f"The run was {verdict}.",
        backup_id="20261201T101501Z-d4e5f6",
        finished_at="2026-12-01T10:15:42.000Z",
        **changes,
    )
    return run_to_dict(run)


def blocker(rule: str = "drop-column", message: str = 'Dropping "User"."legacy" loses its data.') -> Finding:
    return Finding(
        rule=rule,
        rule_id="SM001",
        category=Category.DATA_LOSS,
        severity=Severity.ERROR,
        file="prisma/migrations/20261201_drop_legacy/migration.sql",
        line=3,
        column=1,
        end_line=3,
        migration="20261201_drop_legacy",
        statement_index=0,
        object=ObjectRef("public", "User", "legacy"),
        message=message,
        help="",
    )


def problem(subject: str = '"User"', detail: str = "rows 120 before, 119 after") -> Problem:
    return Problem("rows", subject, detail)
