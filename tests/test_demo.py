"""The README's first command (scripts/demo.py) works: refusal, a full run, and a rollback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_demo_refuses_migrates_and_rolls_back() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py")], capture_output=True, text=True, check=False, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "Refused: the live data would make 20240305160000_add_post_slug fail" in out
    for stage in ("lint", "preflight", "lock", "backup", "rehearsal", "apply"):
        assert any(line.split()[:2] == [stage, "ok"] for line in done.stderr.splitlines() + out.splitlines()), stage
    assert "Applied 3 migration(s); verification passed." in out
    assert '"Comment" holds 500 rows again.' in out
    assert "Traceback" not in out + done.stderr
