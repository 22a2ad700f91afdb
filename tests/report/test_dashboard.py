"""`report --html`: the dashboard built from a store of real runs and backups, its status, its
escaping, and the pure status rules."""

from __future__ import annotations

import stat
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import typer
from dashboard_sample import HOSTILE, add_migration, copy_pattern, deploy_first, make_ledger
from markupsafe import escape
from typer.testing import CliRunner

from safemigrate.backup.project import backup_setup
from safemigrate.backup.select import created
from safemigrate.cli.report import report
from safemigrate.pipeline.migrate import migrate
from safemigrate.report.dashboard import (
    BackupView,
    LintFindingView,
    MigrationLint,
    RunView,
    build_dashboard,
    dashboard_status,
    describe_change,
    render_dashboard_html,
    write_dashboard,
)

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _present(text: str, html: str) -> bool:
    return str(escape(text)) in html


def test_the_dashboard_shows_runs_backups_retention_and_lint_and_is_green(tmp_path: Path, database_url: str) -> None:
    ledger = make_ledger(tmp_path, database_url)
    dashboard = build_dashboard(ledger.project)

    assert dashboard.status.level == "green", dashboard.status.reasons
    assert dashboard.status.reasons == ()
    assert [r.id for r in dashboard.runs] == [ledger.applied.id, ledger.refused.id], "newest first"
    applied = dashboard.runs[0]
    assert applied.verdict == "applied" and applied.backup_id == ledger.applied.backup_id
    assert [s.name for s in applied.stages] == ["lint", "preflight", "lock", "backup", "rehearsal", "apply"]
    assert applied.schema_changes == ('column public."User".nickname dropped (was text)',)
    assert [b.id for b in dashboard.backups] == [ledger.manual.id, ledger.applied.backup_id]
    manual, pre_migrate = dashboard.backups
    assert manual.verified is True and pre_migrate.verified is None
    assert pre_migrate.reason_kind == "pre-migrate" and pre_migrate.migrations == ledger.applied.migrations
    assert pre_migrate.kept and "younger than 30 days" in pre_migrate.kept_because
    assert [(m.name, m.pending) for m in dashboard.migrations] == [
        ("20240301100000_init", None),  # applied before any run the ledger holds: the store cannot tell
        ("20240308143000_drop_column", False),
    ]
    assert dashboard.migrations[1].findings[0].rule == "drop-column", "errors first"

    html = render_dashboard_html(dashboard)
    assert 'id="status" class="banner level-green"' in html and "Green: all clear" in html
    for run in (ledger.applied, ledger.refused):
        assert f'href="#run-{run.id}"' in html and f'id="run-{run.id}"' in html
    for backup_id in (ledger.manual.id, ledger.applied.backup_id):
        assert f'<tr id="backup-{backup_id}">' in html
    assert ">verified<" in html and ">not verified<" in html
    assert _present('column public."User".nickname dropped (was text)', html)
    assert _present(ledger.refused.message, html)
    assert "20240308143000_drop_column" in html and "drop-column" in html
    assert _present(HOSTILE, html) and "<script" not in html, "the backup reason is escaped"


def test_retention_and_age_follow_now(tmp_path: Path, database_url: str) -> None:
    ledger = make_ledger(tmp_path, database_url)
    later = created(ledger.manual) + timedelta(days=40)
    dashboard = build_dashboard(ledger.project, now=later)

    manual, pre_migrate = dashboard.backups
    assert manual.age_text.startswith("40 d") and manual.kept  # one of the newest 5
    assert pre_migrate.kept_because == (
        "one of the newest 5",
        "newest pre-migrate backup of 20240308143000_drop_column",
        f"backup of applied run {ledger.applied.id} (what `rollback --run {ledger.applied.id}` restores)",
    )
    assert dashboard.status.level == "amber"
    assert [r.text for r in dashboard.status.reasons] == [
        f"The newest backup ({manual.id}) is {manual.age_text} old, older than 7 d."
    ]
    assert "would be pruned" not in render_dashboard_html(dashboard)
    assert build_dashboard(ledger.project, now=later, max_backup_age=timedelta(days=41)).status.level == "green"

    short = replace(dashboard.retention, keep_days=1, keep_last=1, keep_pre_migrate=False)
    setup = backup_setup(ledger.project, None)
    (ledger.project / "safemigrate.toml").write_text(
        f'[backup]\nstore = "{setup.store.location}"\n[backup.retention]\n'
        f"keep_days = {short.keep_days}\nkeep_last = {short.keep_last}\nkeep_pre_migrate = false\n"
    )
    pruned = build_dashboard(ledger.project, now=later)
    # The pre-migrate backup is the applied run's, which `rollback` restores: prune keeps it whatever the rules say.
    assert [(b.id, b.kept) for b in pruned.backups] == [(manual.id, True), (pre_migrate.id, True)]
    assert pruned.backups[1].kept_because == (
        f"backup of applied run {ledger.applied.id} (what `rollback --run {ledger.applied.id}` restores)",
    )
    assert "would be pruned" not in render_dashboard_html(pruned)


