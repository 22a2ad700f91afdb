"""``safemigrate report --html DIR``: a static dashboard of the run ledger, the backups (with what the
retention policy would do) and the lint findings of each migration, under a red/amber/green status.

It reads the backup store and the migration files only, never the database: it can run anywhere the
store is reachable (a CI job, a laptop with the S3 credentials). So "applied" means "an applied run of
the ledger applied it", "pending" means "after the newest migration an applied run applied", and one
before it that no run applied (a branch merged late, or one deployed before the ledger or by other
means) is "pending?": the ledger cannot tell.

Status (the reasons are listed under it):

- red: the last run failed or was rolled back; a backup failed its verification; an error finding in
  a pending migration; the newest backup cannot be read (``restore --latest`` refuses).
- amber: the last run was refused; a warning in a pending migration; an error finding in a
  migration marked "pending?"; no backup, or the newest one older than ``max_backup_age`` (7 days
  unless given); a backup or a run record that cannot be read; the migrations could not be linted.
- green otherwise.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import jinja2

from safemigrate.backup.manifest import Manifest
from safemigrate.backup.retention import plan_prune, protected_backups
from safemigrate.backup.select import created, parse_time
from safemigrate.backup.store import BackupListing, UnfinishedBackup
from safemigrate.backup.stores import RUNS, BackupStore, LocalStore, runs_by_time
from safemigrate.config import RetentionConfig
from safemigrate.errors import BackupFormatError, InputError, SafemigrateError
from safemigrate.lint.findings import LintResult
from safemigrate.lint.rule import Severity

Level = Literal["red", "amber", "green"]
DEFAULT_MAX_BACKUP_AGE = timedelta(days=7)
INDEX = "index.html"
_LEVEL_RANK: Mapping[str, int] = {"green": 0, "amber": 1, "red": 2}


# ---------------------------------------------------------------------------------------------
# What the page shows


@dataclass(frozen=True)
class StatusReason:
    level: Level
    text: str


@dataclass(frozen=True)
class Status:
    level: Level
    reasons: tuple[StatusReason, ...]  # the red ones first

    @property
    def headline(self) -> str:
        return {
            "red": "Red: needs attention now",
            "amber": "Amber: look at this soon",
            "green": "Green: all clear",
        }[self.level]


@dataclass(frozen=True)
class StageView:
    name: str
    status: str
    seconds: float
    detail: str


@dataclass(frozen=True)
class ProblemView:
    kind: str
    subject: str
    detail: str


@dataclass(frozen=True)
class RunFindingView:
    severity: str
    rule: str
    migration: str
    line: int | None
    message: str


@dataclass(frozen=True)
class RunView:
    id: str
    started_at: str
    finished_at: str
    seconds: float | None  # finished - started, when both are known
    database: str
    verdict: str
    message: str
    migrations: tuple[str, ...]
    backup_id: str | None
    stages: tuple[StageView, ...]
    blockers: tuple[RunFindingView, ...]
    problems: tuple[ProblemView, ...]
    notes: tuple[str, ...]
    schema_changes: tuple[str, ...] | None  # None: the run recorded no schema comparison
    rolled_back_by: str | None  # set when `safemigrate rollback` undid the run afterwards

    @property
    def level(self) -> Level:
        return verdict_level(self.verdict)

    @property
    def started_text(self) -> str:
        return time_text(self.started_at)


@dataclass(frozen=True)
class BackupView:
    id: str
    created_at: str
    age: timedelta
    reason_kind: str
    reason_text: str
    migrations: tuple[str, ...]
    tables: tuple[str, ...]
    rows: int
    bytes: int
    verified: bool | None
    kept: bool  # by the retention policy; False: the next `backups prune` removes it
    kept_because: tuple[str, ...]

    @property
    def created_text(self) -> str:
        return time_text(self.created_at)

    @property
    def age_text(self) -> str:
        return duration_text(self.age)

    @property
    def size_text(self) -> str:
        return size_text(self.bytes)

    @property
    def verified_text(self) -> str:
        return {None: "not verified", True: "verified", False: "verification failed"}[self.verified]


@dataclass(frozen=True)
class UnreadableBackupView:
    """A backup whose manifest cannot be read: never restored, listed so that it is seen."""

    id: str
    reason: str
    hint: str
    newest: bool  # it may be newer than every readable backup: `restore --latest` refuses because of it


@dataclass(frozen=True)
class UnreadableRunView:
    """A run record of the ledger that cannot be read (damaged JSON, or not a JSON object)."""

    where: str  # the record (runs/<id>.json), or the store when the ledger could not be read record by record
    reason: str


@dataclass(frozen=True)
class LintFindingView:
    severity: str  # error | warning | info
    rule: str
    rule_id: str
    line: int
    message: str
    help: str


@dataclass(frozen=True)
class MigrationLint:
    name: str
    # False: an applied run of the ledger applied it; True: it comes after the newest one an applied
    # run applied; None: the ledger cannot tell (it records no applied run, or no run applied this
    # one although a later one was applied).
    pending: bool | None
    statements: int
    findings: tuple[LintFindingView, ...]  # active ones, most severe first
    suppressed: int

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)


@dataclass(frozen=True)
class Dashboard:
    project: str
    generated_at: datetime
    store: str
    status: Status
    runs: tuple[RunView, ...]  # newest first
    backups: tuple[BackupView, ...]  # newest first
    retention: RetentionConfig
    max_backup_age: timedelta
    migrations: tuple[MigrationLint, ...]  # in Prisma's order
    lint_error: str | None  # why the migrations could not be linted
    unfinished: tuple[UnfinishedBackup, ...] = ()  # started and never published (see backups list)
    unreadable_backups: tuple[UnreadableBackupView, ...] = ()  # newest first
    unreadable_runs: tuple[UnreadableRunView, ...] = ()


# ---------------------------------------------------------------------------------------------
# Building it


def build_dashboard(
    project_dir: Path = Path("."),
    config_file: Path | None = None,
    now: datetime | None = None,
    *,
    max_backup_age: timedelta = DEFAULT_MAX_BACKUP_AGE,
) -> Dashboard:
    """Read the store's runs and backups and lint the project's migrations; no database needed."""
    from safemigrate.backup.project import backup_setup

    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    setup = backup_setup(project_dir, config_file)
    ledger, unreadable_runs = read_ledger(setup.store)
    runs = tuple(reversed([run_view(r) for r in ledger]))
    listing = setup.store.list()
    backups = backup_views(listing, setup.config.backup.retention, now, protected_backups(ledger))
    unreadable_backups = unreadable_views(listing)
    migrations, lint_error = _lint(project_dir, config_file, runs)
    status = dashboard_status(
        runs,
        backups,
        migrations,
        lint_error,
        now=now,
        max_backup_age=max_backup_age,
        unreadable_backups=unreadable_backups,
        unreadable_runs=unreadable_runs,
    )
    return Dashboard(
        project=str(project_dir.resolve()),
        generated_at=now,
        store=setup.store.location,
        status=status,
        runs=runs,
        backups=backups,
        retention=setup.config.backup.retention,
        max_backup_age=max_backup_age,
        migrations=migrations,
        lint_error=lint_error,
        unfinished=listing.unfinished,
        unreadable_backups=unreadable_backups,
        unreadable_runs=unreadable_runs,
    )


def read_ledger(store: BackupStore) -> tuple[tuple[dict[str, Any], ...], tuple[UnreadableRunView, ...]]:
    """The store's run records, oldest first, and those that cannot be read: one damaged record must
    not hide the page. The store lists the ledger whole or fails at the first damaged record; a local
    store is then read again record by record. An S3 store offers no way to read one record, so its
    first error stands for the ledger, shown as unreadable (with no runs)."""
    try:
        return store.list_runs(), ()
    except BackupFormatError as err:
        if not isinstance(store, LocalStore):
            return (), (UnreadableRunView(store.location, f"{err.message} {err.hint}".strip()),)
    runs: list[dict[str, Any]] = []
    unreadable: list[UnreadableRunView] = []
    folder = store.path / RUNS
    try:
        paths = sorted(p for p in folder.iterdir() if p.name.endswith(".json"))
    except OSError as problem:
        return (), (UnreadableRunView(str(folder), problem.strerror or str(problem)),)
    for path in paths:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as problem:
            unreadable.append(UnreadableRunView(str(path), str(problem)))
            continue
        if isinstance(record, dict):
            runs.append(record)
        else:
            unreadable.append(UnreadableRunView(str(path), f"a JSON {type(record).__name__}, not a run record"))
    return runs_by_time(runs), tuple(unreadable)


def unreadable_views(listing: BackupListing) -> tuple[UnreadableBackupView, ...]:
    """The backups whose manifest cannot be read, newest first; ``newest`` marks the one (if any) that
    may be newer than every readable backup, which `restore --latest` refuses to pass over."""
    blocking = listing.unreadable_in_place_of(listing[-1] if listing else None)
    return tuple(
        UnreadableBackupView(u.id, u.reason, u.hint, newest=blocking is not None and u.id == blocking.id)
        for u in sorted(listing.unreadable, key=lambda u: u.id, reverse=True)
    )


def verdict_level(verdict: str) -> Level:
    if verdict in ("failed", "interrupted", "rolled back"):
        return "red"
    if verdict == "refused":
        return "amber"
    return "green"


def run_view(run: Mapping[str, Any]) -> RunView:
    """One ledger entry (see ``run_to_dict``); missing keys (older or hand-edited entries) read as empty."""
    started, finished = str(run.get("started_at") or ""), str(run.get("finished_at") or "")
    changes = run.get("schema_changes")
    rolled_back = run.get("rolled_back")
    return RunView(
        id=str(run.get("id", "?")),
        started_at=started,
        finished_at=finished,
        seconds=_seconds_between(started, finished),
        database=str(run.get("database") or ""),
        verdict=str(run.get("verdict") or "?"),
        message=str(run.get("message") or ""),
        migrations=tuple(str(m) for m in run.get("migrations") or ()),
        backup_id=str(run["backup_id"]) if run.get("backup_id") else None,
        stages=tuple(
            StageView(
                str(s.get("name", "")),
                str(s.get("status", "")),
                _seconds(s.get("seconds")),
                str(s.get("detail") or ""),
            )
            for s in _entries(run.get("stages"))
        ),
        blockers=tuple(
            RunFindingView(
                str(f.get("severity", "")),
                str(f.get("rule", "")),
                str(f.get("migration", "")),
                f.get("line") if isinstance(f.get("line"), int) else None,
                str(f.get("message", "")),
            )
            for f in _entries(run.get("blockers"))
        ),
        problems=tuple(
            ProblemView(str(p.get("kind", "")), str(p.get("subject", "")), str(p.get("detail", "")))
            for p in _entries(run.get("problems"))
        ),
        notes=tuple(str(n) for n in run.get("notes") or ()),
        schema_changes=tuple(describe_change(c) for c in _entries(changes)) if isinstance(changes, list) else None,
        rolled_back_by=str(rolled_back.get("by", "")) if isinstance(rolled_back, Mapping) else None,
    )


def _entries(value: object) -> tuple[Mapping[str, Any], ...]:
    """The objects of a ledger list; a hand-edited entry that is not an object is left out."""
    return tuple(e for e in value if isinstance(e, Mapping)) if isinstance(value, list) else ()


def _seconds(value: object) -> float:
    """A stage's duration; anything but a finite number (a hand-edited "fast") reads as empty: 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return 0.0
    try:
        seconds = float(value)
    except ValueError:
        return 0.0
    return seconds if math.isfinite(seconds) else 0.0


