"""A `backup --reason` that holds a database URL with its password (pasted from a runbook) was kept
in the manifest as typed, and shown by `backups list` and the dashboard; the password is masked
before the manifest is written."""

from __future__ import annotations

from pathlib import Path

from tests.backup.conftest import store_project
from tests.cli_run import run_cli


def test_a_password_in_the_reason_never_reaches_the_manifest_or_the_listing(filled: str, tmp_path: Path) -> None:
    project = store_project(tmp_path / "project", str(tmp_path / "store"))
    reason = "before the copy to postgresql://admin:Sup3r-Secret@db.internal:5432/app"
    taken = run_cli(project, "backup", "--reason", reason, "--database-url", filled)
    assert taken.returncode == 0, taken.stderr

    (manifest,) = (tmp_path / "store").glob("*/manifest.json")
    assert "Sup3r-Secret" not in manifest.read_text()
    assert "postgresql://admin:****@db.internal:5432/app" in manifest.read_text()
    listed = run_cli(project, "backups", "list")
    assert listed.returncode == 0, listed.stderr
    assert "Sup3r-Secret" not in listed.stdout + listed.stderr
    assert "before the copy to postgresql://admin:****@db.internal:5432/app" in listed.stdout
