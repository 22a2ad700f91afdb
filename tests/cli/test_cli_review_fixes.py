"""Found by review: `runs --format` takes text or json only; bracketed config sections show in --help
(typer renders help as Rich markup, which took `[clone]` for a style tag); `backups list` warns of a
stale backup store as docs/notifications.md says; a backup id, time or table the user names that does
not exist is a usage error (exit 2), as an unknown `rollback --run` or `fingerprint --tables` is."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import typer
from typer.testing import CliRunner

from safemigrate.cli import build_app
from tests.cli_run import run_cli

WIDE = {"COLUMNS": "400", "TERM": "dumb"}  # one help line per option: nothing wraps between words


def _project(folder: Path, notifications: str = "") -> Path:
    (folder / "safemigrate.toml").write_text(f'[backup]\nstore = "store"\n{notifications}')
    return folder


MAX_AGE = '[notifications]\nbackup_max_age = "1h"\n'


# --- runs --format ---------------------------------------------------------------------------------


def test_runs_format_is_text_or_json(tmp_path: Path) -> None:
    project = _project(tmp_path)
    markdown = run_cli(project, "runs", "--format", "markdown")
    assert markdown.returncode == 2, markdown.stdout + markdown.stderr
    assert "markdown" in markdown.stderr and "text" in markdown.stderr and "json" in markdown.stderr
    listed = run_cli(project, "runs", "--format", "json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == {"version": 1, "runs": []}
    shown = run_cli(project, "runs", "--help", env=WIDE)
    assert "<text|json>" in shown.stdout and "markdown" not in shown.stdout


# --- bracketed config sections in --help --------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "section"),
    [
        (["clone"], "adds to [clone] masks."),
        (["backups", "prune"], "the retention policy ([backup.retention]) does not keep."),
        (["notify", "check"], "older than [notifications] backup_max_age"),
    ],
    ids=["clone", "backups-prune", "notify-check"],
)
def test_help_shows_bracketed_config_sections(tmp_path: Path, command: list[str], section: str) -> None:
    shown = run_cli(tmp_path, *command, "--help", env=WIDE)
    assert shown.returncode == 0, shown.stderr
    assert section in " ".join(shown.stdout.split())


def _commands(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, [*path, name])


def test_every_bracket_written_in_a_help_text_is_shown() -> None:
    """Every `[...]` in a command's docstring or an option's help reaches the screen (escape it `\\[`)."""
    app = build_app()
    lost = []
    for path, command in _commands(typer.main.get_command(app), []):
        texts = [command.help or "", *(getattr(p, "help", None) or "" for p in command.params)]
        written = {" ".join(b.replace("\\[", "[").split()) for t in texts for b in re.findall(r"\\?\[[^\]]*\]", t)}
        if not written:
            continue
        shown = " ".join(CliRunner().invoke(app, [*path, "--help"], env=WIDE).output.split())
        lost += [f"{' '.join(path)}: {b}" for b in sorted(written) if b not in shown]
    assert lost == []


# --- backups list and [notifications] backup_max_age ------------------------------------------------------


def test_backups_list_warns_of_an_empty_store_when_a_maximum_age_is_set(tmp_path: Path) -> None:
    project = _project(tmp_path, MAX_AGE)
    text = run_cli(project, "backups", "list")
    assert text.returncode == 0, text.stderr
    assert text.stdout.strip() == "No backups."
    store = tmp_path / "store"
    assert text.stderr.splitlines() == [
        f"warning: No backup of {store} (maximum age 1 h) ([notifications] backup_max_age)."
    ]
    document = json.loads(run_cli(project, "backups", "list", "--format", "json").stdout)
    assert list(document) == ["version", "backups", "unreadable", "unfinished", "warnings"]
    (warning,) = document["warnings"]
    assert warning["event"] == "backup_stale" and warning["title"] == f"No backup of {store} (maximum age 1 h)"
    assert warning["backup"]["id"] is None and warning["backup"]["max_age_seconds"] == 3600


def test_backups_list_says_nothing_without_a_maximum_age(tmp_path: Path) -> None:
    project = _project(tmp_path)
    text = run_cli(project, "backups", "list")
    assert text.returncode == 0 and text.stderr == "", text.stderr
    assert json.loads(run_cli(project, "backups", "list", "--format", "json").stdout)["warnings"] == []


@pytest.fixture
def backed_up(database_url: str, tmp_path: Path) -> tuple[Path, str, str]:
    """A project with a maximum backup age and one fresh backup of table a: (project, url, backup id)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a VALUES (1), (2)")
    project = _project(tmp_path, MAX_AGE)
    done = run_cli(project, "backup", "--database-url", database_url)
    assert done.returncode == 0, done.stderr
    (backup_id,) = [p.name for p in (tmp_path / "store").iterdir()]
    return project, database_url, backup_id


def test_backups_list_warns_when_the_newest_backup_is_too_old(backed_up: tuple[Path, str, str]) -> None:
    project, _, backup_id = backed_up
    fresh = run_cli(project, "backups", "list")
    assert fresh.returncode == 0 and fresh.stderr == "" and backup_id in fresh.stdout, fresh.stderr
    assert json.loads(run_cli(project, "backups", "list", "--format", "json").stdout)["warnings"] == []

    manifest = project / "store" / backup_id / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "created_at": "2020-01-01T00:00:00Z"}))
    old = run_cli(project, "backups", "list")
    assert old.returncode == 0 and backup_id in old.stdout, old.stderr
    (line,) = old.stderr.splitlines()
    assert line.startswith("warning: The newest backup of ") and line.endswith(
        "(maximum 1 h) ([notifications] backup_max_age)."
    )
    document = json.loads(run_cli(project, "backups", "list", "--format", "json").stdout)
    assert [b["id"] for b in document["backups"]] == [backup_id]
    (warning,) = document["warnings"]
    assert warning["event"] == "backup_stale" and warning["backup"]["id"] == backup_id
    assert warning["backup"]["created_at"] == "2020-01-01T00:00:00Z"


# --- exit codes of restore ---------------------------------------------------------------------------


def test_restore_of_what_does_not_exist_is_a_usage_error(backed_up: tuple[Path, str, str]) -> None:
    project, url, _ = backed_up
    cases = {
        "no such id": ["--id", "nope"],
        "no such table": ["--latest", "--tables", "Nope"],
        "nothing that old": ["--at", "2020-01-01"],
    }
    for case, selector in cases.items():
        refused = run_cli(project, "restore", *selector, "--yes", "--database-url", url)
        assert refused.returncode == 2, (case, refused.stderr)
        assert refused.stderr.startswith("error: ") and refused.stderr.count("\n") == 1, (case, refused.stderr)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM a").fetchone() == (2,)
