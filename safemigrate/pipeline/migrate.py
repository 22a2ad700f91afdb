"""``safemigrate migrate``: lint, back up, rehearse, apply all-or-nothing, verify, record.

1. The pending migrations, from ``_prisma_migrations``; a database in Prisma's failed state (P3009)
   or an applied migration edited since is refused.
2. Lint (the pending files, judged against the whole history). Active data-loss findings stop the
   run unless ``--allow data-loss`` (or an in-file ``-- safemigrate: allow <rule> reason: ...``);
   other findings stop it from the ``fail_on`` severity on, unless their category is allowed.
3. Prisma's migration lock (``pg_advisory_lock(72707369)``), held to the end; the pending list is
   read again under it (another deploy may have run meanwhile).
4. The pre-migrate backup of the backup scope (closed over the tables its rows reference); a
   failed backup stops the run.
5. The rehearsal on a clone seeded from that backup (``--skip-dry-run`` skips it, recorded).
6. Apply: every transactional file in one REPEATABLE READ transaction with ``lock_timeout`` (a lock
   timeout, deadlock or serialization failure rolls back and retries with backoff, a bounded
   number of times), Prisma's rows written inside it; then, before commit, the verification:
   the schema diff must equal the rehearsal's, tables the migrations do not touch must have the
   same data fingerprints, touched tables' row counts may only change as their statements allow.
   Any difference rolls everything back. Non-transactional files (CREATE INDEX CONCURRENTLY) run
   alone after the commit.
7. The run is recorded in the ledger beside the backups (``runs/<id>.json``); when the store cannot
   take it, the record is kept beside the project and :class:`RunNotRecorded` says where.

Interrupts (Ctrl-C, or SIGTERM raised as KeyboardInterrupt by the command line) and errors are
recorded as the database shows them, from the progress the pipeline reports as it goes
(:class:`_Progress`): before anything may have changed, "failed" with nothing applied; once a
commit was sent or Prisma started, the migrations' rows and the schema changes are read again, so
the entry keeps the backup and says what is applied ("applied" when our engine's verified commit
went through, else "interrupted", which ``rollback --run ID`` accepts). A saved entry is never
overwritten. An interrupted run raises :class:`MigrateInterrupted` once recorded.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import psycopg

from safemigrate.config import Config
from safemigrate.db import load_sql
from safemigrate.db.diff import Change, SnapshotDiff
from safemigrate.errors import BackupStoreError, InputError, MigrationHistoryError, SafemigrateError
from safemigrate.lint.findings import Finding
from safemigrate.migrations import Migration
from safemigrate.pipeline.apply import ApplyResult, MigrationTrace, StatementError
from safemigrate.pipeline.rehearse import Rehearsal

if TYPE_CHECKING:
    from safemigrate.db.catalog.snapshot import Snapshot
    from safemigrate.pipeline.prisma_engine import PrismaOutcome
    from safemigrate.pipeline.touch import Creations, Elsewhere

# "interrupted": stopped after it changed the database, before it could verify (see the module docstring).
Verdict = Literal["applied", "up to date", "refused", "failed", "rolled back", "interrupted"]
RETRYABLE = frozenset({"55P03", "40001", "40P01"})  # lock timeout, serialization failure, deadlock


@dataclass(frozen=True)
class Stage:
    name: str  # lint, lock, backup, rehearsal, apply, verify
    status: str  # ok | skipped | refused | failed
    seconds: float
    detail: str = ""


@dataclass(frozen=True)
class Problem:
    """One difference the verification found."""

    kind: str  # "schema" | "data" | "rows"
    subject: str
    detail: str


@dataclass(frozen=True)
class MigrateRun:
    id: str
    started_at: str
    database: str
    migrations: tuple[str, ...]
    verdict: Verdict
    message: str
    stages: tuple[Stage, ...] = ()
    blockers: tuple[Finding, ...] = ()
    findings: tuple[Finding, ...] = ()
    allowed: tuple[str, ...] = ()
    skip_dry_run: bool = False
    backup_id: str | None = None
    rehearsal: Rehearsal | None = None
    apply: ApplyResult | None = None
    attempts: int = 0
    problems: tuple[Problem, ...] = ()
    checks: tuple[Any, ...] = ()  # the plan's preflight CheckResults
    schema_diff: SnapshotDiff | None = None
    notes: tuple[str, ...] = ()
    finished_at: str = ""

    @property
    def ok(self) -> bool:
        return self.verdict in ("applied", "up to date")


class MigrateInterrupted(KeyboardInterrupt):
    """An interrupt reached the run; raised once the run is recorded, which ``run`` is. ``interrupt``
    is the original one (KeyboardInterrupt, or the command line's Terminated for SIGTERM);
    ``unsaved`` says where the record went when the store could not take it ("" when it did)."""

    def __init__(self, run: MigrateRun, interrupt: KeyboardInterrupt, unsaved: str = "") -> None:
        super().__init__()
        self.run = run
        self.interrupt = interrupt
        self.unsaved = unsaved


class RunNotRecorded(BackupStoreError):
    """The run finished but the store could not take its ledger entry; the message says where it was kept."""

    def __init__(self, run: MigrateRun, sentence: str) -> None:
        super().__init__(sentence)
        self.run = run


@dataclass
class _Progress:
    """How far the pipeline got, said by the pipeline as it goes (never guessed afterwards): what an
    error or an interrupt records in the ledger."""

    run: MigrateRun  # the run as known so far: migrations, backup, rehearsal, notes
    target: Any
    settings: Any
    notice: Callable[[str], None] | None = None
    changing: bool = False  # from here on the database may have changed (a commit sent, Prisma started)
    before: Any = None  # the schema before the first migration, to read what changed
    verified: bool = False  # our engine's verification passed before the commit
    outcome: MigrateRun | None = None  # the run's verdict once known (committed, or the pipeline's result)
    saved: bool = False  # the ledger holds the final entry: never overwritten
    unsaved: str = ""  # where the entry went when the store could not take it
    interrupt: KeyboardInterrupt | None = None  # one the pipeline waited out, raised after the record
    # statements that run code the linter cannot see into (a trigger they fire, a function a default
    # calls), suppressed or not: "file:line", from the lint
    unseen_code: tuple[str, ...] = ()
    # a schema diff read after a stop, as the run's own changes and other sessions' additions
    split: Callable[[SnapshotDiff], tuple[SnapshotDiff, tuple[Change, ...]]] | None = None


class VerificationFailed(Exception):
    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(f"{len(problems)} unexpected difference(s)")
        self.problems = tuple(problems)


@dataclass
class _Clock:
    stages: list[Stage] = field(default_factory=list)
    mark: float = field(default_factory=time.perf_counter)

    def stage(self, name: str, status: str, detail: str = "", leave: float = 0.0) -> None:
        """Close a stage: the time since the last one, except the last ``leave`` seconds, which belong
        to the next stage (one step, the plan, holds both lint and the preflight checks)."""
        now = time.perf_counter()
        elapsed = max(0.0, now - self.mark - leave)
        self.mark += elapsed
        self.stages.append(Stage(name, status, elapsed, detail))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def gate(findings: Sequence[Finding], allowed: Sequence[str], fail_on: str) -> tuple[Finding, ...]:
    """The active findings that stop the run: data-loss ones whatever their severity, others from
    ``fail_on`` on; a category in ``allowed`` never stops it."""
    ranks = {"error": 2, "warning": 1, "info": 0}
    threshold = {"error": 2, "warning": 1, "never": 99}[fail_on]
    blocking = []
    for finding in findings:
        if not finding.active or finding.category.value in allowed:
            continue
        if finding.category.value == "data-loss" or ranks.get(finding.severity.value, 0) >= threshold:
            blocking.append(finding)
    return tuple(blocking)


def migrate(
    project_dir: Path = Path("."),
    *,
    database_url: str | None = None,
    schema_path: Path | None = None,
    migrations_dir: Path | None = None,
    config_file: Path | None = None,
    allow: Sequence[str] = (),
    skip_dry_run: bool = False,
    clone: str | None = None,
    clone_url: str | None = None,
    lock_retries: int = 3,
    retry_delay: float = 1.0,
    engine: str = "safemigrate",
    prisma_command: Sequence[str] = ("npx", "prisma"),
    progress: Callable[[Stage], None] | None = None,
    environ: Mapping[str, str] | None = None,
    notice: Callable[[str], None] | None = None,
) -> MigrateRun:
    """Run the pipeline on the project's database; the run is recorded in the ledger whatever its verdict.

    ``notice`` hears what the user must know at once (an interrupt being waited out). Raises
    :class:`MigrateInterrupted` after recording an interrupted run, :class:`RunNotRecorded` when the
    store could not take the entry (kept elsewhere, named in the message)."""
    from safemigrate.backup.project import backup_setup
    from safemigrate.backup.store import new_id
    from safemigrate.config import load_config
    from safemigrate.db.datasource import resolve_database_url
    from safemigrate.lint.registry import rule_names
    from safemigrate.migrations import list_migrations
    from safemigrate.pipeline.apply import relative_label
    from safemigrate.project import discover_project

    config = load_config(project_dir, config_file, rule_names())
    project = discover_project(project_dir, schema_path, migrations_dir)
    migrations = list_migrations(project.migrations_dir)
    if engine not in ("safemigrate", "prisma"):
        raise InputError(f"--engine must be safemigrate or prisma, not {engine!r}.")
    if engine == "prisma" and database_url is not None:
        raise InputError(
            "--engine prisma applies with Prisma's own configuration, so --database-url would not reach it.",
            "Set the datasource's environment variable (e.g. DATABASE_URL) instead.",
        )
    target = resolve_database_url(project, database_url=database_url, environ=environ, for_migration=True)
    if (clone or config.dry_run.clone) == "url" and clone_url is None:  # as dry-run reads it
        clone_url = (environ if environ is not None else os.environ).get(config.dry_run.clone_url_env) or None
    store = backup_setup(project_dir, config.path).store
    run_id = new_id(datetime.now(timezone.utc))
    base = MigrateRun(run_id, _now(), target.redacted(), (), "failed", "", allowed=tuple(allow))
    clock = _Clock()
    state = _Progress(base, target, config.database, notice)

    def done(run: MigrateRun) -> MigrateRun:
        from safemigrate.backup.stores import save_run_or_keep
        from safemigrate.notify.send import notify_run

        finished = _replace(run, stages=tuple(clock.stages), finished_at=_now())
        state.outcome = finished
        document = run_to_dict(finished)
        text = json.dumps(document, ensure_ascii=False, indent=1)
        state.unsaved = save_run_or_keep(store, run_id, text, project.root)
        state.saved = True
        # A webhook that fails never fails the run: it is reported, after the ledger is written.
        for delivery in notify_run(document, config.notifications, environ if environ is not None else os.environ):
            if not delivery.ok:
                stage("notify", "failed", delivery.describe())
        return finished

    def stage(name: str, status: str, detail: str = "", leave: float = 0.0) -> None:
        clock.stage(name, status, detail, leave)
        if progress is not None:
            progress(clock.stages[-1])

    try:
        finished = done(
            _pipeline(
                project_dir,
                config,
                target,
                migrations,
                state,
                stage,
                allow=allow,
                skip_dry_run=skip_dry_run,
                clone=clone,
                clone_url=clone_url,
                lock_retries=lock_retries,
                retry_delay=retry_delay,
                engine=(engine, tuple(prisma_command), project.root),
                label=relative_label(project.root),
                schema_path=schema_path,
                migrations_dir=migrations_dir,
                config_file=config_file,
                database_url=database_url,
            )
        )
    except SafemigrateError as err:
        if not state.saved:
            stage("error", "failed", err.message)
            cause = f"{err.message} {err.hint}".strip()
            recorded = done(_after_stop(state, cause, interrupted=False))
            if recorded.verdict == "interrupted" and recorded.message.startswith(cause):
                # The database changed before the error (a lost connection while Prisma deployed):
                # what it holds now and the next step replace the generic "run it again".
                err.hint = f"Run {recorded.id} is recorded as interrupted{recorded.message[len(cause) :]}"
        if state.unsaved:
            err.hint = f"{err.hint} {state.unsaved}".strip()
        raise
    except KeyboardInterrupt as interrupt:
        if not state.saved:
            stage("error", "failed", "interrupted")
            try:
                done(_after_stop(state, "Interrupted", interrupted=True))
            except KeyboardInterrupt:  # another one while the database was read: record what is known
                if not state.saved:
                    done(_after_stop(state, "Interrupted", interrupted=True, ask_database=False))
        raise MigrateInterrupted(state.outcome or state.run, interrupt, state.unsaved) from interrupt
    if state.interrupt is not None:
        raise MigrateInterrupted(finished, state.interrupt, state.unsaved) from state.interrupt
    if state.unsaved:
        raise RunNotRecorded(finished, state.unsaved)
    return finished


def _replace(run: MigrateRun, **changes: Any) -> MigrateRun:
    import dataclasses

    return dataclasses.replace(run, **changes)


def _after_stop(state: _Progress, cause: str, *, interrupted: bool, ask_database: bool = True) -> MigrateRun:
    """The run to record after an error or an interrupt (``cause``), from the progress the pipeline
    reported: its outcome when one was reached, "failed" when nothing can have changed yet, else
    what the database shows."""
    if state.outcome is not None:
        note = f"{cause} once this outcome was reached; the run was recorded on the way out."
        return _replace(state.outcome, notes=(*state.outcome.notes, note))
    if not state.changing:
        message = (
            f"{cause} before anything was applied: the open transaction was rolled back and the database is as it was."
            if interrupted
            else cause
        )
        return _replace(state.run, verdict="failed", message=message)
    if not ask_database:
        return _replace(state.run, verdict="interrupted", message=_unknown_message(state.run, cause, "not read"))
    from safemigrate.db.connect import connect

    try:
        with connect(state.target, command="migrate", settings=state.settings) as conn:
            return _database_outcome(conn, state, cause)
    except (psycopg.Error, SafemigrateError) as err:
        reason = err.message if isinstance(err, SafemigrateError) else str(err).strip()
        return _replace(state.run, verdict="interrupted", message=_unknown_message(state.run, cause, reason))


def _unknown_message(run: MigrateRun, cause: str, reason: str) -> str:
    backup = f"backup {run.backup_id}" if run.backup_id else "no backup (no existing table's rows were at risk)"
    return (
        f"{cause} after the migrations may have been applied, and the database could not be read afterwards "
        f"({reason}): run `safemigrate status` to see what is applied; this run holds {backup}."
    )


def _database_outcome(conn: psycopg.Connection[Any], state: _Progress, cause: str) -> MigrateRun:
    """The run as the database shows it after a stop once it may have changed: which of its
    migrations are applied, which Prisma left failed, and the schema changes since before (which
    ``rollback`` undoes). "applied" only when our engine's verified commit went through whole."""
    from safemigrate.db.catalog.snapshot import take_snapshot
    from safemigrate.db.diff import diff_snapshots
    from safemigrate.db.prisma_migrations import read_migration_rows

    run = state.run
    schema = state.target.schema
    rows = read_migration_rows(conn, schema)
    # Pending means no applied or failed row before the run, and the lock kept other deploys out.
    applied = [n for n in run.migrations if any(r.migration_name == n and r.applied for r in rows)]
    failed = [n for n in run.migrations if any(r.migration_name == n and r.failed for r in rows)]
    untouched = [n for n in run.migrations if n not in applied and n not in failed]
    diff = None
    if state.before is not None:
        diff = diff_snapshots(state.before, take_snapshot(conn, (schema,), exclude_tables=("_prisma_migrations",)))
        if state.split is not None:
            diff, foreign = state.split(diff)
            if foreign:
                run = _replace(run, notes=(*run.notes, _left_alone_note(foreign)))
    run = _replace(run, schema_diff=diff)
    if not applied and not failed and diff is not None and diff.equal:
        return _replace(
            run, verdict="failed", message=f"{cause} before anything was applied: the database is as it was."
        )
    if state.verified and not failed and not untouched:
        return _replace(
            run,
            verdict="applied",
            message=f"Applied {len(applied)} migration(s); verification passed before the commit. {cause} after "
            "the commit, before the run was recorded.",
        )
    done = f"applied {', '.join(applied)}" if applied else "no migration finished"
    if failed:
        done += f"; {', '.join(failed)} left failed (Prisma's failed state, P3009)"
    if untouched:
        done += f"; not applied: {', '.join(untouched)}"
    backup = f" from backup {run.backup_id}" if run.backup_id else ""
    if diff is None:
        step = (
            f"its schema changes could not be read, so `safemigrate rollback` cannot undo it: restore{backup} "
            "by hand (`safemigrate restore`)"
        )
    else:
        step = f"to undo it{backup}, run `safemigrate rollback --run {run.id}` (it shows what would be lost)"
        if failed:
            step += f"; that also marks {failed[-1]} rolled back"
    if failed:
        step = (
            f"`safemigrate recover` shows what of {failed[-1]} took effect and undoes it, so Prisma is not stuck; "
            + step
        )
    return _replace(
        run,
        verdict="interrupted",
        message=f"{cause} after the database was changed: {done}. Not verified; {step}.",
    )


def _pipeline(
    project_dir: Path,
    config: Config,
    target: Any,
    migrations: tuple[Migration, ...],
    state: _Progress,
    stage: Callable[..., None],
    *,
    allow: Sequence[str],
    skip_dry_run: bool,
    clone: str | None,
    clone_url: str | None,
    lock_retries: int,
    retry_delay: float,
    engine: tuple[str, tuple[str, ...], Path],
    label: Callable[[Migration], str],
    schema_path: Path | None,
    migrations_dir: Path | None,
    config_file: Path | None,
    database_url: str | None,
) -> MigrateRun:
    from safemigrate.db.connect import connect, database_errors
    from safemigrate.db.lock import migration_lock
    from safemigrate.pipeline.rehearse import deployable_pending
    from safemigrate.plan.build import plan_migrations

    settings = config.database
    schema = target.schema
    base = state.run
    with connect(target, command="migrate", settings=settings) as conn, database_errors(target, settings):
        try:
            pending = deployable_pending(migrations, conn, schema, target)
        except MigrationHistoryError as err:
            return _history_refusal(base, err, stage)
        elsewhere = _other_schema_tables(conn, pending, schema, label)
    names = tuple(m.name for m in pending)
    if not pending:
        stage("status", "ok", "no pending migrations")
        return _replace(base, verdict="up to date", message="The database is up to date: nothing to apply.")
    run = _replace(base, migrations=names, skip_dry_run=skip_dry_run)
    state.run = run
    if engine[0] == "safemigrate":
        from safemigrate.pipeline.apply import order_problem, prepare

        problem = order_problem([prepare(m) for m in pending])
        if problem is not None:
            stage("status", "refused", "a non-transactional migration comes before a transactional one")
            return _replace(
                run,
                verdict="refused",
                message=f"Refused: {problem} Nothing was changed. Apply them with `--engine prisma`, which runs "
                "each file in order, or deploy the migrations up to that one first.",
            )

    if elsewhere:
        reached = elsewhere[0]
        schemas = ", ".join(sorted({f'"{e.table.schema}"' for e in elsewhere}))
        stage("status", "refused", f"the migrations change tables in schema {schemas}")
        return _replace(
            run,
            verdict="refused",
            message=f"Refused: the pending migrations change tables in schema {schemas} (first "
            f"{reached.table.display()} at {reached.where}: {reached.why}), but safemigrate backs up, rehearses and "
            f'verifies only the database URL\'s schema "{schema}" '
            "(Prisma's multi-schema projects are not supported yet). Nothing was changed. Back up those schemas "
            "(pg_dump --schema) and deploy with `prisma migrate deploy`.",
        )

    plan = plan_migrations(
        project_dir,
        database_url=database_url,
        schema_path=schema_path,
        migrations_dir=migrations_dir,
        config_file=config_file,
        one_transaction=engine[0] == "safemigrate",
    )
    # Data-loss findings of rules the config turned off still stop the run (they are not accepted).
    findings = tuple(p.finding for p in plan.findings if p.finding.active) + plan.hidden_data_loss
    # A may-fail finding whose statement the live data was checked for, and passed, is settled.
    proven = {(c.migration, c.statement_index) for c in plan.checks if c.outcome == "passed"}
    failing = {(c.migration, c.statement_index) for c in plan.failed_checks}
    open_findings = tuple(
        f
        for f in findings
        if not (f.category.value == "may-fail" and (f.migration, f.statement_index) in proven - failing)
    )
    blockers = gate(open_findings, allow, config.lint.fail_on)
    run = _replace(run, findings=findings, blockers=blockers, checks=plan.checks)
    state.run = run
    state.unseen_code = tuple(
        dict.fromkeys(
            f"{p.finding.file}:{p.finding.line}" for p in plan.findings if p.finding.rule == "procedural-code"
        )
    )
    checks_seconds = sum(c.seconds for c in plan.checks)
    if plan.failed_checks and "may-fail" not in allow:
        stage("lint", "ok", f"{len(findings)} finding(s)", leave=checks_seconds)
        stage("preflight", "refused", f"{len(plan.failed_checks)} check(s) predict a failure")
        check = plan.failed_checks[0]
        samples = f" (e.g. {', '.join(check.samples)})" if check.samples else ""
        return _replace(
            run,
            verdict="refused",
            message=f"Refused: the live data would make {check.migration} fail at {check.file}:{check.line}: "
            f"{check.description}: {check.count} offending{samples}. Nothing was changed. Fix the data first "
            "(or --allow may-fail to let the rehearsal decide).",
        )
    if blockers:
        stage("lint", "refused", f"{len(blockers)} finding(s) stop the run")
        first = blockers[0]
        return _replace(
            run,
            verdict="refused",
            message=f"Refused: {len(blockers)} finding(s) stop the run, first {first.rule} ({first.category.value}) "
            f"at {first.file}:{first.line}. Nothing was changed. Accept a risk with --allow {first.category.value} "
            f"or an in-file `-- safemigrate: allow {first.rule} reason: ...`.",
        )
    stage("lint", "ok", f"{len(findings)} finding(s), none stopping the run", leave=checks_seconds)
    unfinished = len(plan.unfinished_checks)
    stage(
        "preflight",
        "ok",
        f"{len(plan.checks)} data check(s)" + (f", {unfinished} could not finish in time" if unfinished else ""),
    )

    with (
        connect(target, command="migrate", settings=settings) as conn,
        database_errors(target, settings),
        migration_lock(conn, timeout=settings.migrate_lock_timeout),  # held for everything below
    ):
        stage("lock", "ok", "Prisma's migration lock is held")
        try:
            again = deployable_pending(migrations, conn, schema, target)
        except MigrationHistoryError as err:  # another deploy failed (P3009) while this run waited
            return _history_refusal(run, err, stage)
        if not again:  # another deploy applied them while this run waited for the lock
            return _replace(
                run,
                verdict="up to date",
                message="Another deploy applied the pending migrations while this run waited for the lock: "
                "the database is up to date.",
            )
        if tuple(m.name for m in again) != names:
            return _replace(
                run,
                verdict="refused",
                message="The pending migrations changed while waiting for the lock (another deploy ran); "
                "nothing was changed. Run again.",
            )
        return _locked(
            project_dir,
            config,
            target,
            conn,
            migrations,
            pending,
            state,
            stage,
            skip_dry_run=skip_dry_run,
            clone=clone,
            clone_url=clone_url,
            lock_retries=lock_retries,
            retry_delay=retry_delay,
            engine=engine,
            label=label,
            scope_args=(schema_path, migrations_dir, config_file, database_url),
        )


def _other_schema_tables(
    conn: psycopg.Connection[Any], pending: Sequence[Migration], schema: str, label: Callable[[Migration], str]
) -> list[Elsewhere]:
    """The tables (and objects) outside ``schema`` the pending statements change, each with how: those
    they name; those inheriting from a table they change (what reaches the parent reaches their rows);
    those a foreign key's action or a TRUNCATE ... CASCADE reaches from a table whose rows they change
    (the live keys, transitively); every table of another schema a DROP SCHEMA drops; and what a DROP's
    CASCADE (or PostgreSQL's automatic dependencies) takes along in another schema."""
    from psycopg.rows import class_row

    from safemigrate.db.inheritance import descendants
    from safemigrate.lint.reader import parse_source
    from safemigrate.pipeline.touch import (
        Elsewhere,
        KeyEdge,
        changed_tables,
        dropped_objects,
        other_schema_tables,
        reached_by_keys,
    )
    from safemigrate.sql import model as m

    statements = [(label(mig), s) for mig in pending for s in parse_source(mig.data).statements]
    found = [Elsewhere(where, table, "it is named") for where, table in other_schema_tables(statements, schema)]
    below = descendants(conn, schema)
    for where, table in changed_tables(statements):
        if table.schema in (None, schema):
            found += [
                Elsewhere(where, m.Name(name, other), f"it inherits from {schema}.{table.name}")
                for other, name in below.get(table.name, [])
                if other != schema
            ]
    with conn.cursor(row_factory=class_row(KeyEdge)) as cur:
        keys = cur.execute(load_sql("migrate_reaching_foreign_keys")).fetchall()
    found += reached_by_keys(statements, schema, keys, below)
    for where, kind, name, cascade in dropped_objects(statements, schema):
        dropping_other_schema = kind == "schema" and name.name != schema
        params = {"kind": kind, "schema": name.schema, "name": name.name, "url_schema": schema}
        rows = conn.execute(
            load_sql("migrate_cascade_dependents"), {**params, "cascade": cascade or dropping_other_schema}
        ).fetchall()
        shown = name.name if kind in ("schema", "extension") else name.display()
        what = (
            f"DROP {kind.upper()} {shown}"
            if kind == "schema" or not cascade
            else f"DROP {kind.upper()} ... CASCADE of {shown}"
        )
        found += [
            Elsewhere(where, m.Name(str(other_name), str(other)), f"{what} drops {'it' if whole else 'a part of it'}")
            for other, other_name, whole in rows
        ]
        if dropping_other_schema and not rows:  # an empty schema (or none): still not the URL's to drop
            found.append(Elsewhere(where, m.Name("*", name.name), f"DROP SCHEMA {name.name} drops the schema"))
    return found


def _history_refusal(run: MigrateRun, err: MigrationHistoryError, stage: Callable[..., None]) -> MigrateRun:
    """A history Prisma would not deploy past (a failed migration, P3009; an applied one edited
    since): the run decides not to start, as for findings, so it is refused (exit 1), not an error."""
    stage("status", "refused", err.message)
    return _replace(run, verdict="refused", message=f"Refused: {err.message} Nothing was changed. {err.hint}".strip())


def _locked(
    project_dir: Path,
    config: Config,
    target: Any,
    conn: psycopg.Connection[Any],
    migrations: tuple[Migration, ...],
    pending: tuple[Migration, ...],
    state: _Progress,
    stage: Callable[..., None],
    *,
    skip_dry_run: bool,
    clone: str | None,
    clone_url: str | None,
    lock_retries: int,
    retry_delay: float,
    engine: tuple[str, tuple[str, ...], Path],
    label: Callable[[Migration], str],
    scope_args: tuple[Any, ...],
) -> MigrateRun:
    from safemigrate.backup.ddl import schema_tables
    from safemigrate.backup.manifest import Reason
    from safemigrate.backup.project import backup_setup
    from safemigrate.backup.scope import backup_scope, read_foreign_keys
    from safemigrate.backup.take import backup_tables
    from safemigrate.clone.providers import refuse_unusable_clone
    from safemigrate.db.inheritance import descendants
    from safemigrate.lint.reader import parse_source
    from safemigrate.pipeline.rehearse import rehearsal_inputs, rehearse_on_clone
    from safemigrate.pipeline.touch import ForeignKeyAction, read_creations, read_touches

    settings = config.database
    schema = target.schema
    run = state.run
    provider = clone or config.dry_run.clone
    if not skip_dry_run:  # before the backup: a wrong --clone costs no backup
        refuse_unusable_clone(provider, target, clone_url=clone_url, settings=settings)
    schema_path, migrations_dir, config_file, database_url = scope_args
    scope = backup_scope(
        project_dir,
        database_url=database_url,
        schema_path=schema_path,
        migrations_dir=migrations_dir,
        config_file=config_file,
    )
    unbackable = [t.name for t in scope.skipped if t.partitioned]
    if unbackable:
        stage("backup", "refused", f"partitioned table {unbackable[0]} cannot be backed up")
        return _replace(
            run,
            verdict="refused",
            message=f"Refused: the pending migrations put rows of {', '.join(unbackable)} at risk (a partitioned "
            "table or a partition), which backups cannot hold yet, so the run could neither back it up nor undo "
            "it. Nothing was changed. Back it up with pg_dump and deploy with `prisma migrate deploy`.",
        )
    inputs = rehearsal_inputs(target, config, migrations, scope.tables)
    notes: list[str] = []
    tables = inputs.data_tables
    live_tables = frozenset(schema_tables(conn, schema))
    if scope.unread:
        # What the unread statements touch is unknown: every table, but Prisma's own bookkeeping
        # (a rollback marks the run's rows rolled back; restoring them would erase that record).
        tables = tuple(sorted(live_tables - {"_prisma_migrations"}))
        notes.append(f"{len(scope.unread)} statement(s) could not be read: every table was backed up.")
    backup_id = None
    manifest = None
    setup = backup_setup(project_dir, config.path)
    if tables or scope.unread:
        setup.store.check()
        with setup.store.staging() as local_store:
            taken = backup_tables(
                target,
                local_store,
                settings=settings,
                tables=tables or None,
                reason=Reason("pre-migrate", f"migrate run {run.id}", run.migrations),
                project_dir=project_dir,
            )
            manifest = taken.manifest
            setup.store.publish(local_store, manifest)
        if taken.skipped_partitioned:
            notes.append(
                "The backup left out partitioned tables (not supported by backups yet): "
                + ", ".join(taken.skipped_partitioned)
                + "; a rollback cannot restore them."
            )
        backup_id = manifest.id
        stage("backup", "ok", f"backup {backup_id}: {', '.join(t.name for t in manifest.tables)}")
    else:
        stage("backup", "skipped", "the pending migrations touch no existing table's rows")
    run = _replace(run, backup_id=backup_id)
    state.run = run

    rehearsal = None
    if skip_dry_run:
        stage("rehearsal", "skipped", "--skip-dry-run")
        notes.append("The rehearsal was skipped (--skip-dry-run): the schema changes were not compared.")
    else:
        rehearsal = rehearse_on_clone(
            project_dir,
            config,
            target,
            inputs,
            provider,
            clone_url,
            label,
            backup_id,
            each_file_commits=engine[0] == "prisma",  # rehearsed as the engine will apply them
        )
        if not rehearsal.ok:
            failed = rehearsal.result.failed
            error = failed.error if failed else None
            where = f" at {error.file}:{error.line}:{error.column}: {error.sqlstate} {error.message}" if error else ""
            stage("rehearsal", "failed", f"{failed.name if failed else '?'} failed{where}")
            return _replace(
                run,
                rehearsal=rehearsal,
                notes=tuple(notes),
                verdict="refused",
                message=f"Refused: the rehearsal on {rehearsal.clone_description} failed in "
                f"{failed.name if failed else '?'}{where}. Nothing was changed.{_one_transaction_hint(error)}",
            )
        stage("rehearsal", "ok", f"on {rehearsal.clone_description}")
    run = _replace(run, rehearsal=rehearsal)
    state.run = run

    statements = [(label(m), s) for m in pending for s in parse_source(m.data).statements]
    keys = [
        ForeignKeyAction(e.table_name, e.referenced_name, e.on_delete, e.on_update)
        for e in read_foreign_keys(conn)
        if e.table_schema == schema and e.referenced_schema == schema
    ]
    # one in another schema refused the run before (_other_schema_tables)
    below = {
        table: [name for other, name in found if other == schema] for table, found in descendants(conn, schema).items()
    }
    index_tables = {str(r[0]): str(r[1]) for r in conn.execute(load_sql("migrate_index_tables"), {"schema": schema})}
    touches = read_touches(statements, schema, keys, below, index_tables)
    fired = tuple(where for where in state.unseen_code if where not in touches.unknown)
    if fired:  # the lint's schema model knows the triggers and functions a statement sets off
        touches = dataclasses.replace(touches, fires_code=fired)
        notes.append(
            f"Statements that fire triggers or call functions of the project ({', '.join(fired[:3])}) may add "
            "rows to any table: rows added to tables no statement names were not checked (rows removed were)."
        )
    if touches.unknown:
        notes.append(
            f"Statements that could not be read ({', '.join(touches.unknown[:3])}) may change any table: "
            "row counts and untouched data were not checked."
        )
    # Prisma runs every file before the check; this engine checks before its commit, when files
    # that cannot run in a transaction have not run yet.
    expected = None
    if rehearsal is not None:
        expected = rehearsal.schema_diff if engine[0] == "prisma" else rehearsal.diff_at_commit
    verifier = _Verifier(
        schema,
        touches,
        expected,
        live_tables=live_tables,
        creations=read_creations(statements, schema),
        rehearsed=rehearsal.schema_diff if rehearsal is not None else None,
    )
    state.split = verifier.split  # a schema read after a stop keeps other sessions' additions out
    state.run = run = _replace(run, notes=tuple(notes))
    if engine[0] == "prisma":
        return _apply_with_prisma(conn, config, schema, pending, state, stage, verifier, manifest, setup, engine)

    def verify_then_commit(conn: psycopg.Connection[Any]) -> None:
        verifier.after(conn)
        # Passed: the COMMIT is sent next, and an interrupt from here on may come after it.
        state.before = verifier.before_snapshot
        state.verified = state.changing = True

    attempt = 0
    while True:
        attempt += 1
        try:
            from safemigrate.pipeline.apply import apply_migrations

            result = apply_migrations(
                conn,
                schema,
                pending,
                repeatable_read=True,
                before_apply=verifier.before,
                before_commit=verify_then_commit,
                file_label=label,
            )
        except psycopg.Error as err:  # in the verification's reads: a lock timeout is retried the same way
            if err.sqlstate in RETRYABLE and attempt <= lock_retries:
                delay = retry_delay * 2 ** (attempt - 1)
                stage("apply", "retry", f"{err.sqlstate}; retrying in {delay:g} s ({attempt}/{lock_retries})")
                time.sleep(delay)
                continue
            raise
        except VerificationFailed as failed:
            stage("verify", "failed", f"{len(failed.problems)} unexpected difference(s)")
            return _replace(
                run,
                notes=tuple(notes),
                attempts=attempt,
                problems=failed.problems,
                verdict="rolled back",
                message=f"Rolled back: the verification found {len(failed.problems)} unexpected difference(s), "
                f"first {failed.problems[0].subject}: {failed.problems[0].detail}. The database is as it was.",
            )
        failed_trace = result.failed
        error = failed_trace.error if failed_trace else None
        if error is not None and error.sqlstate in RETRYABLE and not result.committed and attempt <= lock_retries:
            delay = retry_delay * 2 ** (attempt - 1)
            stage("apply", "retry", f"{error.message}; retrying in {delay:g} s ({attempt}/{lock_retries})")
            time.sleep(delay)
            continue
        break
    schema_diff = verifier.diff
    if result.committed and result.failed is None and all(t.transactional for t in result.migrations):
        # Known from here on: an interrupt before the run is recorded records this. (After files
        # that ran outside the transaction, the database is read again instead: what they built.)
        state.outcome = _replace(
            run,
            apply=result,
            attempts=attempt,
            notes=tuple(notes),
            schema_diff=schema_diff,
            verdict="applied",
            message=f"Applied {len(pending)} migration(s); verification passed.",
        )
    ran_alone = result.committed and any(not t.transactional and t.outcome != "not run" for t in result.migrations)
    if ran_alone and conn.broken:
        notes.append(
            "The connection to PostgreSQL was lost, so the schema could not be read after the files that run "
            "outside the transaction: a rollback of this run will not drop what they built."
        )
    elif ran_alone:
        # Files that cannot run in a transaction ran after the commit: the run's changes include
        # theirs (an index built CONCURRENTLY), or a rollback would leave them behind.
        try:
            schema_diff, foreign = verifier.split(verifier.diff_now(conn))
        except psycopg.Error as err:
            notes.append(
                f"The schema could not be read after the files run outside the transaction ({err}): "
                "a rollback of this run will not drop what they built."
            )
        else:
            if foreign:  # made by another session while those files ran: never the run's to drop
                notes.append(_left_alone_note(foreign))
            rehearsed = rehearsal.schema_diff if rehearsal is not None else None
            late = _compare_schema(rehearsed, schema_diff) if failed_trace is None else []
            if late:
                notes.append(f"After the commit, the schema differs from the rehearsal's: {late[0].detail}.")
    run = _replace(run, apply=result, attempts=attempt, notes=tuple(notes), schema_diff=schema_diff)
    if failed_trace is not None and error is not None:
        stage("apply", "failed", f"{failed_trace.name}: {error.sqlstate} {error.message}")
        verdict, outcome = _failure_outcome(result, failed_trace)
        return _replace(
            run,
            verdict=verdict,
            message=f"{'Rolled back' if verdict == 'rolled back' else 'Failed'}: {failed_trace.name} failed at "
            f"{error.file}:{error.line}:{error.column}: {error.sqlstate} {error.message}. {outcome}"
            f"{_one_transaction_hint(error)}",
        )
    stage("apply", "ok", f"{len(pending)} migration(s) applied and verified")
    return _replace(run, verdict="applied", message=f"Applied {len(pending)} migration(s); verification passed.")


def _one_transaction_hint(error: StatementError | None) -> str:
    """What to do when a failure comes from applying every pending migration in one transaction: a
    value ADD VALUE gave an enum cannot be used before it commits ("unsafe use of new value", 55P04),
    though `prisma migrate deploy`, which commits each file on its own, runs the same files."""
    if error is None or error.sqlstate != "55P04":
        return ""
    return (
        " This engine applies every pending migration in one transaction, where an enum value added by ALTER TYPE "
        "... ADD VALUE cannot be used before that transaction commits: deploy the migration that adds the value "
        "first (on its own), or apply with `--engine prisma`, which commits each migration file on its own."
    )


def _failure_outcome(result: ApplyResult, failed: MigrationTrace) -> tuple[Verdict, str]:
    """The verdict of a run whose migration ``failed``, and what the database holds now: "rolled
    back" only when nothing of the run stays (no transactional file committed, no file that ran
    alone applied, nothing of the failed one left)."""
    if failed.transactional or not result.committed:
        return "rolled back", "The database is as it was; no failed migration is recorded."
    kept = []
    if any(t.transactional and t.outcome == "applied" for t in result.migrations):
        kept.append("The transactional part was committed and verified.")
    alone = [t.name for t in result.migrations if not t.transactional and t.outcome == "applied"]
    if alone:
        kept.append(f"Applied before it, outside the transaction: {', '.join(alone)}.")
    dropped = f"What it built before it stopped was dropped ({', '.join(failed.undone)}); " if failed.undone else ""
    if failed.connection_lost:
        where = f" at line {failed.error.line}" if failed.error is not None else ""
        outcome = (
            f"The connection to PostgreSQL was lost while {failed.name} ran (the statement{where}), so what it did "
            f"could not be read or undone: it stays in Prisma's failed state (P3009). Once the server answers, run "
            "`safemigrate recover`: it shows what of it took effect, undoes that and marks it rolled back."
        )
        return "failed", " ".join([*kept, outcome])
    if failed.left:
        steps = []
        for leftover in failed.left:
            if leftover.undo is not None:
                steps.append(f"line {leftover.line} ({leftover.text}): run `{leftover.undo}` ({leftover.reason})")
            else:
                steps.append(f"line {leftover.line} ({leftover.text}) took effect and is not undone by safemigrate")
        outcome = (
            f"{dropped}{failed.name} stays in Prisma's failed state (P3009), not marked rolled back, because what it "
            f"did is not all undone: {'; '.join(steps)}. Undo that by hand, then run `prisma migrate resolve "
            f"--rolled-back {failed.name}`; or run `safemigrate recover`, which shows what took effect, undoes what "
            "the catalog allows and marks it rolled back."
        )
        return "failed", " ".join([*kept, outcome])
    if not kept:
        return "rolled back", f"{dropped}{failed.name} is marked rolled back: the database is as it was."
    marked = f"{dropped}{failed.name} is marked rolled back, so the next deploy runs it again."
    return "failed", " ".join([*kept, marked])


_LOCK_ROUNDS = 20


def lock_all_without_holding(conn: psycopg.Connection[Any], locks: Sequence[tuple[Any, str]]) -> None:
    """Take every (table, mode) lock, never waiting for one while holding another. A round tries them
    all without waiting (NOWAIT) in a savepoint; when another session holds one, what the round took is
    released and the next round first waits for that one alone (queued, so the app cannot starve it),
    then tries the rest. Holding a lock while waiting for an app transaction to end would deadlock
    that transaction's next statement on the held table (and PostgreSQL may kill the app's side). A
    wait longer than lock_timeout raises, as any lock wait of the run does (it is retried)."""
    from psycopg import sql

    def lock(target: tuple[Any, str], nowait: bool) -> None:
        table, mode = target
        conn.execute(
            sql.SQL("LOCK TABLE {} IN {} MODE{}").format(table, sql.SQL(mode), sql.SQL(" NOWAIT" if nowait else ""))
        )

    waited: tuple[Any, str] | None = None
    for _ in range(_LOCK_ROUNDS):
        trying: tuple[Any, str] | None = None
        try:
            with conn.transaction():  # a savepoint: rolled back, it releases the round's locks
                if waited is not None:
                    lock(waited, nowait=False)
                for target in locks:
                    if target is not waited:
                        trying = target
                        lock(target, nowait=True)
            return
        except psycopg.errors.LockNotAvailable:
            if trying is None:  # the wait itself ran out of lock_timeout
                raise
            waited = trying
    for target in locks:  # the app kept taking them back: wait for each in turn, as a plain LOCK would
        lock(target, nowait=False)


class _Verifier:
    """Fingerprints and the schema before the first statement; compared before commit. ``creations``
    (the names the statements create) and ``rehearsed`` (the rehearsal's schema changes) tell the run's
    own additions from another session's in a schema read outside the run's transaction (:meth:`split`)."""

    def __init__(
        self,
        schema: str,
        touches: Any,
        expected: SnapshotDiff | None,
        live_tables: frozenset[str] = frozenset(),
        creations: Creations | None = None,
        rehearsed: SnapshotDiff | None = None,
    ) -> None:
        self.schema = schema
        self.touches = touches
        self.expected = expected
        self.live_tables = live_tables
        self.creations = creations
        self.rehearsed = rehearsed
        self.before_prints: dict[str, dict[str, Any]] = {}
        self.before_snapshot: Any = None
        self.diff: SnapshotDiff | None = None

    def before(self, conn: psycopg.Connection[Any]) -> None:
        from psycopg import sql

        from safemigrate.db.fingerprint import fingerprint
        from safemigrate.pipeline.touch import with_tables

        # Before the first SELECT, which fixes this REPEATABLE READ transaction's snapshot: the
        # tables whose rows an UPDATE or DELETE reads, and those a data-moving statement reads from
        # (INSERT ... SELECT, UPDATE ... FROM, subqueries, CREATE TABLE AS), stop taking writes (and
        # writes in flight finish) first, so a backfill or a copy sees every row committed before it,
        # as under Prisma (a row committed after the snapshot would not be copied, then lost with the
        # column or table a later statement drops); and so do the tables an ALTER TABLE rewrites,
        # which it copies from the latest committed rows: the counts before and after then see the
        # same rows. A table a statement will lock ACCESS EXCLUSIVE (ALTER TABLE, TRUNCATE, DROP
        # TABLE) is locked so at once: a weaker lock held while that statement waits for an app
        # transaction that read the table would deadlock its next write. A data-moving statement
        # whose tables could not be read may read any table: all are locked.
        touches = self.touches
        read = touches.rows_read
        if touches.unread_sources:
            read = self.live_tables - {"_prisma_migrations"}
        exclusive = sorted((touches.rewritten | read) & touches.locked_exclusive & self.live_tables)
        shared = sorted(read & self.live_tables - set(exclusive))
        lock_all_without_holding(
            conn,
            [(sql.Identifier(self.schema, t), "ACCESS EXCLUSIVE") for t in exclusive]
            + [(sql.Identifier(self.schema, t), "SHARE ROW EXCLUSIVE") for t in shared],
        )
        if self.touches.relabelled_types:
            rows = conn.execute(
                load_sql("migrate_relabelled_type_tables"),
                {"schema": self.schema, "types": list(self.touches.relabelled_types)},
            ).fetchall()
            self.touches = with_tables(self.touches, [str(r[0]) for r in rows])
        self.before_snapshot = self._snapshot(conn)
        document = fingerprint(conn, schema=self.schema).to_dict()
        self.before_prints = {t["table"]: t for t in document["tables"] if t["table"] != "_prisma_migrations"}

    def _snapshot(self, conn: psycopg.Connection[Any]) -> Any:
        from safemigrate.db.catalog.snapshot import take_snapshot

        return take_snapshot(conn, (self.schema,), exclude_tables=("_prisma_migrations",))

    def diff_now(self, conn: psycopg.Connection[Any]) -> SnapshotDiff:
        """The schema now against the one before the first statement."""
        from safemigrate.db.diff import diff_snapshots

        return diff_snapshots(self.before_snapshot, self._snapshot(conn))

    def compare_schema(self, diff: SnapshotDiff) -> list[Problem]:
        return _compare_schema(self.expected, diff)

    def split(self, diff: SnapshotDiff) -> tuple[SnapshotDiff, tuple[Change, ...]]:
        """``diff`` (read outside the run's transaction, where other sessions' changes show) as the
        run's own changes and the additions that are not: an addition is the run's when a statement
        creates its name, or when the rehearsal's changes or the diff read inside the run's own
        transaction (which no other session's change reaches) have it. A table that is not the run's
        takes the changes on it along (an app's table that looks like one the run dropped, "probably
        renamed", is the run's drop and the app's table)."""
        from safemigrate.db.diff import TableAdded, TableDropped

        if self.creations is None:
            return diff, ()
        vouched = {_addition_key(c.to_dict()) for known in (self.rehearsed, self.diff) if known for c in known.changes}
        own: list[Change] = []
        foreign: list[Change] = []
        strangers: set[str] = set()
        for change in diff.changes:
            document = change.to_dict()
            if self.creations.owns(document) or _addition_key(document) in vouched:
                if document.get("table") in strangers:
                    foreign.append(change)
                else:
                    own.append(change)
            elif document["kind"] == "table_probably_renamed":
                own.append(TableDropped(str(document["schema"]), str(document["before"])))
                foreign.append(TableAdded(str(document["schema"]), str(document["after"])))
                strangers.add(str(document["after"]))
            else:
                foreign.append(change)
                if document["kind"] == "table_added":
                    strangers.add(str(document["table"]))
        return dataclasses.replace(diff, changes=tuple(own)), tuple(foreign)

    def after(self, conn: psycopg.Connection[Any]) -> None:
        from safemigrate.db.diff import diff_snapshots
        from safemigrate.db.fingerprint import fingerprint

        after_snapshot = self._snapshot(conn)
        self.diff = diff_snapshots(self.before_snapshot, after_snapshot)
        problems = self.compare_schema(self.diff)
        now = {t.name for t in after_snapshot.tables}
        document = fingerprint(conn, schema=self.schema, tables=sorted(n for n in now if n != "_prisma_migrations"))
        after_prints = {t["table"]: t for t in document.to_dict()["tables"]}
        for table, before in sorted(self.before_prints.items()):
            name = self.touches.renamed.get(table, table)
            if table in self.touches.dropped:
                continue
            if name not in after_prints:
                if not self.touches.unknown:
                    problems.append(Problem("data", table, "the table is gone, but no pending statement drops it"))
                continue
            after = after_prints[name]
            allowance = self.touches.allowance(name)
            if allowance is None:
                if _content(before) != _content(after):
                    problems.append(Problem("data", table, "its data changed, but no pending statement touches it"))
                continue
            rows_before, rows_after = int(before["rows"]), int(after["rows"])
            if rows_after < rows_before and not allowance.may_remove_rows:
                problems.append(
                    Problem("rows", name, f"{rows_before - rows_after} row(s) disappeared; no statement deletes rows")
                )
            if rows_after > rows_before and not allowance.may_add_rows:
                problems.append(
                    Problem("rows", name, f"{rows_after - rows_before} row(s) appeared; no statement inserts")
                )
        if problems:
            raise VerificationFailed(problems)


def _compare_schema(expected: SnapshotDiff | None, diff: SnapshotDiff) -> list[Problem]:
    """Differences between the rehearsal's schema changes and these (none without a rehearsal)."""
    from safemigrate.db.diff import diff_to_dict

    if expected is None or diff_to_dict(expected)["changes"] == diff_to_dict(diff)["changes"]:
        return []
    wanted = [c.describe() for c in expected.changes]
    actual = [c.describe() for c in diff.changes]
    problems = [
        Problem("schema", "schema", f"not in the rehearsal: {line}") for line in sorted(set(actual) - set(wanted))
    ]
    problems += [
        Problem("schema", "schema", f"the rehearsal had it, the database not: {line}")
        for line in sorted(set(wanted) - set(actual))
    ]
    return problems or [Problem("schema", "schema", "the changes differ from the rehearsal's in detail")]


# The fields that name what a schema change is about (not its definition): an addition of the
# rehearsal matches one of the target by them.
_NAMING_FIELDS = frozenset(
    {"schema", "table", "column", "index", "constraint", "trigger", "policy", "parent", "enum", "view", "sequence"}
    | {"function", "domain", "composite", "name", "before", "after"}
)


def _addition_key(change: Mapping[str, Any]) -> tuple[Any, ...]:
    return (change["kind"], *sorted((k, str(v)) for k, v in change.items() if k in _NAMING_FIELDS))


def _left_alone_note(foreign: Sequence[Change]) -> str:
    """The run's note on schema changes another session made while it went on."""
    shown = "; ".join(c.describe() for c in foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
    return (
        f"Not the run's: {shown}. No statement of the migrations creates them (another session did, while the run "
        "went on), so they are not recorded as the run's changes and are left alone by a rollback."
    )


def _content(print_: Mapping[str, Any]) -> Any:
    """The parts of a table's fingerprint that describe its data (not its name or timing)."""
    return {k: v for k, v in print_.items() if k not in ("table", "seconds")}


def run_to_dict(run: MigrateRun) -> dict[str, Any]:
    from safemigrate.db.diff import diff_to_dict

    rehearsal = None
    if run.rehearsal is not None:
        from safemigrate.report.rehearsal import rehearsal_to_dict

        rehearsal = rehearsal_to_dict(run.rehearsal)
    return {
        "version": 1,
        "id": run.id,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "database": run.database,
        "migrations": list(run.migrations),
        "verdict": run.verdict,
        "ok": run.ok,
        "message": run.message,
        "allowed": list(run.allowed),
        "skip_dry_run": run.skip_dry_run,
        "backup_id": run.backup_id,
        "attempts": run.attempts,
        "stages": [
            {"name": s.name, "status": s.status, "seconds": round(s.seconds, 3), "detail": s.detail} for s in run.stages
        ],
        "blockers": [_finding(f) for f in run.blockers],
        "findings": [_finding(f) for f in run.findings],
        "rehearsal": rehearsal,
        "problems": [{"kind": p.kind, "subject": p.subject, "detail": p.detail} for p in run.problems],
        "checks": [
            {
                "kind": c.kind,
                "outcome": c.outcome,
                "migration": c.migration,
                "file": c.file,
                "line": c.line,
                "table": c.table,
                "description": c.description,
                "count": c.count,
                "samples": list(c.samples),
            }
            for c in run.checks
        ],
        "schema_changes": diff_to_dict(run.schema_diff)["changes"] if run.schema_diff is not None else None,
        "notes": list(run.notes),
    }


def _finding(f: Finding) -> dict[str, Any]:
    return {
        "rule": f.rule,
        "id": f.rule_id,
        "category": f.category.value,
        "severity": f.severity.value,
        "file": f.file,
        "line": f.line,
        "migration": f.migration,
        "message": f.message,
    }


def _apply_with_prisma(
    conn: psycopg.Connection[Any],
    config: Config,
    schema: str,
    pending: tuple[Migration, ...],
    state: _Progress,
    stage: Callable[..., None],
    verifier: _Verifier,
    manifest: Any,
    setup: Any,
    engine: tuple[str, tuple[str, ...], Path],
) -> MigrateRun:
    """Step 5 by ``prisma migrate deploy`` (see :mod:`safemigrate.pipeline.prisma_engine`)."""
    from safemigrate.db.catalog.snapshot import take_snapshot
    from safemigrate.db.diff import diff_snapshots
    from safemigrate.db.prisma_migrations import read_migration_rows
    from safemigrate.pipeline.prisma_engine import run_prisma_deploy

    _, command, root = engine
    run = state.run
    names = {m.name for m in pending}
    before = take_snapshot(conn, (schema,), exclude_tables=("_prisma_migrations",))
    counts_before = _counts(conn, schema)

    def waiting() -> None:
        if state.notice is not None:
            state.notice(
                "Interrupted: waiting for `prisma migrate deploy` to finish, so that the database is not left "
                "half-migrated (Prisma commits each migration on its own); interrupt again to abandon it."
            )

    state.before = before
    state.changing = True  # Prisma is about to start: from here on the database is read after a stop
    handover_wait = config.database.prisma_handover_timeout
    outcome = run_prisma_deploy(
        conn,
        command,
        root,
        lock_timeout=config.database.migrate_lock_timeout,
        handover_wait=handover_wait,
        lock_wait_limit=config.database.lock_timeout,
        on_interrupt=waiting,
    )
    tail = _prisma_error(outcome.output)
    if outcome.lock_waits_cancelled:
        tail = (
            f"safemigrate cancelled its statement after it waited {config.database.lock_timeout:g} s for another "
            f"session's lock ([database] lock_timeout; Prisma: {tail})"
        )
    if not outcome.handed_over:
        unapplied = _not_handed_over(conn, schema, names, before, outcome, tail, run.database, handover_wait)
        if unapplied is not None:
            stage("apply", "failed", "prisma migrate deploy never queued for the lock")
            return _replace(run, verdict="failed", message=unapplied)
    notes = (
        *run.notes,
        "Applied by `prisma migrate deploy` (--engine prisma): untouched tables' data was not compared.",
    )
    if outcome.abandoned:
        # A second interrupt stopped Prisma, perhaps in the middle of a migration: the ledger says
        # what the database shows, and the run stops once that is recorded.
        state.interrupt = outcome.interrupt
        state.run = _replace(run, notes=(*notes, f"Prisma was stopped by a second interrupt; its output: {tail}"))
        stage("apply", "failed", "interrupted: prisma migrate deploy was stopped")
        return _database_outcome(conn, state, "Interrupted twice while `prisma migrate deploy` ran")
    if outcome.interrupt is not None:
        # The first interrupt was waited out: Prisma finished, so verify (and undo) as usual, then stop.
        state.interrupt = outcome.interrupt
        notes = (*notes, "Interrupted while `prisma migrate deploy` ran: safemigrate let it finish, then verified.")
    run = _replace(run, notes=notes)
    state.run = run
    failed = [r for r in read_migration_rows(conn, schema) if r.failed and r.migration_name in names]
    after = take_snapshot(conn, (schema,), exclude_tables=("_prisma_migrations",))
    # Other sessions went on while Prisma deployed: what they created is not the run's, neither to
    # compare with the rehearsal nor to undo.
    diff, foreign = verifier.split(diff_snapshots(before, after))
    if foreign:
        run = _replace(run, notes=(*run.notes, _left_alone_note(foreign)))
    run = _replace(run, schema_diff=diff, attempts=1)
    if failed:
        stage("apply", "failed", f"prisma migrate deploy failed in {failed[-1].migration_name}")
        failed_name = failed[-1].migration_name
        # Only before the first pending migration is the snapshot this migration's own "before": an earlier
        # one of the deploy may have created what an IF NOT EXISTS statement of this one found.
        first = before if pending and pending[0].name == failed_name else None
        return _recover_after_prisma(run, conn, schema, failed_name, pending, tail, first)
    if outcome.exit_code != 0:
        stage("apply", "failed", f"prisma migrate deploy exited {outcome.exit_code}")
        return _replace(run, verdict="failed", message=f"`prisma migrate deploy` exited {outcome.exit_code}: {tail}")
    schema_problems = verifier.compare_schema(diff)
    count_problems = _count_problems(verifier.touches, counts_before, _counts(conn, schema))
    problems = schema_problems + count_problems
    if not problems:
        stage("apply", "ok", f"{len(pending)} migration(s) applied by Prisma and verified")
        return _replace(
            run, verdict="applied", message=f"Applied {len(pending)} migration(s) with Prisma; verification passed."
        )
    if schema_problems and manifest is not None:
        # The schema differs from the rehearsal's: not the app's doing, so undo it from the backup (as
        # `rollback` does; rows written to those tables during the deploy are lost, a window of seconds).
        from safemigrate.db.diff import diff_to_dict
        from safemigrate.pipeline.rollback import apply_rollback, backed_up_parents, holding_security, refuse_unundoable

        record = {"id": run.id, "migrations": list(run.migrations), "schema_changes": diff_to_dict(diff)["changes"]}
        try:
            refuse_unundoable(
                record,
                {t.name for t in manifest.tables},
                secured=holding_security(manifest),
                parents=backed_up_parents(manifest),
            )
        except SafemigrateError as err:
            stage("verify", "failed", f"{len(problems)} unexpected difference(s); cannot undo: {err.message}")
        else:
            stage("verify", "failed", f"{len(problems)} unexpected difference(s): restoring from the backup")
            with setup.store.fetch(manifest.id) as local:
                undone = apply_rollback(conn, schema, record, manifest, local / manifest.id)
            return _replace(
                run,
                problems=tuple(problems),
                notes=(*run.notes, *undone.warnings),
                verdict="rolled back",
                message=f"Rolled back: after Prisma's deploy the schema differed from the rehearsal's "
                f"({problems[0].detail}); the tables were restored from backup {manifest.id} and the migrations "
                "marked rolled back.",
            )
    # Row counts can move because the app keeps writing while Prisma deploys: reported, not undone, since
    # a restore would lose those rows. `rollback --run ID` shows the cost before undoing.
    stage("verify", "failed", f"{len(problems)} unexpected difference(s)")
    return _replace(
        run,
        problems=tuple(problems),
        verdict="failed",
        message=f"Failed verification: after Prisma's deploy {len(problems)} unexpected difference(s), first "
        f"{problems[0].subject}: {problems[0].detail}. The migrations stay applied; to undo them from backup "
        f"{run.backup_id or '(none)'}, run `safemigrate rollback --run {run.id}` (it shows what would be lost).",
    )


def _not_handed_over(
    conn: psycopg.Connection[Any],
    schema: str,
    names: set[str],
    before: Any,
    outcome: PrismaOutcome,
    tail: str,
    database: str,
    handover_wait: float,
) -> str | None:
    """The run's message when Prisma never got the lock from us (it did not queue in time, or exited
    first), or None when the database changed all the same (then it is verified as usual)."""
    from safemigrate.db.catalog.snapshot import take_snapshot
    from safemigrate.db.diff import diff_snapshots
    from safemigrate.db.prisma_migrations import read_migration_rows

    after = take_snapshot(conn, (schema,), exclude_tables=("_prisma_migrations",))
    touched = [r for r in read_migration_rows(conn, schema) if r.migration_name in names and (r.applied or r.failed)]
    if touched or not diff_snapshots(before, after).equal:
        return None
    if outcome.queue_wait_expired:
        unknown = (
            f" as a session safemigrate could tie to it (pid {', '.join(map(str, outcome.unidentified))} is queued "
            "but has neither the application_name given to Prisma nor a socket of its processes; see "
            "docs/migrate.md, --engine prisma)"
            if outcome.unidentified
            else ""
        )
        return (
            f"Failed: `prisma migrate deploy` did not queue for Prisma's migration lock within {handover_wait:g} s"
            f"{unknown}, so safemigrate stopped it and nothing was applied; if it was still starting (npx "
            "installing the Prisma CLI), install the CLI in the project (npm install --save-dev prisma) or raise "
            "[database] prisma_handover_timeout, and run again."
        )
    if outcome.exit_code != 0 and outcome.unidentified:
        return (
            f"Failed: `prisma migrate deploy` exited {outcome.exit_code} without getting Prisma's migration lock from "
            f"safemigrate, while a session safemigrate could not tie to it (pid "
            f"{', '.join(map(str, outcome.unidentified))}) was queued for the lock, so nothing was applied here (see "
            f"docs/migrate.md, --engine prisma): {tail}"
        )
    if outcome.exit_code != 0:
        return (
            f"Failed: `prisma migrate deploy` exited {outcome.exit_code} before it queued for Prisma's migration lock "
            f"on this database, so nothing was applied here: {tail}"
        )
    return (
        "Failed: `prisma migrate deploy` exited 0 without queuing for Prisma's migration lock on this database, so "
        f"nothing was applied here: check that the database Prisma uses (its datasource URL) is {database}, the "
        "one safemigrate checked."
    )


def _prisma_error(output: str) -> str:
    """The line of Prisma's output that says what went wrong (its error is followed by a backtrace)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for index, line in enumerate(lines):
        if line.startswith("Database error:") and index + 1 < len(lines):
            return lines[index + 1]
    for line in lines:
        if "Error" in line or "error" in line:
            return line
    return lines[-1] if lines else "no output"


def _recover_after_prisma(
    run: MigrateRun,
    conn: psycopg.Connection[Any],
    schema: str,
    name: str,
    pending: Sequence[Migration],
    tail: str,
    before: Snapshot | None,
) -> MigrateRun:
    from safemigrate.db.prisma_migrations import read_migration_rows
    from safemigrate.pipeline.recover import diagnose, undo

    migration = next(m for m in pending if m.name == name)
    row = next(r for r in read_migration_rows(conn, schema) if r.failed and r.migration_name == name)
    diagnosis = diagnose(conn, schema, name, migration.data, row.logs or "", before=before)
    if diagnosis.blocker is not None:
        # rollback takes a failed run that changed the schema (it knows what to drop); else restore by hand
        if run.backup_id and run.schema_diff is not None and not run.schema_diff.equal:
            advice = f"`safemigrate rollback --run {run.id}` restores backup {run.backup_id} and marks it rolled back"
        elif run.backup_id:
            advice = (
                f"Restore backup {run.backup_id} (`safemigrate restore --id {run.backup_id}`), then mark it: "
                f"`prisma migrate resolve --rolled-back {name}`"
            )
        else:
            advice = "No backup was taken"
        why = (
            "may have found what it creates already there (IF NOT EXISTS), so it is not undone"
            if diagnosis.blocker.took_effect is None
            else "cannot be undone from the catalog"
        )
        return _replace(
            run,
            verdict="failed",
            message=f"Failed: `prisma migrate deploy` failed in {name} ({tail}) and line {diagnosis.blocker.line} "
            f"{why}; Prisma's failed state remains. {advice}; `safemigrate recover` shows what took effect.",
        )
    recovery = undo(conn, schema, diagnosis)  # an invalid index a failed concurrent build left is dropped too
    earlier = [m.name for m in pending if m.name != name and m.name < name]
    kept = f" {', '.join(earlier)} stayed applied (Prisma commits each migration)." if earlier else ""
    dropped = " and the invalid index it left dropped" if diagnosis.cleanup else ""
    return _replace(
        run,
        verdict="failed",
        message=f"Failed: `prisma migrate deploy` failed in {name} ({tail}); the {recovery.undone} statement(s) "
        f"that took effect were undone{dropped}, and the migration marked rolled back, so Prisma is not stuck.{kept}",
    )


def _counts(conn: psycopg.Connection[Any], schema: str) -> dict[str, int]:
    from psycopg import sql

    tables = [str(r[0]) for r in conn.execute(load_sql("migrate_counted_tables"), {"schema": schema})]
    counts = {}
    for table in tables:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))).fetchone()
        counts[table] = int(row[0]) if row else 0
    return counts


def _count_problems(touches: Any, before: Mapping[str, int], after: Mapping[str, int]) -> list[Problem]:
    problems = []
    for table, rows_before in sorted(before.items()):
        name = touches.renamed.get(table, table)
        allowance = touches.allowance(name)
        if table in touches.dropped:
            continue
        if name not in after:
            if not touches.unknown:
                problems.append(Problem("rows", table, "the table is gone, but no pending statement drops it"))
            continue
        if allowance is None:  # no pending statement touches it
            continue
        rows_after = after[name]
        if rows_after < rows_before and not allowance.may_remove_rows:
            problems.append(Problem("rows", name, f"{rows_before - rows_after} row(s) disappeared"))
        if rows_after > rows_before and not allowance.may_add_rows:
            problems.append(Problem("rows", name, f"{rows_after - rows_before} row(s) appeared"))
    return problems
