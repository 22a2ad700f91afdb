"""The command line end to end, as a user runs it: real processes, real files, a real git repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parents[2] / "fixtures"


CACHE_DIR = tempfile.mkdtemp(prefix="safemigrate-test-cache-")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SAFEMIGRATE_CACHE_DIR": CACHE_DIR}  # never the user's own cache
    return subprocess.run(
        [sys.executable, "-m", "safemigrate", *args], cwd=cwd, capture_output=True, text=True, check=False, env=env
    )


def test_lint_bundled_example_fails_on_data_loss() -> None:
    completed = run("lint", "--project", str(FIXTURES / "blog"))
    assert completed.returncode == 1
    assert "drop-column" in completed.stdout and "^" in completed.stdout
    assert "\x1b[" not in completed.stdout  # no colour when not on a terminal


def test_fail_on_never_and_json_contract() -> None:
    completed = run("lint", "--project", str(FIXTURES / "blog"), "--format", "json", "--fail-on", "never")
    assert completed.returncode == 0
    document = json.loads(completed.stdout)
    assert list(document)[:4] == ["version", "tool", "findings", "summary"]
    first = document["findings"][0]
    assert list(first)[:12] == [
        "rule",
        "category",
        "severity",
        "file",
        "line",
        "column",
        "end_line",
        "migration",
        "statement_index",
        "object",
        "message",
        "help",
    ]
    assert document["summary"]["files"] == 7


def test_paths_relative_stay_relative(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "patterns" / "drop_column", tmp_path / "p")
    completed = run("lint", "p/prisma/migrations", "--format", "json", cwd=tmp_path)
    files = {f["file"] for f in json.loads(completed.stdout)["findings"]}
    assert all(f.startswith("p/prisma/migrations/") for f in files), files


def test_single_sql_file_and_formats(tmp_path: Path) -> None:
    sql = tmp_path / "change.sql"
    sql.write_text('ALTER TABLE "User" DROP COLUMN "nickname";\n')
    github = run("lint", str(sql), "--format", "github")
    assert github.stdout.startswith("::error file=") and "drop-column" in github.stdout
    sarif = json.loads(run("lint", str(sql), "--format", "sarif").stdout)
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"][0]["ruleId"] == "drop-column"
    markdown = run("lint", str(sql), "--format", "markdown").stdout
    assert "drop-column" in markdown and "|" in markdown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("lint", "does/not/exist.sql"), "does/not/exist.sql does not exist."),
        (("lint", "--project", "nowhere"), "The project directory nowhere does not exist."),
        (("lint", "--format", "xml", "x.sql"), "Invalid value for '--format'"),
        (("rules", "explain", "no-such-rule"), "There is no rule 'no-such-rule'."),
    ],
)
def test_user_mistakes_end_in_one_line_and_exit_2(args: tuple[str, ...], message: str, tmp_path: Path) -> None:
    completed = run(*args, cwd=tmp_path)
    assert completed.returncode == 2
    assert message in completed.stderr
    assert "Traceback" not in completed.stderr


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "patterns" / "drop_column", tmp_path, dirs_exist_ok=True)
    (tmp_path / "safemigrate.toml").write_text('[lint]\ndisable = ["drop-colum"]\n')
    completed = run("lint", cwd=tmp_path)
    assert completed.returncode == 2
    assert "unknown rule 'drop-colum'" in completed.stderr and "Traceback" not in completed.stderr


def test_config_disables_a_rule(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "patterns" / "drop_column", tmp_path, dirs_exist_ok=True)
    (tmp_path / "safemigrate.toml").write_text('[lint]\ndisable = ["drop-column"]\n')
    rules = {f["rule"] for f in json.loads(run("lint", "--format", "json", cwd=tmp_path).stdout)["findings"]}
    assert "drop-column" not in rules and "breaking-drop" in rules


def test_rules_list_and_explain() -> None:
    listing = run("rules").stdout
    assert "SM102  drop-column" in listing
    page = run("rules", "explain", "SM102")
    assert page.returncode == 0 and page.stdout.startswith("# SM102 drop-column")
    assert run("rules", "explain", "drop-column").stdout == page.stdout


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_since_lints_only_new_migrations_and_reports_edited_ones(tmp_path: Path) -> None:
    project = tmp_path / "repo"
    shutil.copytree(FIXTURES / "blog", project)
    migrations = project / "prisma" / "migrations"
    latest = sorted(p.name for p in migrations.iterdir() if p.is_dir())[-1]
    shutil.move(str(migrations / latest), str(tmp_path / latest))  # the "new" migration, added after the ref
    git(project, "init", "-q")
    git(project, "-c", "user.email=t@example.com", "-c", "user.name=t", "add", ".")
    git(project, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "base")
    shutil.move(str(tmp_path / latest), str(migrations / latest))

    document = json.loads(run("lint", "--since", "HEAD", "--format", "json", cwd=project).stdout)
    assert {f["migration"] for f in document["findings"]} == {latest}
    assert "edited-migration" not in {f["rule"] for f in document["findings"]}

    init = next(p for p in sorted(migrations.iterdir()) if p.name.endswith("_init"))
    with (init / "migration.sql").open("a") as handle:
        handle.write("\n-- edited after it was applied\n")
    completed = run("lint", "--since", "HEAD", "--format", "json", cwd=project)
    edited = [f for f in json.loads(completed.stdout)["findings"] if f["rule"] == "edited-migration"]
    assert [f["migration"] for f in edited] == [init.name]
    assert completed.returncode == 1


def test_since_with_unknown_ref_is_a_clear_error(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "blog", tmp_path / "repo")
    git(tmp_path / "repo", "init", "-q")
    completed = run("lint", "--since", "origin/nope", cwd=tmp_path / "repo")
    assert completed.returncode == 2
    assert "does not exist" in completed.stderr and "Traceback" not in completed.stderr


def test_second_run_from_the_parse_cache_gives_the_same_output() -> None:
    args = ("lint", "--project", str(FIXTURES / "blog"), "--format", "json", "--fail-on", "never")
    first, second, uncached = run(*args), run(*args), run(*args, "--no-cache")
    assert first.stdout == second.stdout == uncached.stdout
    assert any(Path(CACHE_DIR).glob("parsed-*.pickle"))


def test_backups_list_of_a_missing_project_is_an_error_not_an_empty_list(tmp_path: Path) -> None:
    completed = run("backups", "list", "--project", str(tmp_path / "nowhere"))
    assert completed.returncode == 2
    assert "does not exist" in completed.stderr and "No backups" not in completed.stdout
