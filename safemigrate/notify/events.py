"""What a notification is about: one frozen :class:`Event`, built from a run's ledger entry, a
rollback, a failed backup or the store's newest backup. Pure functions, no network.

Every text that can reach a webhook passes through :func:`safemigrate.db.url.redact_url`, so a
password in an error message or a URL never leaves the machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from safemigrate.db.url import redact_url
from safemigrate.notify.settings import EventKind

_PROBLEM_CHARS = 500  # the first problem is a summary, not a report


@dataclass(frozen=True)
class RunFacts:
    id: str
    verdict: str  # applied | up to date | refused | failed | rolled back
    database: str  # host:port/database?schema=..., never a password
    migrations: tuple[str, ...]
    backup_id: str | None
    started_at: str
    finished_at: str
    message: str
    first_problem: str  # the first verification difference, else the first blocking finding, else the message
    rolled_back_by: str = ""  # "" | "migrate" (undone by the run itself) | "rollback" (the rollback command)
    restored: tuple[str, ...] = ()  # tables the rollback command restored


@dataclass(frozen=True)
class BackupFacts:
    id: str | None  # None: the backup failed before it had one, or there is no backup at all
    database: str
    created_at: str  # "" when unknown
    age_seconds: float | None = None
    max_age_seconds: float | None = None
    error: str = ""  # backup_failed: why
    store: str = ""  # where the backups are (a folder or s3://bucket/prefix)


@dataclass(frozen=True)
class Event:
    kind: EventKind
    time: str  # ISO 8601, UTC
    title: str  # one line, what happened and where
    run: RunFacts | None = None
    backup: BackupFacts | None = None


class BackupLike(Protocol):
    """What :func:`stale_backup_event` reads of a backup (a ``backup.manifest.Manifest`` fits)."""

    @property
    def id(self) -> str: ...
    @property
    def created_at(self) -> str: ...
    @property
    def database(self) -> str: ...


class RollbackLike(Protocol):
    """What :func:`rollback_event` reads of a rollback (``pipeline.rollback.RollbackResult`` fits)."""

    @property
    def run_id(self) -> str: ...
    @property
    def backup_id(self) -> str | None: ...
    @property
    def migrations(self) -> tuple[str, ...]: ...
    @property
    def restored(self) -> tuple[str, ...]: ...
    @property
    def marked(self) -> tuple[str, ...]: ...


_RUN_KINDS: Mapping[str, EventKind] = {
    "applied": "run_finished",
    "up to date": "run_finished",
    "refused": "run_refused",
    "failed": "run_failed",
    "interrupted": "run_failed",  # stopped while Prisma deployed: the database may be part-migrated
    "rolled back": "run_rolled_back",
}


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def run_event(run: Mapping[str, Any], now: datetime | None = None) -> Event | None:
    """The event of a `migrate` run's ledger entry (``run_to_dict``); None for an unknown verdict."""
    verdict = str(run.get("verdict", ""))
    kind = _RUN_KINDS.get(verdict)
    if kind is None:
        return None
    database = redact_url(str(run.get("database") or "the database"))
    migrations = tuple(str(m) for m in run.get("migrations") or ())
    rolled_back_by = ""
    if verdict == "rolled back":
        rolled_back_by = "rollback" if run.get("rolled_back") else "migrate"
    facts = RunFacts(
        id=str(run.get("id", "")),
        verdict=verdict,
        database=database,
        migrations=migrations,
        backup_id=run.get("backup_id") or None,
        started_at=str(run.get("started_at") or ""),
        finished_at=str(run.get("finished_at") or ""),
        message=redact_url(str(run.get("message") or "")),
        first_problem=_first_problem(run),
        rolled_back_by=rolled_back_by,
        restored=tuple(str(t) for t in (run.get("rolled_back") or {}).get("restored", ())),
    )
    count = f"{len(migrations)} migration(s)"
    titles: Mapping[str, str] = {
        "applied": f"Applied {count} on {database}",
        "up to date": f"{database} is up to date",
        "refused": f"Migration refused on {database}: nothing was changed",
        "failed": f"Migration failed on {database}",
        "interrupted": f"Migration interrupted on {database}: it may be partly applied; see run {facts.id}",
        "rolled back": f"Migration rolled back on {database}: the database is as it was"
        if rolled_back_by == "migrate"
        else f"Run {facts.id} rolled back on {database} by `safemigrate rollback`",
    }
    time = facts.finished_at or iso(now or datetime.now(timezone.utc))
    return Event(kind, time, titles[verdict], run=facts)