def test_a_refused_last_run_and_no_backup_are_amber(tmp_path: Path, database_url: str) -> None:
    project = copy_pattern(tmp_path, "drop_column")
    deploy_first(project, database_url, "INSERT INTO \"User\" (email, nickname) VALUES ('a@x.io', 'a')")
    refused = migrate(project, database_url=database_url)
    dashboard = build_dashboard(project)

    assert dashboard.status.level == "amber"
    texts = [r.text for r in dashboard.status.reasons]
    assert texts[0] == f"The last run {refused.id} was refused: {refused.message}"
    assert "There is no backup in the store." in texts
    # Nothing applied through the ledger: it cannot tell whether the drop-column is pending.
    assert [m.pending for m in dashboard.migrations] == [None, None]
    assert any(t.startswith("20240308143000_drop_column has 1 error finding") for t in texts)
    assert "Amber: look at this soon" in render_dashboard_html(dashboard)


def test_a_rolled_back_run_a_failed_verification_and_an_error_in_a_pending_migration_are_red(
    tmp_path: Path, database_url: str
) -> None:
    ledger = make_ledger(tmp_path, database_url)
    add_migration(ledger.project, "20240310000000_backfill", 'UPDATE "User" SET email = lower(email);\n')
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            """CREATE TABLE audit (id int); INSERT INTO audit SELECT generate_series(1, 10);
            CREATE FUNCTION wipe_audit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN DELETE FROM audit WHERE id > 5; RETURN NEW; END $$;
            CREATE TRIGGER user_wipes AFTER UPDATE ON "User" FOR EACH STATEMENT EXECUTE FUNCTION wipe_audit();"""
        )
    rolled_back = migrate(ledger.project, database_url=database_url, allow=("data-loss", "may-fail", "lock"))
    assert rolled_back.verdict == "rolled back", rolled_back.message
    # A pending migration whose folder name and table name are markup: they must show as text.
    hostile_migration = "20240401000000_<script>x"
    add_migration(ledger.project, hostile_migration, 'DROP TABLE "<script>alert(1)</script>";\n')
    backup_setup(ledger.project, None).store.save_manifest(replace(ledger.manual, verified=False))

    dashboard = build_dashboard(ledger.project)
    assert dashboard.status.level == "red"
    reds = [r.text for r in dashboard.status.reasons if r.level == "red"]
    assert reds[0] == f"The last run {rolled_back.id} rolled back: {rolled_back.message}"
    assert f"Backup {ledger.manual.id} failed its verification: it may not restore." in reds
    assert f"The pending migration {hostile_migration} has 1 error finding." in reds
    assert dashboard.runs[0].problems[0].subject == "audit"

    html = render_dashboard_html(dashboard)
    assert 'id="status" class="banner level-red"' in html and "Red: needs attention now" in html
    assert ">verification failed<" in html
    assert _present(hostile_migration, html) and _present('"<script>alert(1)</script>"', html)
    assert "<script" not in html


def test_it_needs_no_database_and_the_command_writes_index_html(tmp_path: Path) -> None:
    project = copy_pattern(tmp_path, "drop_column")  # no server anywhere: the store and the files only
    runner = CliRunner()
    app = typer.Typer()
    app.command()(report)
    out = tmp_path / "site" / "nested"
    result = runner.invoke(app, ["--html", str(out), "--project", str(project)], env={"DATABASE_URL": ""})
    assert result.exit_code == 0, result.output
    index = out / "index.html"
    assert f"Dashboard written to {index} (status: amber)." in result.output
    assert "amber: There is no backup in the store." in result.output
    assert stat.S_IMODE(index.stat().st_mode) == 0o644
    html = index.read_text(encoding="utf-8")
    assert "No runs in the ledger yet" in html and "No backups in the store" in html
    assert html.startswith("<!DOCTYPE html>") and "http://" not in html and "https://" not in html, "no external asset"


