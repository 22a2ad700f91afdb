"""`safemigrate init`: write safemigrate.toml, the npm scripts, .gitignore, and optionally CI and pre-commit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from safemigrate.cli.common import ProjectOption

_VERBS = {"create": "created", "update": "updated", "keep": "kept", "unchanged": "unchanged"}


def init(
    ci: Annotated[
        Optional[str],  # noqa: UP045 - typer reads annotations at runtime, on Python 3.10 too
        typer.Option("--ci", help="Also write CI workflows for this provider: github."),
    ] = None,
    pre_commit: Annotated[
        bool, typer.Option("--pre-commit", help="Also write .pre-commit-config.yaml (lint and dry-run hooks).")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace existing files and same-name npm scripts with init's.")
    ] = False,
    requirement: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--requirement",
            help="What the workflows and hooks pip install (default: safemigrate==<this version>), e.g. "
            "'safemigrate @ git+https://github.com/acme/safemigrate@v0.1.0'.",
        ),
    ] = None,
    project: ProjectOption = Path("."),
) -> None:
    """Set up a Prisma project: safemigrate.toml, npm scripts (db:migrate:safe, db:backup...), .gitignore;
    --ci github adds the pull-request and deploy workflows. Running it again changes nothing."""
    from safemigrate.init import apply_init, plan_init

    plan = plan_init(project, ci=ci, pre_commit=pre_commit, force=force, requirement=requirement)
    apply_init(plan)
    for change in plan.changes:
        shown = change.path.relative_to(plan.repo_root).as_posix()
        details = f": {'; '.join(change.notes)}" if change.notes else ""
        typer.echo(f"{_VERBS[change.action]:<9} {shown}{details}")
    if not plan.writes:
        typer.echo("Nothing changed: the project is already set up.")
    else:
        typer.echo("Next: `npm run db:lint`, then `npm run db:migrate:safe` (docs/init.md lists every script).")
