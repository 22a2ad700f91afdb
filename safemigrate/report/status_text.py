"""The terminal / CI log rendering of `safemigrate status`.

One line per migration (state, name, when), the failed ones followed by their logs (the first
lines; ``--format json`` carries them whole), then a summary line and what to do about each kind of
difference. Colour only with ``color=True``; the returned text has no trailing newline.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timezone

from rich.text import Text

from safemigrate.db.prisma_migrations import BASELINE_DOCS, MIGRATIONS_TABLE, RESOLVE_DOCS
from safemigrate.report.console import render_lines
from safemigrate.report.counts import first_names, plural
from safemigrate.status import (
    APPLIED,
    EDITED,
    FAILED,
    MISSING_LOCALLY,
    PENDING,
    ROLLED_BACK,
    STATES,
    MigrationStatus,
    StatusReport,
)

LOG_LINES = 12  # lines of a failed migration's logs shown before "..."
_WIDTH = 10_000

LABELS = {
    APPLIED: "applied",
    PENDING: "pending",
    FAILED: "failed",
    ROLLED_BACK: "rolled back",
    EDITED: "edited",
    MISSING_LOCALLY: "missing locally",
}
_STYLE = {
    APPLIED: "green",
    PENDING: "yellow",
    FAILED: "bold red",
    ROLLED_BACK: "yellow",
    EDITED: "bold red",
    MISSING_LOCALLY: "bold red",
}
_LABEL_WIDTH = max(len(label) for label in LABELS.values())


def when(moment: datetime | None) -> str:
    """``2024-01-31 12:00:03 UTC``."""
    if moment is None:
        return ""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _shown_dir(report: StatusReport) -> str:
    if report.migrations_dir is None:
        return "the migrations directory"
    path = report.migrations_dir
    try:
        if path.resolve().is_relative_to(os.getcwd()):
            return os.path.relpath(path)
    except (OSError, ValueError):
        pass
    return str(path)


def render_status_text(report: StatusReport, *, color: bool) -> str:
    return render_lines(_lines(report), color=color, width=_WIDTH)


def _short(checksum: str | None) -> str:
    return f"{checksum[:12]}..." if checksum else "none"


def _detail(m: MigrationStatus) -> str:
    if m.state in (APPLIED, MISSING_LOCALLY):
        return f"applied {when(m.applied_at)}"
    if m.state == EDITED:
        return (
            f"applied {when(m.applied_at)}; migration.sql changed since (checksum recorded "
            f"{_short(m.recorded_checksum)}, file {_short(m.checksum)})"
        )
    if m.state == FAILED:
        return f"failed, started {when(m.started_at)}"
    if m.state == ROLLED_BACK and m.local:
        return f"rolled back {when(m.rolled_back_at)}; the next deploy applies it again"
    if m.state == ROLLED_BACK:
        return f"rolled back {when(m.rolled_back_at)}; not in the migrations directory any more"
    return "not yet applied"


def _lines(report: StatusReport) -> Iterator[Text]:
    where = report.database or "the database"
    yield Text(f'Database: {where} (schema "{report.schema}")')
    local = sum(1 for m in report.migrations if m.local)
    table = (
        f"{plural(report.rows, 'row')} in {MIGRATIONS_TABLE}"
        if report.has_migrations_table
        else f"no {MIGRATIONS_TABLE} table"
    )
    yield Text(f"Migrations: {_shown_dir(report)} ({plural(local, 'migration')}; {table})")
    if report.migrations:
        yield Text("")
    width = max((len(m.name) for m in report.migrations), default=0)
    for m in report.migrations:
        line = Text("  ")
        line.append(LABELS[m.state].ljust(_LABEL_WIDTH), style=_STYLE[m.state])
        line.append(f"  {m.name.ljust(width)}  {_detail(m)}")
        if m.attempts > 1:
            line.append(f" ({m.attempts} attempts)")
        yield line
        if m.state == FAILED and m.logs and m.logs.strip():
            logs = m.logs.strip().splitlines()
            for log_line in logs[:LOG_LINES]:
                yield Text("      | " + log_line, style="dim")
            if len(logs) > LOG_LINES:
                yield Text(f"      | ... ({plural(len(logs) - LOG_LINES, 'more line')}; --format json has them all)")
    yield Text("")
    counts = report.counts
    parts = [f"{n} {LABELS[state]}" for state in STATES if (n := counts[state])]
    summary = ", ".join(parts) if parts else "no migrations"
    if report.in_sync:
        yield Text(f"{summary}. Database schema is up to date!", style="green")
        return
    yield Text(f"{summary}. The database is not in sync with the migrations:", style="bold")
    yield from (Text(f"- {advice}") for advice in _advice(report))


def _names(migrations: tuple[MigrationStatus, ...]) -> str:
    return first_names([m.name for m in migrations], 3)


def _advice(report: StatusReport) -> Iterator[str]:
    if report.needs_baseline:
        first = report.first_local or "<migration-name>"
        tables = first_names(report.unmanaged_tables, 3)
        yield (
            f"The schema has tables ({tables}) but no {MIGRATIONS_TABLE} table: baseline "
            f'it with `prisma migrate resolve --applied "{first}"` for each migration it already reflects '
            f"({BASELINE_DOCS}) before deploying."
        )
    failed = report.named(FAILED)
    if failed:
        name = failed[0].name
        yield (
            f"Failed: {_names(failed)}. Deploys stop here until it is resolved: undo what it changed, then "
            f'`prisma migrate resolve --rolled-back "{name}"`; or complete it by hand, then '
            f'`prisma migrate resolve --applied "{name}"` ({RESOLVE_DOCS}).'
        )
    edited = report.named(EDITED)
    if edited:
        yield (
            f"Edited after apply: {_names(edited)}. The database ran the earlier version: restore the applied file "
            "(git) and put the change in a new migration."
        )
    missing = report.named(MISSING_LOCALLY)
    if missing:
        yield (
            f"Missing locally: {_names(missing)}. Applied in the database but not in {_shown_dir(report)}: restore "
            "the folder (git), or deploy from the branch that has it."
        )
    rolled_back = tuple(m for m in report.named(ROLLED_BACK) if m.local)
    if rolled_back:
        yield f"Rolled back: {_names(rolled_back)}. The next deploy applies it again."
    pending = report.named(PENDING)
    if pending:
        yield f"Pending: {_names(pending)}. Apply with `safemigrate migrate` (or `prisma migrate deploy`)."
