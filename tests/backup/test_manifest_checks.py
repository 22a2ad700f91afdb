"""An edited or damaged manifest is refused in one sentence before anything is restored: row counts
that disagree with the fingerprints (what the restore is checked against), negative counts, a table
list that is not one, a missing key named as such (not a Python repr)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from safemigrate.backup.manifest import Manifest
from safemigrate.backup.project import backup_database
from safemigrate.errors import BackupFormatError
from tests.cli_run import run_cli


@pytest.fixture
def taken(database_url: str, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A project with one backup of ``account`` (500 rows); its manifest file and JSON."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE account (id int PRIMARY KEY, v text)")
        conn.execute("INSERT INTO account SELECT g, 'v' || g FROM generate_series(1, 500) g")
    (tmp_path / "safemigrate.toml").write_text('[backup]\nstore = "store"\n')
    manifest = backup_database(tmp_path, database_url=database_url).manifest
    path = tmp_path / "store" / manifest.id / "manifest.json"
    return path, json.loads(path.read_text())


def _damaged(data: dict[str, Any]) -> str:
    with pytest.raises(BackupFormatError) as raised:
        Manifest.from_dict(data, "manifest.json")
    return raised.value.message


def test_the_manifest_as_written_reads(taken: tuple[Path, dict[str, Any]]) -> None:
    _, data = taken
    assert Manifest.from_dict(data, "manifest.json").tables[0].rows == 500


@pytest.mark.parametrize(
    ("rows", "said"),
    [
        (-1, "manifest.json is damaged: rows -1 is not a count (a whole number, 0 or more)."),
        (499, "manifest.json is damaged: table 'account' says 499 rows but its fingerprint counts 500."),
    ],
)
def test_a_row_count_the_fingerprint_does_not_hold_is_refused(
    taken: tuple[Path, dict[str, Any]], rows: int, said: str
) -> None:
    _, data = taken
    data["tables"][0]["rows"] = rows
    assert _damaged(data) == said


def test_a_table_list_that_is_not_one_is_refused(taken: tuple[Path, dict[str, Any]]) -> None:
    _, data = taken
    assert _damaged({**data, "tables": {}}) == (
        "manifest.json is damaged: its tables {} are not a list of at least one table."
    )
    assert _damaged({**data, "tables": []}).endswith("are not a list of at least one table.")


def test_a_missing_key_is_named(taken: tuple[Path, dict[str, Any]]) -> None:
    _, data = taken
    del data["reason"]
    assert _damaged(data) == "manifest.json is damaged: its key 'reason' is missing."


def test_restore_of_an_edited_count_changes_nothing(taken: tuple[Path, dict[str, Any]], database_url: str) -> None:
    path, data = taken
    data["tables"][0]["rows"] = 499
    path.write_text(json.dumps(data))
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM account WHERE id > 10")
    done = run_cli(path.parents[2], "restore", "--id", data["id"], "--yes", "--database-url", database_url)
    assert done.returncode == 1, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "says 499 rows but its fingerprint counts 500" in done.stderr
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM account").fetchone() == (10,)
