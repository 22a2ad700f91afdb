"""The terminal / CI log rendering of `safemigrate plan`.

Sections in the order a reader decides in: pending migrations, preflight checks (failed first, each
with its count, up to five offending keys and file:line), lint findings weighed by live table sizes,
sessions a migration would queue behind, the backup scope and the clone; then the verdict. Colour
only with ``color=True``; the returned text has no trailing newline.
"""

from __future__ import annotations

from collections.abc import Iterator

from rich.text import Text

from safemigrate.db.connect import duration_text
from safemigrate.lint.rule import Severity
from safemigrate.plan import model as pm
from safemigrate.report.console import render_lines
from safemigrate.report.counts import plural, severity_phrase

_OUTCOME_STYLE = {pm.FAILED: "bold red", pm.UNFINISHED: "yellow", pm.PASSED: "green", pm.SKIPPED: "dim"}
_OUTCOME_ORDER = (pm.FAILED, pm.UNFINISHED, pm.PASSED, pm.SKIPPED)
_SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan", Severity.OFF: "dim"}
_WIDTH = 10_000


def server_version_text(version_num: int) -> str:
    """``15.4`` from 150004."""
    return f"{version_num // 10000}.{version_num % 10000}"


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "no open transaction"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}min {whole % 60}s"
    return f"{whole // 3600}h {whole % 3600 // 60}min"


def check_counts(plan: pm.Plan) -> str:
    """``2 failed, 3 passed, 1 skipped``: outcomes that occur, most important first."""
    counts = {o: sum(1 for c in plan.checks if c.outcome == o) for o in _OUTCOME_ORDER}
    return ", ".join(f"{n} {o}" for o, n in counts.items() if n) or "none needed"


def verdict(plan: pm.Plan) -> str:
    if plan.failed_migrations:
        return (
            f"The deploy would stop: {plural(len(plan.failed_migrations), 'migration')} recorded as failed "
            "must be resolved first (prisma migrate resolve)."
        )
    failed = plan.failed_checks
    if failed:
        return f"The migrations would fail: {plural(len(failed), 'preflight check')} found data they fail on."
    if not plan.migrations:
        return "Nothing to deploy: no pending migration."
    unfinished = plan.unfinished_checks
    if unfinished:
        return f"No check predicts a failure, but {plural(len(unfinished), 'check')} could not finish."
    return "No preflight check predicts a failure."


def result_line(check: pm.CheckResult) -> str:
    """``1 (2 rows share 1 key value); email: ann@example.com (×2)``: what a failed check found."""
    count = "at least one" if check.count is None else f"{check.count:,}"
    text = count + (f" ({check.detail})" if check.detail else "")
    if check.samples:
        text += f"; {check.sample_label}: " + ", ".join(check.samples)
    return text


def render_plan_text(plan: pm.Plan, *, color: bool = False) -> str:
    return render_lines(_lines(plan), color=color, width=_WIDTH)


def _lines(plan: pm.Plan) -> Iterator[Text]:
    yield Text.assemble(
        ("Plan", "bold"),
        f" for {plan.database or 'the database'} (schema {plan.schema}, "
        f"PostgreSQL {server_version_text(plan.server_version)})",
    )
    yield Text()
    for name in plan.failed_migrations:
        yield Text(
            f"Migration {name} is recorded as failed: Prisma refuses to deploy until it is resolved.", "bold red"
        )
    yield Text(f"Pending migrations: {len(plan.migrations)}", style="bold")
    for migration in plan.migrations:
        again = " (rolled back, applied again)" if migration.state != "pending" else ""
        yield Text(f"  {migration.name}{again}: {plural(migration.statements, 'statement')}, {migration.transaction}")
    if not plan.migrations:
        yield Text()
        yield Text(verdict(plan), style="bold red" if plan.predicts_failure else "bold green")
        return
    yield Text()
    yield from _checks(plan)
    yield Text()
    yield from _findings(plan)
    yield Text()
    yield from _blockers(plan)
    yield Text()
    yield from _scope(plan)
    yield Text(f"Clone for dry-run: {plan.clone}")
    yield Text()
    yield Text(verdict(plan), style="bold red" if plan.predicts_failure else "bold green")


def _checks(plan: pm.Plan) -> Iterator[Text]:
    yield Text(f"Preflight checks on live data: {check_counts(plan)}", style="bold")
    ordered = sorted(plan.checks, key=lambda c: _OUTCOME_ORDER.index(c.outcome))
    for check in ordered:
        yield Text.assemble(
            "  ",
            (f"{check.outcome:<10}", _OUTCOME_STYLE[check.outcome]),
            " ",
            (f"{check.file}:{check.line}", "bold"),
            f"  {check.description}",
        )
        if check.outcome == pm.FAILED or (check.outcome == pm.PASSED and check.count):
            # a passed check that counts rows: rows the statement changes (``rounded``), not a failure
            yield Text("             " + result_line(check))
        elif check.outcome in (pm.UNFINISHED, pm.SKIPPED) and check.detail:
            yield Text("             " + check.detail, style="dim" if check.outcome == pm.SKIPPED else "")
    if any(c.outcome == pm.UNFINISHED for c in plan.checks):
        yield Text(
            f"  (check budget {duration_text(plan.settings.check_budget)}: raise [plan] check_budget to finish them)"
        )


def _findings(plan: pm.Plan) -> Iterator[Text]:
    active = plan.active_findings()
    phrase = severity_phrase([f.finding for f in active]) or "none"
    yield Text(f"Lint findings (lock findings weighed by live table size): {phrase}", style="bold")
    for planned in sorted(active, key=lambda f: (-f.finding.severity.rank, f.finding.file, f.finding.line)):
        finding = planned.finding
        yield Text.assemble(
            "  ",
            (f"{finding.severity.value:<8}", _SEVERITY_STYLE[finding.severity]),
            " ",
            (f"{finding.file}:{finding.line}", "bold"),
            "  ",
            (finding.rule, "bold"),
            f"  {finding.message}",
        )
        if planned.adjusted:
            yield Text(f"           (lint said {planned.lint_severity.value}: {planned.reason})", style="dim")


def _blockers(plan: pm.Plan) -> Iterator[Text]:
    if not plan.blockers:
        yield Text("Sessions in the way: none hold locks on the affected tables.", style="bold")
        return
    yield Text(
        f"Sessions in the way: {len(plan.blockers)} (a migration would queue behind them, and everyone behind it)",
        style="bold yellow",
    )
    for blocker in plan.blockers:
        holds = (
            f"holds {', '.join(blocker.modes)} on {', '.join(blocker.tables)}" if blocker.tables else "long transaction"
        )
        yield Text(
            f"  pid {blocker.pid}  {blocker.application_name or '(no application_name)'}  "
            f"{blocker.state or 'state hidden'}  transaction age {age_text(blocker.transaction_age)}  {holds}"
        )
        if blocker.query:
            yield Text(f"      {blocker.query}", style="dim")


def _scope(plan: pm.Plan) -> Iterator[Text]:
    scope = plan.backup_scope
    if scope is None:
        yield Text("Backup scope: not computed.")
        return
    tables = ", ".join(scope.tables) if scope.tables else "nothing to back up"
    yield Text(f"Backup scope: {tables}", style="bold")
    for table in scope.tables:
        yield Text(f"  {table}: {'; '.join(scope.reasons.get(table, ()))}", style="dim")
    for skipped in scope.skipped:
        yield Text(f"  not backed up: {skipped.name} ({skipped.reason})", style="dim")
    for unread in scope.unread:
        yield Text(f"  not readable, so not in scope: {unread}", style="dim")
