"""Events built from ledger entries, rollbacks, failed backups and the newest backup's age."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from safemigrate.notify import backup_failed_event, rollback_event, run_event, stale_backup_event
from safemigrate.pipeline.rollback import RollbackResult
from tests.notify.ledger import DATABASE, MIGRATIONS, blocker, ledger_entry, problem

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Backup:  # the three fields a Manifest gives
    id: str
    created_at: str
    database: str = "db.internal:5432/app?schema=public"


@pytest.mark.parametrize(
    ("verdict", "kind"),
    [
        ("applied", "run_finished"),
        ("up to date", "run_finished"),
        ("refused", "run_refused"),
        ("failed", "run_failed"),
        ("interrupted", "run_failed"),
        ("rolled back", "run_rolled_back"),
    ],
)
def test_each_verdict_has_its_event(verdict: str, kind: str) -> None:
    event = run_event(ledger_entry(verdict))
    assert event is not None
    assert event.kind == kind
    assert event.time == "2026-12-01T10:15:42.000Z"
    assert event.run is not None
    assert event.run.migrations == MIGRATIONS
    assert event.run.backup_id == "20261201T101501Z-d4e5f6"


def test_an_unknown_verdict_has_no_event() -> None:
    assert run_event({"id": "x", "verdict": "pending"}) is None


def test_the_first_problem_is_the_first_verification_difference() -> None:
    entry = ledger_entry("rolled back", problems=(problem('"User"'), problem('"Post"')), blockers=(blocker(),))
    event = run_event(entry)
    assert event is not None and event.run is not None
    assert event.run.first_problem == '"User": rows 120 before, 119 after'
    assert event.run.rolled_back_by == "migrate"
    assert "the database is as it was" in event.title


def test_a_refusal_names_its_first_blocking_finding() -> None:
    event = run_event(ledger_entry("refused", blockers=(blocker(),)))
    assert event is not None and event.run is not None
    assert event.run.first_problem == (
        "drop-column at prisma/migrations/20261201_drop_legacy/migration.sql:3: "
        'Dropping "User"."legacy" loses its data.'
    )


def test_a_failure_without_problems_reports_its_message_and_applied_reports_none() -> None:
    failed = run_event(ledger_entry("failed", "Failed: 20261201_drop_legacy failed at migration.sql:3:1: 42P01."))
    applied = run_event(ledger_entry("applied", "Applied 2 migration(s); verification passed."))
    assert failed is not None and failed.run is not None and applied is not None and applied.run is not None
    assert failed.run.first_problem.startswith("Failed: 20261201_drop_legacy failed")
    assert applied.run.first_problem == ""


def test_passwords_are_masked_in_the_database_and_the_message() -> None:
    entry = ledger_entry(
        "failed",
        "Cannot connect to postgresql://app:hunter2@db.internal/app: refused.",
        database="postgresql://app:hunter2@db.internal:5432/app",
    )
    event = run_event(entry)
    assert event is not None and event.run is not None
    assert "hunter2" not in repr(event)
    assert event.run.database == "postgresql://app:****@db.internal:5432/app"


def test_a_rollback_ledger_record_is_by_the_rollback_command() -> None:
    entry = ledger_entry("applied")
    entry["verdict"] = "rolled back"
    entry["rolled_back"] = {"by": "safemigrate rollback", "restored": ["User"]}
    event = run_event(entry)
    assert event is not None and event.run is not None
    assert event.run.rolled_back_by == "rollback"
    assert event.run.restored == ("User",)


def test_rollback_event_reads_a_rollback_result() -> None:
    result = RollbackResult("20261201T101500Z-a1b2c3", "20261201T101501Z-d4e5f6", MIGRATIONS, ('"User"',), (), 2)
    event = rollback_event(result, database=DATABASE, now=NOW)
    assert event.kind == "run_rolled_back"
    assert event.time == "2026-12-02T12:00:00Z"
    assert event.run is not None
    assert (event.run.rolled_back_by, event.run.restored, event.run.migrations) == ("rollback", ('"User"',), MIGRATIONS)
    assert "rolled back on postgresql://app:****@db.internal:5432/app" in event.title


def test_backup_failed_masks_the_password_in_its_error() -> None:
    event = backup_failed_event(
        "Cannot reach postgresql://app:hunter2@db/app: connection refused.", database=DATABASE, now=NOW
    )
    assert event.kind == "backup_failed"
    assert event.backup is not None
    assert event.backup.error == "Cannot reach postgresql://app:****@db/app: connection refused."
    assert "hunter2" not in repr(event)


def test_a_recent_backup_is_not_stale() -> None:
    backups = [Backup("old", "2026-11-01T00:00:00Z"), Backup("new", "2026-12-02T00:00:00.123Z")]
    assert stale_backup_event(backups, 26 * 3600, NOW) is None


def test_the_newest_backup_older_than_the_maximum_is_stale() -> None:
    created = NOW - timedelta(hours=30)
    backups = [Backup("older", "2026-11-01T00:00:00Z"), Backup("newest", created.isoformat())]
    event = stale_backup_event(backups, 26 * 3600, NOW, store=".safemigrate/backups")
    assert event is not None and event.backup is not None
    assert event.kind == "backup_stale"
    assert event.backup.id == "newest"
    assert event.backup.age_seconds == 30 * 3600
    assert event.title == "The newest backup of db.internal:5432/app?schema=public is 30 h old (maximum 26 h)"


def test_no_backup_at_all_is_stale_and_no_maximum_means_no_check() -> None:
    event = stale_backup_event([], 26 * 3600, NOW, store="s3://bucket/backups")
    assert event is not None and event.backup is not None
    assert event.backup.id is None
    assert event.title == "No backup of s3://bucket/backups (maximum age 26 h)"
    assert stale_backup_event([], None, NOW) is None


def test_rollback_event_names_the_migrations_it_marked_and_only_those() -> None:
    result = RollbackResult(
        "20261201T101500Z-a1b2c3",
        "20261201T101501Z-d4e5f6",
        MIGRATIONS,
        ('"User"',),
        (),
        1,
        marked=MIGRATIONS[:1],
        not_marked=(f"{MIGRATIONS[-1]} (never started: no row in _prisma_migrations)",),
    )
    event = rollback_event(result, database=DATABASE, now=NOW)
    assert event.run is not None
    assert event.run.message.endswith(f"marked rolled back: {MIGRATIONS[0]}.")
    nothing = rollback_event(RollbackResult("r", "b", MIGRATIONS, (), (), 0), database=DATABASE, now=NOW)
    assert nothing.run is not None and nothing.run.message.endswith("no migration needed marking.")