def _seconds_between(started: str, finished: str) -> float | None:
    try:
        return (parse_time(finished) - parse_time(started)).total_seconds()
    except SafemigrateError:
        return None


def _change_classes() -> dict[str, type[Any]]:
    from safemigrate.db.diff import Change

    found: dict[str, type[Any]] = {}
    pending: list[type[Any]] = [Change]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls is not Change:
            found[cls.kind] = cls
    return found


def describe_change(change: Mapping[str, Any]) -> str:
    """A ledger's schema change as the diff describes it (the ``Change`` rebuilt from its dict); a
    kind this version does not know is shown as its fields."""
    kind = str(change.get("kind", "change"))
    cls = _change_classes().get(kind)
    if cls is not None:
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in change.items() if k != "kind"}
        try:
            return str(cls(**values).describe())
        except (TypeError, ValueError, AttributeError):
            pass  # fields of another version: fall back to the plain form below
    fields = ", ".join(f"{k}={v}" for k, v in change.items() if k != "kind")
    return f"{kind.replace('_', ' ')}: {fields}" if fields else kind.replace("_", " ")


def backup_views(
    backups: Sequence[Manifest],
    retention: RetentionConfig,
    now: datetime,
    protected: Mapping[str, str] | None = None,
) -> tuple[BackupView, ...]:
    """Newest first, each with what ``backups prune`` would do to it now (``protected``: the backups
    the run ledger keeps, :func:`~safemigrate.backup.retention.protected_backups`, as prune keeps them)."""
    plan = plan_prune(backups, retention, now, protected)
    kept = {k.manifest.id: k.reasons for k in plan.kept}
    views = [
        BackupView(
            id=m.id,
            created_at=m.created_at,
            age=max(now - created(m), timedelta(0)),
            reason_kind=m.reason.kind,
            reason_text=m.reason.text,
            migrations=m.reason.migrations,
            tables=tuple(t.name for t in m.tables),
            rows=m.rows,
            bytes=m.bytes,
            verified=m.verified,
            kept=m.id in kept,
            kept_because=kept.get(m.id, ()),
        )
        for m in sorted(backups, key=created, reverse=True)
    ]
    return tuple(views)


