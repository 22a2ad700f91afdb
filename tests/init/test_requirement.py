"""`init --requirement`: what the generated workflows and hooks `pip install` when safemigrate does
not come from PyPI at this version (a git tag, a wheel on an internal server); the dry-run hook gets
the same source with the `embedded` extra. A requirement for another package, or one that would
break the YAML it lands in, is refused in one line and nothing is written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from safemigrate.errors import InputError
from safemigrate.init import apply_init, plan_init

GIT_TAG = "safemigrate @ git+https://github.com/acme/safemigrate@v0.1.0"


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _install_steps(workflow: Any) -> list[str]:
    (job,) = workflow["jobs"].values()
    return [s["run"] for s in job["steps"] if "pip install" in s.get("run", "")]


def test_the_workflows_and_hooks_install_the_given_requirement(prisma_project: Path) -> None:
    apply_init(plan_init(prisma_project, ci="github", pre_commit=True, requirement=GIT_TAG))
    for name in ("safemigrate-pr.yml", "safemigrate-deploy.yml"):
        steps = _install_steps(_load(prisma_project / ".github/workflows" / name))
        assert steps and all(f'"{GIT_TAG}"' in run for run in steps), steps
    hooks = {h["id"]: h for repo in _load(prisma_project / ".pre-commit-config.yaml")["repos"] for h in repo["hooks"]}
    assert hooks["safemigrate-lint"]["additional_dependencies"] == [GIT_TAG]
    assert hooks["safemigrate-dry-run"]["additional_dependencies"] == [
        "safemigrate[embedded] @ git+https://github.com/acme/safemigrate@v0.1.0"
    ]


@pytest.mark.parametrize(
    "bad",
    [
        "requests==2.0",
        'safemigrate @ https://x.example/a"b.whl',
        "safemigrate @ https://x.example/$HOME/safemigrate.whl",  # the workflow's shell would expand it
        "safemigrate @ https://x.example/`id`.whl",
        "safemigrate==0.1; sys_platform == 'linux'",
        "not a req!",
        "safemigrate @ ./dist/safemigrate-0.1.0-py3-none-any.whl",  # pip refuses a path without file://
        "safemigrate @ git@github.com:acme/safemigrate.git",
    ],
)
def test_a_requirement_that_is_not_safemigrates_is_refused(prisma_project: Path, bad: str) -> None:
    with pytest.raises(InputError) as refused:
        plan_init(prisma_project, ci="github", requirement=bad)
    assert refused.value.message.startswith(f"--requirement {bad!r} ")
    assert "\n" not in refused.value.message
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "safemigrate",
            "init",
            "--ci",
            "github",
            "--requirement",
            bad,
            "--project",
            str(prisma_project),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: --requirement") and "Traceback" not in done.stderr
    assert not (prisma_project / ".github").exists() and not (prisma_project / "safemigrate.toml").exists()
