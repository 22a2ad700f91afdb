"""``plan --format markdown``: the plan for a CI job summary or a pull-request comment.

A heading and the verdict, the pending migrations, the preflight checks (failed first), the lint
findings weighed by live table size, the sessions in the way, the backup scope and the clone.
Rendered from ``templates/plan.md.j2``; the returned text has no trailing newline.
"""

from __future__ import annotations

from safemigrate.plan import model as pm
from safemigrate.report.counts import plural
from safemigrate.report.plan_text import age_text, check_counts, result_line, server_version_text, verdict
from safemigrate.report.templating import render

_OUTCOME_ORDER = (pm.FAILED, pm.UNFINISHED, pm.PASSED, pm.SKIPPED)


def render_plan_markdown(plan: pm.Plan, tool_version: str) -> str:
    active = plan.active_findings()
    return render(
        "plan.md.j2",
        plan=plan,
        verdict=verdict(plan),
        server_version=server_version_text(plan.server_version),
        check_counts=check_counts(plan),
        checks=sorted(plan.checks, key=lambda c: _OUTCOME_ORDER.index(c.outcome)),
        findings=sorted(active, key=lambda f: (-f.finding.severity.rank, f.finding.file, f.finding.line)),
        tool_version=tool_version,
        plural=plural,
        result_line=result_line,
        age_text=age_text,
    )