def _lint(
    project_dir: Path, config_file: Path | None, runs: Sequence[RunView]
) -> tuple[tuple[MigrationLint, ...], str | None]:
    from safemigrate.api import lint

    try:
        outcome = lint(project_dir=project_dir, config_file=config_file)
    except SafemigrateError as err:  # no Prisma project here: the dashboard still shows the store
        return (), err.message
    return migration_lints(outcome.result, runs), None


def migration_lints(result: LintResult, runs: Sequence[RunView]) -> tuple[MigrationLint, ...]:
    """Findings grouped by migration, each marked pending or not from the ledger (see the module doc).

    Judged by the names the ledger's applied runs recorded, not by position alone: a migration that
    sorts before the newest applied one but that no run applied (a branch merged late) may well be
    pending, so it is "pending?" (None), never "applied"."""
    names = [f.migration for f in result.files]
    applied = {m for r in runs if r.verdict == "applied" for m in r.migrations}
    newest = max((i for i, name in enumerate(names) if name in applied), default=None)
    order = {s.value: s.rank for s in Severity}
    lints = []
    for index, report in enumerate(result.files):
        mine = [f for f in result.findings if f.migration == report.migration]
        active = sorted((f for f in mine if f.active), key=lambda f: (-order[f.severity.value], f.line))
        lints.append(
            MigrationLint(
                name=report.migration,
                pending=_pending(report.migration in applied, index, newest),
                statements=report.statements,
                findings=tuple(
                    LintFindingView(f.severity.value, f.rule, f.rule_id, f.line, f.message, f.help) for f in active
                ),
                suppressed=sum(1 for f in mine if f.suppressed),
            )
        )
    return tuple(lints)


