"""A run record whose fields have the wrong types (``"migrations": null``, ``"id": 5``) made
`safemigrate runs` (and whatever else read the ledger first) end in a TypeError traceback; it is now
a damaged record, one sentence that names the file and says what to do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safemigrate.backup.stores import RUNS
from tests.cli_run import run_cli

GOOD = {
    "id": "20260101T000000Z-abcdef",
    "started_at": "2026-01-01T00:00:00.000Z",
    "verdict": "applied",
    "migrations": ["20240101000000_init"],
    "backup_id": None,
}


@pytest.mark.parametrize(
    "damage", [{"migrations": None}, {"migrations": [1]}, {"id": 5}, {"verdict": 3}, {"backup_id": ["x"]}]
)
def test_a_run_record_with_a_wrongly_typed_field_is_one_sentence(tmp_path: Path, damage: dict[str, object]) -> None:
    store = tmp_path / "backups"
    (store / RUNS).mkdir(parents=True)
    (store / RUNS / "20260101T000000Z-abcdef.json").write_text(json.dumps({**GOOD, **damage}))
    (tmp_path / "safemigrate.toml").write_text(f'[backup]\nstore = "{store}"\n')

    listed = run_cli(tmp_path, "runs")
    assert listed.returncode == 1, listed.stderr
    assert "Traceback" not in listed.stderr
    assert listed.stderr.startswith("error: Cannot read the run record "), listed.stderr
    assert "20260101T000000Z-abcdef.json" in listed.stderr
    assert "move it out of the ledger" in listed.stderr


def test_a_well_typed_run_record_is_listed(tmp_path: Path) -> None:
    store = tmp_path / "backups"
    (store / RUNS).mkdir(parents=True)
    (store / RUNS / "20260101T000000Z-abcdef.json").write_text(json.dumps(GOOD))
    (tmp_path / "safemigrate.toml").write_text(f'[backup]\nstore = "{store}"\n')
    listed = run_cli(tmp_path, "runs")
    assert listed.returncode == 0, listed.stderr
    assert "20260101T000000Z-abcdef" in listed.stdout and "20240101000000_init" in listed.stdout
