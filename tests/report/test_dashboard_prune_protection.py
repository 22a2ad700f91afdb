"""The dashboard's "would be pruned" is what `backups prune` does: the backup of a run that `rollback`
may still undo is kept, with the same reason."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from dashboard_sample import make_ledger

from safemigrate.backup.project import backup_setup, prune_backups
from safemigrate.backup.select import created
from safemigrate.report.dashboard import build_dashboard, render_dashboard_html


def test_the_backup_of_an_applied_run_is_kept_on_the_dashboard_as_by_prune(tmp_path: Path, database_url: str) -> None:
    ledger = make_ledger(tmp_path, database_url)
    store = backup_setup(ledger.project, None).store.location
    (ledger.project / "safemigrate.toml").write_text(
        f'[backup]\nstore = "{store}"\n[backup.retention]\nkeep_days = 0\nkeep_last = 0\nkeep_pre_migrate = false\n'
    )
    later = created(ledger.manual) + timedelta(days=40)
    run_id = ledger.applied.id
    why = (f"backup of applied run {run_id} (what `rollback --run {run_id}` restores)",)

    dashboard = build_dashboard(ledger.project, now=later)
    views = {b.id: b for b in dashboard.backups}
    assert views[ledger.applied.backup_id].kept and views[ledger.applied.backup_id].kept_because == why
    assert not views[ledger.manual.id].kept
    html = render_dashboard_html(dashboard)
    assert html.count("would be pruned") == 1, "only the manual backup"

    plan = prune_backups(ledger.project, dry_run=True, now=later)
    assert {k.manifest.id: k.reasons for k in plan.kept} == {ledger.applied.backup_id: why}
    assert [m.id for m in plan.removed] == [ledger.manual.id]