def _pending(recorded: bool, index: int, newest: int | None) -> bool | None:
    if recorded:
        return False
    if newest is None:
        return None  # no applied run in the ledger: old and new migrations look alike
    # Before the newest applied one and applied by no run: deployed before the ledger (or by other
    # means), or merged late and still pending. The ledger cannot tell which.
    return True if index > newest else None


def dashboard_status(
    runs: Sequence[RunView],
    backups: Sequence[BackupView],
    migrations: Sequence[MigrationLint],
    lint_error: str | None,
    *,
    now: datetime,
    max_backup_age: timedelta,
    unreadable_backups: Sequence[UnreadableBackupView] = (),
    unreadable_runs: Sequence[UnreadableRunView] = (),
) -> Status:
    """The traffic light and why (pure: unit-tested without a store)."""
    reasons = list(_reasons(runs, backups, migrations, lint_error, max_backup_age))
    reasons += _unreadable_reasons(unreadable_backups, unreadable_runs)
    reasons.sort(key=lambda r: -_LEVEL_RANK[r.level])
    level: Level = reasons[0].level if reasons else "green"
    return Status(level, tuple(reasons))


def _reasons(
    runs: Sequence[RunView],
    backups: Sequence[BackupView],
    migrations: Sequence[MigrationLint],
    lint_error: str | None,
    max_backup_age: timedelta,
) -> Iterator[StatusReason]:
    if runs:
        last = runs[0]
        if last.verdict == "rolled back" and last.rolled_back_by:
            yield StatusReason("red", f"The last run {last.id} was undone by {last.rolled_back_by}.")
        elif last.verdict in ("failed", "rolled back"):
            yield StatusReason("red", f"The last run {last.id} {last.verdict}: {last.message}")
        elif last.verdict == "interrupted":
            yield StatusReason(
                "red", f"The last run {last.id} was interrupted and may be partly applied: {last.message}"
            )
        elif last.verdict == "refused":
            yield StatusReason("amber", f"The last run {last.id} was refused: {last.message}")
    for backup in backups:
        if backup.verified is False:
            yield StatusReason("red", f"Backup {backup.id} failed its verification: it may not restore.")
    for lint in migrations:
        errors, warnings = lint.count("error"), lint.count("warning")
        if lint.pending and errors:
            yield StatusReason("red", f"The pending migration {lint.name} has {_plural(errors, 'error finding')}.")
        elif lint.pending is None and errors:
            why = (
                "no run of the ledger applied it although a later migration was applied (a branch merged late?)"
                if any(m.pending is False for m in migrations)
                else "the ledger records no applied migration"
            )
            yield StatusReason(
                "amber", f"{lint.name} has {_plural(errors, 'error finding')}; {why}, so it may be pending."
            )
        if lint.pending and warnings:
            yield StatusReason("amber", f"The pending migration {lint.name} has {_plural(warnings, 'warning')}.")
    if not backups:
        yield StatusReason("amber", "There is no backup in the store.")
    elif backups[0].age > max_backup_age:
        yield StatusReason(
            "amber",
            f"The newest backup ({backups[0].id}) is {duration_text(backups[0].age)} old, "
            f"older than {duration_text(max_backup_age)}.",
        )
    if lint_error:
        yield StatusReason("amber", f"The migrations could not be linted: {lint_error}")


