"""Webhooks from the real commands: a migrate run, a refused one, a webhook that fails without
failing the run, a rollback and the scheduled backup-age check."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from safemigrate.migrations import list_migrations
from safemigrate.pipeline.apply import apply_migrations
from safemigrate.pipeline.migrate import migrate
from tests.notify.webhook_server import Answer, webhook_server

PATTERNS = Path(__file__).parents[2] / "fixtures" / "patterns"


def _project(tmp_path: Path, database_url: str) -> Path:
    project = tmp_path / "project"
    shutil.copytree(PATTERNS / "drop_column", project)
    (project / "safemigrate.toml").write_text(
        f'[backup]\nstore = "{tmp_path / "backups"}"\n'
        '[[notifications.webhooks]]\nkind = "json"\nurl_env = "TEAM_WEBHOOK_URL"\n'
    )
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
    return project


def test_migrate_runs_are_posted_and_a_failing_webhook_never_fails_the_run(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path, database_url)
    with webhook_server() as server:
        monkeypatch.setenv("TEAM_WEBHOOK_URL", server.secret_url)
        refused = migrate(project, database_url=database_url)
        server.answers.extend([Answer(status=500), Answer(status=500)])
        notes: list[str] = []
        applied = migrate(
            project,
            database_url=database_url,
            allow=("data-loss",),
            progress=lambda stage: notes.append(f"{stage.name} {stage.status} {stage.detail}"),
        )
    assert refused.verdict == "refused" and applied.verdict == "applied"
    bodies = [r.json() for r in server.received]
    assert bodies[0]["event"] == "run_refused" and bodies[0]["run"]["id"] == refused.id
    assert [b["event"] for b in bodies[1:]] == ["run_finished", "run_finished"]  # two attempts, both 500
    assert any(n.startswith("notify failed") for n in notes), notes
    assert server.secret_url not in " ".join(notes)


def test_a_rollback_and_a_stale_backup_store_are_posted_by_the_library(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import datetime, timedelta, timezone

    from safemigrate.notify.check import check_backup_age
    from safemigrate.pipeline.rollback import rollback

    project = _project(tmp_path, database_url)
    with (project / "safemigrate.toml").open("a") as config:
        config.write('[notifications]\nbackup_max_age = "1h"\n')
    with webhook_server() as server:
        monkeypatch.setenv("TEAM_WEBHOOK_URL", server.secret_url)
        applied = migrate(project, database_url=database_url, allow=("data-loss",))
        fresh = check_backup_age(project)
        later = check_backup_age(project, now=datetime.now(timezone.utc) + timedelta(hours=2))
        undone = rollback(project, database_url=database_url, confirm=lambda preview: True)
    assert applied.verdict == "applied"
    assert fresh.configured and fresh.stale is None and not fresh.failed
    assert later.stale is not None and later.failed and [d.ok for d in later.deliveries] == [True]
    assert [d.ok for d in undone.deliveries] == [True]
    events = [r.json()["event"] for r in server.received]
    assert events == ["run_finished", "backup_stale", "run_rolled_back"]
