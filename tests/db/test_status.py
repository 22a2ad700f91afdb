"""`safemigrate status` as a library: states, precedence, ordering, sync rules and both renderings.

The states are computed from rows (no database needed) and then read from a real database whose
rows safemigrate wrote; agreement with `prisma migrate status` is in test_status_prisma_cli.py.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from safemigrate.db import prisma_migrations as pm
from safemigrate.migrations import Migration, list_migrations
from safemigrate.report.status_json import render_status_json, status_document
from safemigrate.report.status_text import render_status_text
from safemigrate.status import (
    APPLIED,
    EDITED,
    FAILED,
    MISSING_LOCALLY,
    PENDING,
    ROLLED_BACK,
    STATES,
    StatusReport,
    compute_status,
    read_status,
)

T0 = datetime(2024, 1, 1, 12, tzinfo=timezone.utc)
INIT = b'-- CreateTable\r\nCREATE TABLE "User" ("id" SERIAL NOT NULL);\r\n'
POST = b'-- CreateTable\nCREATE TABLE "Post" ("id" SERIAL NOT NULL);\n'
VIEWS = b'-- AlterTable\nALTER TABLE "Post" ADD COLUMN "views" INTEGER;\n'


def migration(name: str, data: bytes) -> Migration:
    return Migration(name, Path("prisma/migrations") / name, Path("prisma/migrations") / name / "migration.sql", data)


def row(
    name: str,
    data: bytes,
    minute: int,
    *,
    finished: bool = True,
    rolled_back: bool = False,
    logs: str | None = None,
    checksum: str | None = None,
) -> pm.MigrationRow:
    started = T0 + timedelta(minutes=minute)
    return pm.MigrationRow(
        str(uuid.uuid4()),
        checksum if checksum is not None else pm.render_checksum(data),
        started + timedelta(seconds=1) if finished else None,
        name,
        logs,
        started + timedelta(seconds=30) if rolled_back else None,
        started,
        1 if finished else 0,
    )


def states(report_or_statuses: StatusReport | tuple[object, ...]) -> dict[str, str]:
    statuses = report_or_statuses.migrations if isinstance(report_or_statuses, StatusReport) else report_or_statuses
    return {m.name: m.state for m in statuses}  # type: ignore[attr-defined]


def report_of(migrations: list[Migration], rows: list[pm.MigrationRow], *, table: bool = True) -> StatusReport:
    return StatusReport(compute_status(migrations, rows), "public", table, (), len(rows), Path("prisma/migrations"))


# --- states --------------------------------------------------------------------------------------


def test_each_state() -> None:
    local = [
        migration("20240101_init", INIT),
        migration("20240102_post", POST),
        migration("20240103_views", VIEWS),
        migration("20240104_edited", b"SELECT 2;\n"),
        migration("20240106_pending", b"SELECT 3;\n"),
    ]
    rows = [
        row("20240101_init", INIT, 0),
        row("20240102_post", POST, 1, finished=False, logs="boom"),
        row("20240103_views", VIEWS, 2, finished=False, rolled_back=True, logs="boom"),
        row("20240104_edited", b"SELECT 1;\n", 3),
        row("20240105_gone", b"SELECT 9;\n", 4),
    ]
    report = report_of(local, rows)
    assert states(report) == {
        "20240101_init": APPLIED,
        "20240102_post": FAILED,
        "20240103_views": ROLLED_BACK,
        "20240104_edited": EDITED,
        "20240105_gone": MISSING_LOCALLY,
        "20240106_pending": PENDING,
    }
    by_name = {m.name: m for m in report.migrations}
    assert by_name["20240102_post"].logs == "boom"
    assert by_name["20240103_views"].logs is None  # logs are shown for failed migrations only
    assert by_name["20240104_edited"].checksum_matches is False
    assert by_name["20240101_init"].checksum_matches is True
    assert by_name["20240106_pending"].checksum_matches is None and by_name["20240106_pending"].attempts == 0
    assert by_name["20240105_gone"].local is False and by_name["20240105_gone"].checksum is None
    assert report.counts == {APPLIED: 1, PENDING: 1, FAILED: 1, ROLLED_BACK: 1, EDITED: 1, MISSING_LOCALLY: 1}
    assert not report.in_sync


def test_crlf_and_legacy_checksums_count_as_unchanged() -> None:
    crlf_applied_lf_local = row("20240101_init", INIT.replace(b"\r\n", b"\n"), 0)
    digest = next(
        (s, pm.hashlib.sha256(s).digest())
        for s in (b"SELECT %d;\n" % i for i in range(1000))
        if min(pm.hashlib.sha256(s).digest()) < 0x10
    )
    legacy = row("20240102_legacy", digest[0], 1, checksum="".join(format(b, "x") for b in digest[1]))
    report = report_of(
        [migration("20240101_init", INIT), migration("20240102_legacy", digest[0])], [crlf_applied_lf_local, legacy]
    )
    assert states(report) == {"20240101_init": APPLIED, "20240102_legacy": APPLIED}
    assert report.in_sync


def test_failed_row_wins_then_latest_applied_then_latest_row() -> None:
    local = [migration("a", POST), migration("b", POST), migration("c", POST)]
    rows = [
        row("a", POST, 0),  # applied, then a failed retry (written by hand): deploy refuses, so failed
        row("a", POST, 1, finished=False, logs="second"),
        row("b", b"old\n", 2, finished=False, rolled_back=True),  # failed with an old file, rolled back
        row("b", POST, 3),  # fixed and re-applied: the applied row decides, its checksum matches
        row("c", POST, 4, finished=False, rolled_back=True),
        row("c", POST, 5, finished=False, rolled_back=True, logs="latest"),
    ]
    report = report_of(local, rows)
    by_name = {m.name: m for m in report.migrations}
    assert (by_name["a"].state, by_name["a"].logs, by_name["a"].attempts) == (FAILED, "second", 2)
    assert (by_name["b"].state, by_name["b"].applied_at) == (APPLIED, T0 + timedelta(minutes=3, seconds=1))
    assert by_name["c"].state == ROLLED_BACK and by_name["c"].started_at == T0 + timedelta(minutes=5)


def test_order_is_prismas_folder_order_with_recorded_ones_merged() -> None:
    local = [migration("20240101_a", POST), migration("20240301_c", POST)]
    rows = [row("20240301_c", POST, 0), row("20240201_b", POST, 1)]
    assert list(states(report_of(local, rows))) == ["20240101_a", "20240201_b", "20240301_c"]


def test_sync_rules() -> None:
    local = [migration("a", POST)]
    assert report_of(local, [row("a", POST, 0)]).in_sync
    assert not report_of(local, []).in_sync  # pending
    # The rolled-back attempts of a migration whose folder is gone are history, not a difference.
    history = report_of(local, [row("a", POST, 0), row("gone", POST, 1, finished=False, rolled_back=True)])
    assert states(history)["gone"] == ROLLED_BACK and history.in_sync
    # A schema with tables but no _prisma_migrations must be baselined first.
    baseline = StatusReport(compute_status([], []), "public", False, ("Legacy",), 0)
    assert baseline.needs_baseline and not baseline.in_sync
    empty = StatusReport(compute_status([], []), "public", False, (), 0)
    assert empty.in_sync and not empty.needs_baseline


# --- from a real database ------------------------------------------------------------------------


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[object]]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection  # type: ignore[misc]


def deploy(conn: psycopg.Connection[object], name: str, script: bytes) -> None:
    """What migrate deploy does: record the start, run the script, count the step, record the finish."""
    row_id = pm.record_migration_started(conn, "public", name, script)
    conn.execute(script)
    pm.record_successful_step(conn, "public", row_id)
    pm.record_migration_finished(conn, "public", row_id)


def test_read_status_from_rows_safemigrate_wrote(conn: psycopg.Connection[object], tmp_path: Path) -> None:
    migrations_dir = tmp_path / "migrations"
    for name, data in (("20240101_init", INIT), ("20240102_post", POST), ("20240103_views", VIEWS)):
        (migrations_dir / name).mkdir(parents=True)
        (migrations_dir / name / "migration.sql").write_bytes(data)
    local = list_migrations(migrations_dir)
    report = read_status(conn, local, migrations_dir=migrations_dir)
    assert not report.has_migrations_table and report.rows == 0 and not report.needs_baseline
    assert set(states(report).values()) == {PENDING}
    assert migrations_dir.is_dir() and not pm.migrations_table_exists(conn, "public")  # read only

    deploy(conn, "20240101_init", INIT)
    pm.record_migration_failed(conn, "public", "20240102_post", POST, "boom")
    report = read_status(conn, local, migrations_dir=migrations_dir)
    assert states(report) == {"20240101_init": APPLIED, "20240102_post": FAILED, "20240103_views": PENDING}
    assert report.rows == 2 and report.has_migrations_table

    pm.record_migration_rolled_back(conn, "public", "20240102_post")
    deploy(conn, "20240102_post", POST)
    deploy(conn, "20240103_views", VIEWS)
    report = read_status(conn, local, migrations_dir=migrations_dir)
    assert set(states(report).values()) == {APPLIED} and report.in_sync
    assert {m.name: m.attempts for m in report.migrations}["20240102_post"] == 2


def test_read_status_of_another_schema(conn: psycopg.Connection[object]) -> None:
    pm.record_migration_deployed(conn, "tenant", "20240101_init", INIT)
    local = [migration("20240101_init", INIT)]
    assert states(read_status(conn, local, schema="tenant")) == {"20240101_init": APPLIED}
    assert states(read_status(conn, local, schema="public")) == {"20240101_init": PENDING}


def test_read_status_sees_an_unbaselined_schema(conn: psycopg.Connection[object]) -> None:
    conn.execute('CREATE TABLE "Legacy" (id int)')
    report = read_status(conn, [migration("20240101_init", INIT)])
    assert report.needs_baseline and report.unmanaged_tables == ("Legacy",) and not report.in_sync


# --- renderings ----------------------------------------------------------------------------------


def _mixed_report() -> StatusReport:
    local = [
        migration("20240101_init", INIT),
        migration("20240102_post", POST),
        migration("20240104_views", VIEWS),
    ]
    logs = "\n".join(f"log line {i}" for i in range(20))
    rows = [
        row("20240101_init", b"old\n", 0),
        row("20240102_post", POST, 1, finished=False, logs=logs),
        row("20240103_gone", b"x", 2),
    ]
    return StatusReport(
        compute_status(local, rows), "public", True, (), 3, Path("prisma/migrations"), "postgresql://u:****@h:5432/d"
    )


def test_text_rendering() -> None:
    text = render_status_text(_mixed_report(), color=False)
    assert "\x1b[" not in text and not text.endswith("\n")
    lines = text.splitlines()
    assert lines[0] == 'Database: postgresql://u:****@h:5432/d (schema "public")'
    assert lines[1] == "Migrations: prisma/migrations (3 migrations; 3 rows in _prisma_migrations)"
    table = [line for line in lines if re.match(r"  \S", line)]
    assert [line.split()[0:2] for line in table] == [
        ["edited", "20240101_init"],
        ["failed", "20240102_post"],
        ["missing", "locally"],
        ["pending", "20240104_views"],
    ]
    assert "      | log line 0" in lines and "      | log line 11" in lines and "      | log line 12" not in lines
    assert "      | ... (8 more lines; --format json has them all)" in lines
    assert "1 pending, 1 failed, 1 edited, 1 missing locally. The database is not in sync with the migrations:" in lines
    advice = [line for line in lines if line.startswith("- ")]
    assert advice[0].startswith("- Failed: 20240102_post.")
    assert 'prisma migrate resolve --rolled-back "20240102_post"' in advice[0]
    assert any(a.startswith("- Edited after apply: 20240101_init.") for a in advice)
    assert any(a.startswith("- Missing locally: 20240103_gone.") for a in advice)
    assert any(a.startswith("- Pending: 20240104_views.") for a in advice)


def test_text_in_sync_and_baseline() -> None:
    local = [migration("20240101_init", INIT)]
    synced = StatusReport(compute_status(local, [row("20240101_init", INIT, 0)]), "public", True, (), 1)
    assert render_status_text(synced, color=False).endswith("1 applied. Database schema is up to date!")
    baseline = StatusReport(compute_status(local, []), "public", False, ("Legacy",), 0)
    text = render_status_text(baseline, color=False)
    assert "no _prisma_migrations table" in text
    assert 'baseline it with `prisma migrate resolve --applied "20240101_init"`' in text
    assert "\x1b[" in render_status_text(baseline, color=True)


def test_json_rendering() -> None:
    report = _mixed_report()
    text = render_status_json(report, "0.1.0")
    assert not text.endswith("\n")
    document = json.loads(text)
    assert document == json.loads(render_status_json(report, "0.1.0", pretty=False)) == status_document(report, "0.1.0")
    assert list(document) == ["version", "tool", "database", "migrations_dir", "migrations", "summary"]
    assert document["version"] == 1 and document["tool"] == "safemigrate 0.1.0"
    assert document["database"] == {
        "url": "postgresql://u:****@h:5432/d",
        "schema": "public",
        "has_migrations_table": True,
        "rows": 3,
        "needs_baseline": False,
        "unmanaged_tables": [],
    }
    failed = document["migrations"][1]
    assert list(failed) == [
        "name",
        "state",
        "local",
        "checksum",
        "started_at",
        "applied_at",
        "rolled_back_at",
        "applied_steps_count",
        "attempts",
        "logs",
    ]
    assert failed["state"] == "failed" and failed["logs"].count("\n") == 19 and failed["applied_at"] is None
    assert failed["started_at"] == "2024-01-01T12:01:00.000Z"
    edited = document["migrations"][0]
    assert edited["checksum"] == {
        "file": pm.render_checksum(INIT),
        "recorded": pm.render_checksum(b"old\n"),
        "matches": False,
    }
    assert document["summary"] == {
        **{state: 0 for state in STATES},
        EDITED: 1,
        FAILED: 1,
        MISSING_LOCALLY: 1,
        PENDING: 1,
        "in_sync": False,
    }