def test_unfinished_backups_are_shown_under_the_backups(tmp_path: Path) -> None:
    """A backup whose process was killed (its partial folder left, nobody holding its lock) is listed
    with what removes it, as `backups list` does."""
    (tmp_path / "safemigrate.toml").write_text(f'[backup]\nstore = "{tmp_path / "backups"}"\n')
    (tmp_path / "backups" / ".20260101T000000Z-abcdef.partial" / "tables").mkdir(parents=True)
    dashboard = build_dashboard(tmp_path, now=NOW)
    assert [(u.id, u.state) for u in dashboard.unfinished] == [("20260101T000000Z-abcdef", "abandoned")]
    html = render_dashboard_html(dashboard)
    assert '<ul id="unfinished-backups">' in html and "20260101T000000Z-abcdef" in html
    assert "<code>safemigrate backups prune</code> removes it." in html


def test_write_dashboard_refuses_a_file_in_place_of_the_directory(tmp_path: Path) -> None:
    from safemigrate.errors import InputError

    project = copy_pattern(tmp_path, "drop_column")
    (tmp_path / "taken").write_text("")
    try:
        write_dashboard(build_dashboard(project), tmp_path / "taken")
    except InputError as err:
        assert err.message == f"{tmp_path / 'taken'} is a file, not a directory."
    else:
        raise AssertionError("no InputError")


def test_a_project_without_migrations_still_shows_the_store(tmp_path: Path) -> None:
    (tmp_path / "safemigrate.toml").write_text(f'[backup]\nstore = "{tmp_path / "backups"}"\n')
    dashboard = build_dashboard(tmp_path, now=NOW)
    assert dashboard.migrations == () and dashboard.lint_error
    assert dashboard.status.level == "amber"
    assert dashboard.status.reasons[-1].text.startswith("The migrations could not be linted: ")


# ---------------------------------------------------------------------------------------------
# The status rules and the schema-change lines, without a store


def _run(verdict: str, rolled_back_by: str | None = None) -> RunView:
    return RunView(
        "r1", "2026-01-01T00:00:00Z", "", None, "", verdict, "why", (), None, (), (), (), (), None, rolled_back_by
    )


def _backup(age: timedelta, verified: bool | None = True) -> BackupView:
    return BackupView("b1", "", age, "manual", "", (), (), 0, 0, verified, True, ())


def _lint(pending: bool | None, *severities: str) -> MigrationLint:
    return MigrationLint("m1", pending, 1, tuple(LintFindingView(s, "r", "SM001", 1, "msg", "") for s in severities), 0)


def _status(runs: list[RunView], backups: list[BackupView], lints: list[MigrationLint]) -> tuple[str, list[str]]:
    status = dashboard_status(runs, backups, lints, None, now=NOW, max_backup_age=timedelta(days=7))
    return status.level, [r.level for r in status.reasons]


def test_status_rules() -> None:
    fresh = _backup(timedelta(hours=1))
    assert _status([_run("applied")], [fresh], [_lint(False, "error")]) == ("green", [])
    assert _status([_run("up to date")], [fresh], [_lint(True, "info")]) == ("green", [])
    assert _status([_run("failed")], [fresh], []) == ("red", ["red"])
    assert _status([_run("interrupted")], [fresh], []) == ("red", ["red"])  # may be partly applied
    assert _status([_run("rolled back", "safemigrate rollback")], [fresh], []) == ("red", ["red"])
    assert _status([_run("refused")], [fresh], []) == ("amber", ["amber"])
    assert _status([], [fresh], [_lint(True, "error", "warning")]) == ("red", ["red", "amber"])
    assert _status([], [fresh], [_lint(None, "error")]) == ("amber", ["amber"])
    assert _status([], [_backup(timedelta(days=8))], []) == ("amber", ["amber"])
    assert _status([], [_backup(timedelta(days=1), verified=False)], []) == ("red", ["red"])
    assert _status([], [], []) == ("amber", ["amber"])
    # Red reasons come first whatever order they were found in.
    assert _status([_run("refused")], [_backup(timedelta(days=1), verified=False)], []) == ("red", ["red", "amber"])


def test_schema_changes_read_back_from_the_ledger() -> None:
    assert describe_change({"kind": "table_added", "schema": "public", "table": "Tag"}) == 'table public."Tag" added'
    assert (
        describe_change({"kind": "enum_added", "schema": "public", "enum": "role", "values": ["a", "b"]})
        == "enum public.role added (a, b)"
    )
    assert describe_change({"kind": "gizmo_added", "name": "x"}) == "gizmo added: name=x", "an unknown kind"
    assert describe_change({"kind": "table_added", "table": "t"}) == "table added: table=t", "missing fields"