def _unreadable_reasons(
    backups: Sequence[UnreadableBackupView], runs: Sequence[UnreadableRunView]
) -> list[StatusReason]:
    reasons = []
    for backup in backups:
        if backup.newest:
            reasons.append(
                StatusReason(
                    "red",
                    f"Backup {backup.id} cannot be read and may be the newest backup: `safemigrate restore "
                    f"--latest` refuses to restore an older one in its place. {backup.reason}",
                )
            )
        else:
            reasons.append(StatusReason("amber", f"Backup {backup.id} cannot be read: {backup.reason}"))
    for run in runs:
        reasons.append(
            StatusReason(
                "amber",
                f"The run record {run.where} cannot be read ({run.reason}): the runs, the pending "
                "migrations and the retention shown may be incomplete.",
            )
        )
    return reasons


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def time_text(moment: str) -> str:
    """``2026-11-30 02:47:08`` (UTC); text that is not a time is shown as it is."""
    try:
        return parse_time(moment).strftime("%Y-%m-%d %H:%M:%S")
    except SafemigrateError:
        return moment


def duration_text(span: timedelta) -> str:
    """``3 d 4 h``, ``5 h 12 min``, ``7 min``, ``12 s``: two units at most."""
    seconds = int(span.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{seconds} s"


def size_text(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


# ---------------------------------------------------------------------------------------------
# Rendering and writing


def _environment() -> jinja2.Environment:
    # HTML: autoescape on for everything (migration names, messages and SQL are the user's text).
    return jinja2.Environment(
        loader=jinja2.PackageLoader("safemigrate.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_dashboard_html(dashboard: Dashboard) -> str:
    """The whole page: one self-contained HTML document (inline CSS, no script, no external asset)."""
    template = _environment().get_template("dashboard.html.j2")
    return template.render(d=dashboard, level_of=verdict_level) + "\n"


def write_dashboard(dashboard: Dashboard, directory: Path) -> Path:
    """Write ``directory/index.html`` (the directory created when missing); returns its path.

    The file is replaced atomically, so a web server or a browser never reads half a page."""
    page = render_dashboard_html(dashboard)
    try:
        if directory.exists() and not directory.is_dir():
            raise InputError(f"{directory} is a file, not a directory.", "Pass a directory to --html.")
        directory.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".index.", suffix=".html.tmp", dir=directory)
    except OSError as err:  # a file on the way (NotADirectoryError), a read-only or missing root...
        raise InputError(
            f"Cannot write the dashboard into {directory}: {err.strerror or err}.",
            "Pass a folder you can create and write to --html.",
        ) from err
    target = directory / INDEX
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(page)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except OSError as err:
        Path(temporary).unlink(missing_ok=True)
        raise InputError(f"Cannot write {target}: {err.strerror or err}.", "Check the folder's free space.") from err
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
