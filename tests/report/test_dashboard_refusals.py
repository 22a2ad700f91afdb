"""`report --html` given what it cannot use ends in one sentence and exit 2, writing nothing; a
hand-edited run record is shown with what can be read of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dashboard_sample import copy_pattern

from safemigrate.backup.stores import LocalStore
from safemigrate.report.dashboard import run_view


def _report(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "safemigrate", "report", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "DATABASE_URL": "", "COLUMNS": "250", "NO_COLOR": "1"},
    )


def _one_sentence(completed: subprocess.CompletedProcess[str]) -> str:
    assert completed.returncode == 2, completed.stderr
    assert "Traceback" not in completed.stderr and completed.stdout == ""
    (line,) = completed.stderr.splitlines()
    return line


def _files(root: Path) -> set[Path]:
    return set(root.rglob("*"))


def test_an_html_folder_under_a_file_is_refused_in_one_sentence(tmp_path: Path) -> None:
    project = copy_pattern(tmp_path, "drop_column")
    (project / "package.json").write_text('{"name": "x"}')
    before = _files(tmp_path)
    line = _one_sentence(_report("--html", str(project / "package.json" / "sub"), "--project", str(project)))
    assert line.startswith(f"error: Cannot write the dashboard into {project / 'package.json' / 'sub'}: ")
    assert _files(tmp_path) == before


def test_an_html_folder_that_cannot_be_created_is_refused_in_one_sentence(tmp_path: Path) -> None:
    project = copy_pattern(tmp_path, "drop_column")
    before = _files(tmp_path)
    line = _one_sentence(_report("--html", "/proc/site", "--project", str(project)))
    assert line.startswith("error: Cannot write the dashboard into /proc/site: ")
    assert _files(tmp_path) == before and not Path("/proc/site").exists()


@pytest.mark.parametrize("days", ["1e9", "inf", "nan"])
def test_a_max_backup_age_no_duration_can_hold_is_refused_in_one_sentence(tmp_path: Path, days: str) -> None:
    project = copy_pattern(tmp_path, "drop_column")
    site = tmp_path / "site"
    line = _one_sentence(_report("--html", str(site), "--max-backup-age", days, "--project", str(project)))
    assert line.startswith(f"error: --max-backup-age {float(days):g} is not a number of days safemigrate can use.")
    assert not site.exists()


def test_a_hand_edited_stage_duration_reads_as_empty(tmp_path: Path) -> None:
    project = copy_pattern(tmp_path, "drop_column")
    record = {
        "id": "20260101-000000-edited",
        "started_at": "2026-01-01T00:00:00Z",
        "finished_at": "2026-01-01T00:00:03Z",
        "verdict": "applied",
        "stages": [
            {"name": "lint", "status": "ok", "seconds": "fast"},
            {"name": "apply", "status": "ok", "seconds": 1.5},
            {"name": "verify", "status": "ok", "seconds": "2.5"},
            "not a stage",
        ],
    }
    LocalStore(tmp_path / "backups").save_run(str(record["id"]), json.dumps(record))
    site = tmp_path / "site"
    completed = _report("--html", str(site), "--project", str(project))
    assert completed.returncode == 0, completed.stderr
    html = (site / "index.html").read_text(encoding="utf-8")
    assert '<td>lint</td><td>ok</td><td class="num">0.000</td>' in html
    view = run_view(record)
    assert [(s.name, s.seconds) for s in view.stages] == [("lint", 0.0), ("apply", 1.5), ("verify", 2.5)]
    odd = run_view({**record, "stages": [{"name": "x", "seconds": n} for n in ("nan", "inf", None, True, [1])]})
    assert [s.seconds for s in odd.stages] == [0.0] * 5
