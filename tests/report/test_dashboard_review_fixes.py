"""Found by review: backups whose manifest cannot be read were on no part of the dashboard (while
`restore --latest` refuses because of them); a migration merged late, whose name sorts before the
newest applied one, showed as "applied" under a green status; one damaged run record stopped the
whole dashboard (exit 1, no page)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import typer
from dashboard_sample import add_migration, copy_pattern, deploy_first
from markupsafe import escape
from typer.testing import CliRunner

from safemigrate.backup.manifest import Reason
from safemigrate.backup.project import backup_database
from safemigrate.cli.report import report
from safemigrate.pipeline.migrate import migrate
from safemigrate.report.dashboard import build_dashboard, render_dashboard_html

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
DAMAGED = '{"version": 1, "id": "20251231T000000Z-abcdef", "created_at": "2025-12-31T00:0'  # cut short


def _damage(store: Path, backup_id: str) -> None:
    (store / backup_id).mkdir(parents=True)
    (store / backup_id / "manifest.json").write_text(DAMAGED)


def _fill(project: Path, url: str) -> None:
    deploy_first(project, url, "INSERT INTO \"User\" (email, nickname) VALUES ('a@example.com', 'a')")


def test_an_unreadable_newest_backup_is_listed_and_makes_the_status_red(tmp_path: Path) -> None:
    project = copy_pattern(tmp_path, "drop_column")
    _damage(tmp_path / "backups", "20251231T000000Z-abcdef")
    dashboard = build_dashboard(project, now=NOW)
    assert [(u.id, u.newest) for u in dashboard.unreadable_backups] == [("20251231T000000Z-abcdef", True)]
    assert dashboard.status.level == "red"
    first = dashboard.status.reasons[0]
    assert first.level == "red" and first.text.startswith(
        "Backup 20251231T000000Z-abcdef cannot be read and may be the newest backup: "
        "`safemigrate restore --latest` refuses to restore an older one in its place."
    )
    html = render_dashboard_html(dashboard)
    assert '<ul id="unreadable-backups">' in html and '<li id="unreadable-20251231T000000Z-abcdef">' in html
    assert "No backups in the store" not in html


def test_an_older_unreadable_backup_is_listed_and_makes_the_status_amber(tmp_path: Path, database_url: str) -> None:
    project = copy_pattern(tmp_path, "drop_column")
    _fill(project, database_url)
    taken = backup_database(project, database_url=database_url, reason=Reason("manual", "")).manifest
    _damage(tmp_path / "backups", "20200101T000000Z-abcdef")
    dashboard = build_dashboard(project)
    assert [b.id for b in dashboard.backups] == [taken.id]
    assert [(u.id, u.newest) for u in dashboard.unreadable_backups] == [("20200101T000000Z-abcdef", False)]
    assert dashboard.status.level == "amber", dashboard.status.reasons
    assert [r.text.split(":")[0] for r in dashboard.status.reasons if r.text.startswith("Backup ")] == [
        "Backup 20200101T000000Z-abcdef cannot be read"
    ]
    assert '<li id="unreadable-20200101T000000Z-abcdef">' in render_dashboard_html(dashboard)


def test_a_migration_merged_late_is_not_shown_applied(tmp_path: Path, database_url: str) -> None:
    """Applied: init (deployed directly) and drop_column (by a run). Then a branch adds a migration
    named before drop_column: no run applied it, so it is "pending?", never "applied"."""
    project = copy_pattern(tmp_path, "drop_column")
    _fill(project, database_url)
    applied = migrate(project, database_url=database_url, allow=("data-loss",))
    assert applied.verdict == "applied", applied.message
    late = "20240305000000_late_branch"
    add_migration(project, late, 'ALTER TABLE "User" DROP COLUMN "email";\n')
    add_migration(project, "20240401000000_next", 'CREATE TABLE "Tag" ("id" SERIAL PRIMARY KEY);\n')
    dashboard = build_dashboard(project)
    assert [(m.name, m.pending) for m in dashboard.migrations] == [
        ("20240301100000_init", None),  # deployed directly, before the ledger: it cannot tell either
        (late, None),
        ("20240308143000_drop_column", False),
        ("20240401000000_next", True),
    ]
    assert dashboard.status.level == "amber", dashboard.status.reasons
    texts = [r.text for r in dashboard.status.reasons]
    assert (
        f"{late} has 1 error finding; no run of the ledger applied it although a later migration was applied "
        "(a branch merged late?), so it may be pending."
    ) in texts, texts
    html = render_dashboard_html(dashboard)
    card = html.split(f'id="migration-{late}"')[1].split("</header>")[0]
    assert ">pending?</span>" in card and ">applied</span>" not in card


def test_a_damaged_run_record_is_listed_and_the_page_is_written(tmp_path: Path, database_url: str) -> None:
    project = copy_pattern(tmp_path, "drop_column")
    _fill(project, database_url)
    applied = migrate(project, database_url=database_url, allow=("data-loss",))
    assert applied.verdict == "applied", applied.message
    runs = tmp_path / "backups" / "runs"
    damaged = runs / "20260101T000000Z-0badc0.json"
    damaged.write_text((runs / f"{applied.id}.json").read_text()[:40])  # a write cut short

    dashboard = build_dashboard(project)
    assert [r.id for r in dashboard.runs] == [applied.id], "the readable records are still shown"
    assert [u.where for u in dashboard.unreadable_runs] == [str(damaged)]
    assert dashboard.status.level == "amber", dashboard.status.reasons
    assert any(r.text.startswith(f"The run record {damaged} cannot be read (") for r in dashboard.status.reasons), (
        dashboard.status.reasons
    )

    app = typer.Typer()
    app.command()(report)
    site = tmp_path / "site"
    result = CliRunner().invoke(app, ["--html", str(site), "--project", str(project)])
    assert result.exit_code == 0, result.output
    assert f"Dashboard written to {site / 'index.html'} (status: amber)." in result.output
    html = (site / "index.html").read_text(encoding="utf-8")
    assert '<ul id="unreadable-runs">' in html and str(escape(str(damaged))) in html
    assert f'id="run-{applied.id}"' in html