def rollback_event(result: RollbackLike, *, database: str = "", now: datetime | None = None) -> Event:
    """The event of a finished `safemigrate rollback` (the run's backup restored, its migrations marked)."""
    database = redact_url(database or "the database")
    restored = tuple(result.restored)
    facts = RunFacts(
        id=result.run_id,
        verdict="rolled back",
        database=database,
        migrations=tuple(result.migrations),
        backup_id=result.backup_id,
        started_at="",
        finished_at="",
        message=f"Run {result.run_id} rolled back: {len(restored)} table(s) restored from backup "
        f"{result.backup_id or '(none)'}; "
        + (f"marked rolled back: {', '.join(result.marked)}." if result.marked else "no migration needed marking."),
        first_problem="",
        rolled_back_by="rollback",
        restored=restored,
    )
    title = f"Run {result.run_id} rolled back on {database} by `safemigrate rollback`"
    return Event("run_rolled_back", iso(now or datetime.now(timezone.utc)), title, run=facts)


def backup_failed_event(
    error_message: str, *, database: str = "", store: str = "", now: datetime | None = None
) -> Event:
    """The event of a backup that could not be taken (``error_message``: the error's sentence)."""
    database = redact_url(database or "the database")
    facts = BackupFacts(None, database, "", error=_short(redact_url(error_message)), store=redact_url(store))
    return Event("backup_failed", iso(now or datetime.now(timezone.utc)), f"Backup failed on {database}", backup=facts)


def stale_backup_event(
    backups: Sequence[BackupLike], max_age: float | None, now: datetime, *, store: str = "", database: str = ""
) -> Event | None:
    """An event when the newest of ``backups`` is more than ``max_age`` seconds older than ``now``,
    or when there is no backup at all; None when one is recent enough or ``max_age`` is None.

    Only the newest backup counts (older ones are always old); its reason does not matter."""
    if max_age is None:
        return None
    limit = duration_text(max_age)
    if not backups:
        where = redact_url(database or store or "the store")
        facts = BackupFacts(None, redact_url(database), "", None, max_age, store=redact_url(store))
        return Event("backup_stale", iso(now), f"No backup of {where} (maximum age {limit})", backup=facts)
    dated = [(moment, b) for b in backups if (moment := _parse_time(b.created_at)) is not None]
    if not dated:
        return None  # no readable time: `backups list` reports such a store itself
    created, newest = max(dated, key=lambda pair: pair[0])
    age = (now - created).total_seconds()
    if age <= max_age:
        return None
    database = redact_url(newest.database or database or "the database")
    facts = BackupFacts(newest.id, database, newest.created_at, age, max_age, store=redact_url(store))
    title = f"The newest backup of {database} is {duration_text(age)} old (maximum {limit})"
    return Event("backup_stale", iso(now), title, backup=facts)


def _first_problem(run: Mapping[str, Any]) -> str:
    problems = run.get("problems") or []
    if problems:
        first = problems[0]
        text = f"{first.get('subject', '')}: {first.get('detail', '')}"
    elif run.get("blockers"):
        first = run["blockers"][0]
        text = f"{first.get('rule', '')} at {first.get('file', '')}:{first.get('line', '')}: {first.get('message', '')}"
    else:
        text = str(run.get("message") or "") if run.get("verdict") not in ("applied", "up to date") else ""
    return _short(redact_url(text))


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _PROBLEM_CHARS else text[: _PROBLEM_CHARS - 1] + "…"


def _parse_time(text: str) -> datetime | None:
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def duration_text(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 4 * 86400:
        return f"{seconds / 3600:.1f} h".replace(".0 h", " h")
    return f"{seconds / 86400:.1f} days".replace(".0 days", " days")
