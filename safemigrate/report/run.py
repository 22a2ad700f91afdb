"""`migrate` reports: text for a terminal or CI log, JSON (the ledger entry), markdown for a job summary."""

from __future__ import annotations

import json

from safemigrate.pipeline.migrate import MigrateRun, Stage, run_to_dict
from safemigrate.report.templating import render


def stage_line(stage: Stage) -> str:
    return f"{stage.name:>9}  {stage.status:<8} {stage.seconds:6.1f} s  {stage.detail}".rstrip()


def render_run_text(run: MigrateRun, *, stages: bool = True) -> str:
    lines: list[str] = [f"Run {run.id} on {run.database}"]
    if run.migrations:
        lines.append(f"Pending: {', '.join(run.migrations)}")
    if stages:
        lines.extend(stage_line(s) for s in run.stages)
    for finding in run.blockers:
        lines.append(
            f"  stops the run: {finding.file}:{finding.line}: {finding.severity.value} {finding.rule} "
            f"({finding.category.value}): {finding.message}"
        )
    for problem in run.problems:
        lines.append(f"  verification: {problem.subject}: {problem.detail}")
    lines.extend(f"  note: {note}" for note in run.notes)
    if run.backup_id:
        lines.append(f"Backup: {run.backup_id} (restore with `safemigrate restore --id {run.backup_id}`)")
    lines.append(run.message)
    return "\n".join(lines)


def render_run_json(run: MigrateRun, *, pretty: bool = False) -> str:
    return json.dumps(run_to_dict(run), indent=2 if pretty else None, ensure_ascii=False)


def render_run_markdown(run: MigrateRun) -> str:
    return render("run.md.j2", r=run_to_dict(run))
