"""The files `init --ci github` and `init --pre-commit` write: valid YAML, standard actions, only
commands and options that exist, and the workflows' own shell steps run on a real git repository
and a real database (the `uses:` steps are GitHub's; everything after them is ours)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from safemigrate.errors import InputError
from safemigrate.init import NPM_SCRIPTS, PIP_REQUIREMENT, apply_init, plan_init
from safemigrate.migrations import list_migrations
from safemigrate.pipeline.apply import apply_migrations
from safemigrate.status import APPLIED, read_status
from tests.init.commands import missing_parts, safemigrate_invocations

REPO_ROOT = Path(__file__).parents[2]
VENV_BIN = Path(sys.executable).parent
STANDARD_ACTIONS = {
    "actions/checkout@v4",
    "actions/setup-python@v5",
    "actions/setup-node@v4",
    "github/codeql-action/upload-sarif@v3",
}


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _triggers(workflow: dict[Any, Any]) -> Any:
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as true


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    (job,) = workflow["jobs"].values()
    return job["steps"]  # type: ignore[no-any-return]


@pytest.fixture
def initialised(prisma_project: Path) -> Path:
    apply_init(plan_init(prisma_project, ci="github", pre_commit=True))
    return prisma_project


def test_the_pull_request_workflow_lints_with_sarif_annotations_summary_and_dry_runs(initialised: Path) -> None:
    workflow = _load(initialised / ".github/workflows/safemigrate-pr.yml")
    assert _triggers(workflow) == {"pull_request": {"paths": ["prisma/migrations/**"]}}
    steps = _steps(workflow)
    assert {s["uses"] for s in steps if "uses" in s} == STANDARD_ACTIONS
    assert steps[0] == {"uses": "actions/checkout@v4", "with": {"fetch-depth": 0}}
    runs = [s["run"] for s in steps if "run" in s]
    assert runs[0] == f'python -m pip install "{PIP_REQUIREMENT}"'
    since = 'safemigrate lint --since "origin/${{ github.base_ref }}"'
    assert f"{since} --format sarif > safemigrate.sarif || test $? -eq 1" in runs
    assert f'{since} --format markdown >> "$GITHUB_STEP_SUMMARY" || test $? -eq 1' in runs
    assert f"{since} --format github" in runs
    assert "safemigrate dry-run --local" in runs
    upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif"))
    assert upload["with"]["sarif_file"] == "safemigrate.sarif"
    assert workflow["permissions"]["security-events"] == "write"


def test_the_deploy_workflow_migrates_with_yes_into_the_summary_then_validates(initialised: Path) -> None:
    workflow = _load(initialised / ".github/workflows/safemigrate-deploy.yml")
    assert _triggers(workflow) == {"push": {"branches": ["main"]}, "workflow_dispatch": None}
    (job,) = workflow["jobs"].values()
    assert job["env"] == {"DATABASE_URL": "${{ secrets.DATABASE_URL }}"}
    steps = job["steps"]
    assert {s["uses"] for s in steps if "uses" in s} == STANDARD_ACTIONS - {"github/codeql-action/upload-sarif@v3"}
    runs = [s["run"] for s in steps if "run" in s]
    assert runs == [
        f'python -m pip install "{PIP_REQUIREMENT}"',
        'safemigrate migrate --yes --format markdown >> "$GITHUB_STEP_SUMMARY"',
        "safemigrate validate",
    ]


def test_the_deploy_workflow_sets_every_url_variable_the_datasource_reads(prisma_project: Path) -> None:
    schema = prisma_project / "prisma" / "schema.prisma"
    text = schema.read_text()
    assert 'url      = env("DATABASE_URL")' in text
    two_urls = 'url = env("POOLED_URL")\n  directUrl = env("DIRECT_URL")'
    schema.write_text(text.replace('url      = env("DATABASE_URL")', two_urls))
    apply_init(plan_init(prisma_project, ci="github"))
    (job,) = _load(prisma_project / ".github/workflows/safemigrate-deploy.yml")["jobs"].values()
    assert job["env"] == {"POOLED_URL": "${{ secrets.POOLED_URL }}", "DIRECT_URL": "${{ secrets.DIRECT_URL }}"}


def test_the_pre_commit_files_run_lint_and_dry_run_on_staged_migrations(initialised: Path) -> None:
    config = _load(initialised / ".pre-commit-config.yaml")
    (repo,) = config["repos"]
    assert repo["repo"] == "local"
    hooks = {h["id"]: h for h in repo["hooks"]}
    assert hooks["safemigrate-lint"]["entry"] == "safemigrate lint --since HEAD"
    assert hooks["safemigrate-dry-run"]["entry"] == "safemigrate dry-run --local"
    assert hooks["safemigrate-lint"]["additional_dependencies"] == [PIP_REQUIREMENT]
    shipped = {h["id"]: h for h in _load(REPO_ROOT / ".pre-commit-hooks.yaml")}
    assert set(shipped) == {"safemigrate-lint", "safemigrate-dry-run"}
    import re

    for hook in (*hooks.values(), *shipped.values()):
        assert hook["language"] == "python" and hook["pass_filenames"] is False
        pattern = re.compile(hook["files"])
        assert pattern.search("prisma/migrations/20240101120000_init/migration.sql")
        assert not pattern.search("prisma/migrations/migration_lock.toml")
        assert not pattern.search("prisma/schema.prisma")


def test_every_command_and_option_the_files_and_scripts_reference_exists(initialised: Path) -> None:
    lines: list[str] = []
    for workflow in ("safemigrate-pr.yml", "safemigrate-deploy.yml"):
        lines += [s["run"] for s in _steps(_load(initialised / ".github/workflows" / workflow)) if "run" in s]
    lines += [h["entry"] for h in _load(initialised / ".pre-commit-config.yaml")["repos"][0]["hooks"]]
    lines += [h["entry"] for h in _load(REPO_ROOT / ".pre-commit-hooks.yaml")]
    scripts = json.loads((initialised / "package.json").read_text())["scripts"]
    lines += [scripts[name] for name in NPM_SCRIPTS if name != "db:lint"]
    lines.append(NPM_SCRIPTS["db:lint"])  # the project keeps its own db:lint; ours is checked here
    invocations = [i for line in lines for i in safemigrate_invocations(line)]
    assert len(invocations) == 21  # 4 + 2 workflow steps, 2 + 2 hooks, 11 scripts
    problems = {" ".join(i): missing_parts(i) for i in invocations if missing_parts(i)}
    assert problems == {}


def _git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def _run_step(
    script: str, cwd: Path, summary: Path, env: dict[str, str], expressions: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """A `run:` step as GitHub runs it: expressions substituted, then bash -eo pipefail."""
    for expression, value in expressions.items():
        script = script.replace(expression, value)
    assert "${{" not in script, script
    environment = {**os.environ, **env, "GITHUB_STEP_SUMMARY": str(summary), "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_pull_request_workflow_steps_flag_a_dropping_migration_on_a_real_repository(
    initialised: Path, tmp_path: Path, pg_server: object
) -> None:
    repo = initialised
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    _git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")  # what checkout with fetch-depth 0 provides
    _git(repo, "checkout", "-q", "-b", "feature")
    added = repo / "prisma" / "migrations" / "20240501000000_drop_view_count" / "migration.sql"
    added.parent.mkdir()
    added.write_text('ALTER TABLE "Post" DROP COLUMN "viewCount";\n')
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "drop viewCount")

    summary = tmp_path / "summary.md"
    results: dict[str, subprocess.CompletedProcess[str]] = {}
    for step in _steps(_load(repo / ".github/workflows/safemigrate-pr.yml")):
        if "run" in step and "pip install" not in step["run"]:
            expressions = {"${{ github.base_ref }}": "main"}
            results[step["name"]] = _run_step(step["run"], repo, summary, {}, expressions)

    assert results["Lint for code scanning (SARIF)"].returncode == 0  # findings are exit 1, tolerated there
    sarif = json.loads((repo / "safemigrate.sarif").read_text())
    sarif_results = sarif["runs"][0]["results"]
    located = {(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]) for r in sarif_results}
    assert ("drop-column", "prisma/migrations/20240501000000_drop_view_count/migration.sql") in located
    assert all(uri.startswith("prisma/migrations/20240501000000_drop_view_count/") for _, uri in located)
    assert results["Lint summary"].returncode == 0 and "drop-column" in summary.read_text()
    annotations = results["Lint (annotations on the diff)"]
    assert annotations.returncode == 1
    assert "::error file=prisma/migrations/20240501000000_drop_view_count/migration.sql,line=1" in annotations.stdout
    rehearsal = results["Dry run on a local PostgreSQL (the whole history, no database needed)"]
    assert rehearsal.returncode == 0, rehearsal.stderr + rehearsal.stdout


def test_the_deploy_workflow_steps_migrate_and_validate_a_real_database(
    initialised: Path, tmp_path: Path, database_url: str
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(initialised / "prisma" / "migrations"))
    added = initialised / "prisma" / "migrations" / "20240501000000_add_tag" / "migration.sql"
    added.parent.mkdir()
    added.write_text('CREATE TABLE "Tag" ("id" SERIAL NOT NULL, "name" TEXT NOT NULL, PRIMARY KEY ("id"));\n')

    workflow = _load(initialised / ".github/workflows/safemigrate-deploy.yml")
    (job,) = workflow["jobs"].values()
    secrets = {"${{ secrets.DATABASE_URL }}": database_url}
    job_env = {name: secrets[value] for name, value in job["env"].items()}
    summary = tmp_path / "summary.md"
    for step in job["steps"]:
        if "run" in step and "pip install" not in step["run"]:
            completed = _run_step(step["run"], initialised, summary, job_env, {})
            assert completed.returncode == 0, f"{step['name']}: {completed.stderr}{completed.stdout}"
    assert summary.read_text().startswith("## safemigrate migrate: applied\n\nApplied 1 migration(s)")
    with psycopg.connect(database_url, autocommit=True) as conn:
        report = read_status(conn, list_migrations(initialised / "prisma" / "migrations"), schema="public")
    assert {s.state for s in report.migrations} == {APPLIED}


def _argv_stub(folder: Path) -> Path:
    """A `safemigrate` on PATH that prints the argv it received, one JSON line on stderr."""
    folder.mkdir()
    stub = folder / "safemigrate"
    stub.write_text(f"#!{sys.executable}\nimport json, sys\nprint(json.dumps(sys.argv[1:]), file=sys.stderr)\n")
    stub.chmod(0o755)
    return folder


def test_a_project_path_with_spaces_and_quotes_reaches_every_command_as_one_argument(
    tmp_path: Path, prisma_project: Path
) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    project = repo / "apps" / "my web's app"
    project.parent.mkdir(parents=True)
    prisma_project.rename(project)
    apply_init(plan_init(project, ci="github", pre_commit=True))
    stub = _argv_stub(tmp_path / "bin")
    runs = [
        step["run"]
        for workflow in ("safemigrate-pr.yml", "safemigrate-deploy.yml")
        for step in _steps(_load(repo / ".github/workflows" / workflow))
        if step.get("run", "").startswith("safemigrate ")
    ]
    assert len(runs) == 6
    for run in runs:
        completed = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", run.replace("${{ github.base_ref }}", "main")],
            cwd=tmp_path,
            env={**os.environ, "PATH": f"{stub}:{os.environ['PATH']}", "GITHUB_STEP_SUMMARY": str(tmp_path / "s.md")},
            capture_output=True,
            text=True,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        argv = json.loads(completed.stderr)
        assert argv[argv.index("--project") + 1] == "apps/my web's app", run
    hooks = _load(repo / ".pre-commit-config.yaml")["repos"][0]["hooks"]
    for hook in hooks:  # pre-commit splits `entry` with shlex.split
        argv = shlex.split(hook["entry"])
        assert argv[argv.index("--project") + 1] == "apps/my web's app", hook["entry"]


@pytest.mark.parametrize("folder", ["a: b", "no #1"])
def test_a_project_path_yaml_cannot_carry_on_a_command_line_is_refused(
    tmp_path: Path, prisma_project: Path, folder: str
) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    project = repo / folder
    prisma_project.rename(project)
    with pytest.raises(InputError, match="would end the generated YAML command line early"):
        plan_init(project, pre_commit=True)
    assert not (repo / ".pre-commit-config.yaml").exists()
