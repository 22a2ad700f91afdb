"""`safemigrate backup`, `safemigrate backups list` and `safemigrate restore`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import click
import typer

from safemigrate.cli.common import (
    ConfigOption,
    DatabaseUrlOption,
    MigrationsOption,
    ProjectOption,
    SchemaOption,
    TextOrJson,
    on_terminal,
    plural,
    refuse_off_terminal,
    table_names,
)
from safemigrate.cli.fingerprint import _size
from safemigrate.errors import InputError, SafemigrateError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from safemigrate.backup.manifest import Manifest
    from safemigrate.backup.project import TakenBackup
    from safemigrate.backup.store import UnfinishedBackup, UnreadableBackup
    from safemigrate.backup.take import BackupProgress


Format = TextOrJson


TablesOption = Annotated[
    Optional[str],  # noqa: UP045 - typer reads annotations at runtime, on Python 3.10 too
    typer.Option(
        "--tables",
        help=(
            "Comma-separated table names, a name holding a comma in double quotes (default: every table of the schema)."
        ),
    ),
]

backups_app = typer.Typer(help="Look at the backups of the store.", no_args_is_help=True)


def _when(created_at: str) -> str:
    from safemigrate.backup.manifest import shown_time

    return shown_time(created_at)


def progress_line(event: BackupProgress) -> str:
    return (
        f'backup: "{event.table}" ({event.index}/{event.count}): {plural(event.rows, "row")}, '
        f"{_size(event.bytes)} in {event.seconds:.1f} s"
    )


def backup(
    tables: TablesOption = None,
    reason: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--reason", help="Why this backup is taken (kept in the manifest)."),
    ] = None,
    jobs: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            "--jobs", min=1, help="Connections: one fingerprints, the others copy (default: the number of cores)."
        ),
    ] = None,
    scope_from_migrations: Annotated[
        bool,
        typer.Option(
            "--scope-from-migrations",
            help="Back up only what the pending migrations touch (data-loss, may-fail and rewrite findings, and the "
            "tables a CASCADE reaches), as a pre-migrate backup naming them.",
        ),
    ] = False,
    migrations: MigrationsOption = None,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Then restore the backup into a scratch database on the same server, compare fingerprints "
            "and mark it verified.",
        ),
    ] = False,
    database_url: DatabaseUrlOption = None,
    project: ProjectOption = Path("."),
    schema: SchemaOption = None,
    config: ConfigOption = None,
) -> None:
    """Back up tables (structure and data) at one consistent snapshot into the backup store."""
    from safemigrate.backup.manifest import Reason
    from safemigrate.backup.project import backup_database

    def progress(event: BackupProgress) -> None:
        typer.echo(progress_line(event), err=True)

    if scope_from_migrations and tables is not None:
        raise InputError("Use --tables or --scope-from-migrations, not both.")
    if migrations is not None and not scope_from_migrations:
        raise InputError(
            "--migrations only chooses which migrations --scope-from-migrations reads.",
            "Add --scope-from-migrations, or leave --migrations out.",
        )
    names = table_names(tables, "back up every table")
    try:
        if scope_from_migrations:
            _scoped_backup(project, database_url, schema, migrations, config, reason, jobs, verify, progress)
            return
        taken = backup_database(
            project,
            database_url=database_url,
            schema_path=schema,
            config_file=config,
            tables=names,
            reason=Reason("manual", reason or ""),
            jobs=jobs,
            verify=verify,
            progress=progress,
        )
    except SafemigrateError as err:
        _notify_backup_failed(project, config, err, database_url=database_url, schema=schema)
        raise
    _summary(taken)


def _notify_backup_failed(
    project: Path,
    config: Path | None,
    err: SafemigrateError,
    *,
    database_url: str | None = None,
    schema: Path | None = None,
) -> None:
    """Webhooks for a failed backup; a configuration that cannot be read is the error itself."""
    import os

    from safemigrate.backup.project import backup_setup
    from safemigrate.notify.send import notify_backup_failed

    try:
        setup = backup_setup(project, config)
    except SafemigrateError:
        return
    message = f"{err.message} {err.hint}".strip()
    notifications = setup.config.notifications
    database = ""
    if notifications.webhooks:
        # The database the command was asked to back up (--database-url, else the project's), as
        # the manifests and backup_stale show it: host:port/database?schema=, never a password.
        # Not found (the failure may be that very URL): the event says "the database".
        from safemigrate.backup.project import project_url

        try:
            database = project_url(project, database_url=database_url, schema_path=schema).display()
        except SafemigrateError:
            database = ""
    for delivery in notify_backup_failed(
        message, notifications, os.environ, database=database, store=setup.store.location
    ):
        if not delivery.ok:
            typer.echo(f"notify: {delivery.describe()}", err=True)


def _summary(taken: TakenBackup) -> None:
    manifest = taken.manifest
    typer.echo(
        f"Backup {manifest.id}: {plural(len(manifest.tables), 'table')}, "
        f"{plural(manifest.rows, 'row')}, {_size(manifest.bytes)} of {manifest.database}, in {taken.location}"
    )
    if taken.verification is not None:
        typer.echo(
            f"Verified: restored into a scratch database in {taken.verification.seconds:.1f} s; "
            "counts and fingerprints match."
        )
    if taken.skipped_partitioned:
        typer.echo(
            "backup: left out partitioned tables (not supported by backups yet): "
            + ", ".join(taken.skipped_partitioned),
            err=True,
        )


def _scoped_backup(
    project: Path,
    database_url: str | None,
    schema: Path | None,
    migrations: Path | None,
    config: Path | None,
    reason: str | None,
    jobs: int | None,
    verify: bool,
    progress: Callable[[BackupProgress], None],
) -> None:
    from safemigrate.backup.project import backup_pending_scope

    scoped = backup_pending_scope(
        project,
        database_url=database_url,
        schema_path=schema,
        migrations_dir=migrations,
        config_file=config,
        reason_text=reason or "",
        jobs=jobs,
        verify=verify,
        progress=progress,
    )
    scope = scoped.scope
    for name in scope.tables:
        typer.echo(f'scope: "{name}": {"; ".join(scope.reasons.get(name, ()))}', err=True)
    for skipped in scope.skipped:
        typer.echo(f'scope: "{skipped.name}" not backed up: {skipped.reason}', err=True)
    if scoped.everything:
        typer.echo(
            f"scope: {len(scope.unread)} pending statement(s) could not be read, so what they touch is unknown: "
            "every table is backed up.",
            err=True,
        )
    if scoped.taken is None:
        pending = len(scope.migrations)
        typer.echo(
            "No pending migrations: nothing to back up."
            if not pending
            else f"The {pending} pending migration{'s' if pending != 1 else ''} touch no existing table's rows: "
            "nothing to back up."
        )
        return
    _summary(scoped.taken)


def list_row(manifest: Manifest) -> dict[str, Any]:
    return {
        "id": manifest.id,
        "created_at": manifest.created_at,
        "reason": {"kind": manifest.reason.kind, "text": manifest.reason.text},
        "migrations": list(manifest.reason.migrations),
        "database": manifest.database,
        "tables": [t.name for t in manifest.tables],
        "rows": manifest.rows,
        "bytes": manifest.bytes,
        "verified": manifest.verified,
    }


def unreadable_row(unreadable: UnreadableBackup) -> dict[str, Any]:
    return {"id": unreadable.id, "reason": unreadable.reason, "hint": unreadable.hint}


def _warn_unreadable(skipped: Sequence[UnreadableBackup]) -> None:
    for unreadable in skipped:
        typer.echo(f"warning: backup {unreadable.id} skipped: {unreadable.reason} {unreadable.hint}".rstrip(), err=True)


def unfinished_row(unfinished: UnfinishedBackup) -> dict[str, Any]:
    return {"id": unfinished.id, "location": unfinished.location, "state": unfinished.state}


def unfinished_line(unfinished: UnfinishedBackup) -> str:
    """What an unfinished backup is, and what to do about it (one line)."""
    if unfinished.state == "in-progress":
        return f"note: backup {unfinished.id} is being taken now ({unfinished.location})."
    if unfinished.state == "abandoned":
        return (
            f"warning: unfinished backup {unfinished.id} ({unfinished.location}): the process taking it stopped "
            "before it finished; `safemigrate backups prune` removes it."
        )
    remove = (
        f"aws s3 rm --recursive {unfinished.location}"
        if unfinished.location.startswith("s3://")
        else f"remove the folder {unfinished.location}"
    )
    return (
        f"warning: unfinished backup {unfinished.id} ({unfinished.location}) has data but no manifest: a backup "
        f"still being taken, or one that was stopped. Once no backup is running, {remove}."
    )


def backups_list(
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.text,
    project: ProjectOption = Path("."),
    config: ConfigOption = None,
) -> None:
    r"""List the backups of the store, oldest first; warn when the newest is older than
    \[notifications] backup_max_age (as `notify check` would, but sending nothing)."""
    from dataclasses import asdict

    from safemigrate.backup.project import backup_setup
    from safemigrate.notify.check import stale_store

    setup = backup_setup(project, config)
    found = setup.store.list()
    skipped = found.unreadable
    stale = stale_store(setup, found)  # the finding of `notify check` (same rule, same words), never sent
    if fmt is Format.json:
        facts = asdict(stale.backup) if stale is not None and stale.backup is not None else None
        document = {
            "version": 1,
            "backups": [list_row(m) for m in found],
            "unreadable": [unreadable_row(u) for u in skipped],
            "unfinished": [unfinished_row(u) for u in found.unfinished],
            "warnings": [] if stale is None else [{"event": stale.kind, "title": stale.title, "backup": facts}],
        }
        typer.echo(json.dumps(document, indent=2 if sys.stdout.isatty() else None, ensure_ascii=False))
        return
    _warn_unreadable(skipped)
    if stale is not None:
        typer.echo(f"warning: {stale.title} ([notifications] backup_max_age).", err=True)
    for unfinished in found.unfinished:
        typer.echo(unfinished_line(unfinished), err=True)
    if not found:
        typer.echo("No backups that this safemigrate can read." if skipped else "No backups.")
        return
    from safemigrate.report.counts import first_names

    for m in found:
        reason = m.reason.kind + (f": {m.reason.text}" if m.reason.text else "")
        verified = {None: "not verified", True: "verified", False: "verification failed"}[m.verified]
        typer.echo(
            f"{m.id}  {_when(m.created_at)}  {m.database}  {reason}  {plural(len(m.tables), 'table')} "
            f"({first_names([t.name for t in m.tables], 10)})  {plural(m.rows, 'row')}  {_size(m.bytes)}  {verified}"
        )


backups_app.command("list")(backups_list)


def prune(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only print what would be removed.")] = False,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.text,
    project: ProjectOption = Path("."),
    config: ConfigOption = None,
) -> None:
    r"""Remove the backups the retention policy (\[backup.retention]) does not keep."""
    from safemigrate.backup.project import prune_backups

    def removed_line(m: Manifest, verb: str = "removed") -> str:
        return f"{verb} {m.id}  {_when(m.created_at)}  {m.reason.kind}  {_size(m.bytes)}"

    def finished_line(backup_id: str, verb: str = "finished removing") -> str:
        return f"{verb} {backup_id} (an earlier prune was interrupted)"

    def abandoned_line(unfinished: UnfinishedBackup, verb: str = "removed") -> str:
        return f"{verb} unfinished backup {unfinished.id} (the process taking it stopped before it finished)"

    text = fmt is Format.text
    # Each line as soon as its backup is gone: an interrupted prune has said what it removed.
    plan = prune_backups(
        project,
        config_file=config,
        dry_run=dry_run,
        on_finished=(lambda i: typer.echo(finished_line(i))) if text else None,
        on_removed=(lambda m: typer.echo(removed_line(m))) if text else None,
        on_abandoned=(lambda u: typer.echo(abandoned_line(u))) if text else None,
    )
    if fmt is Format.json:
        document = {
            "version": 1,
            "dry_run": dry_run,
            "removed": [list_row(m) for m in plan.removed],
            "kept": [{**list_row(k.manifest), "kept_because": list(k.reasons)} for k in plan.kept],
            "unreadable": [unreadable_row(u) for u in plan.unreadable],
            "finished": list(plan.finished),
            "unfinished_removed": [unfinished_row(u) for u in plan.abandoned],
            "unfinished_left": [unfinished_row(u) for u in plan.unfinished_left],
        }
        typer.echo(json.dumps(document, indent=2 if sys.stdout.isatty() else None, ensure_ascii=False))
        return
    if dry_run:
        for backup_id in plan.finished:
            typer.echo(finished_line(backup_id, "would finish removing"))
        for unfinished in plan.abandoned:
            typer.echo(abandoned_line(unfinished, "would remove"))
        for m in plan.removed:
            typer.echo(removed_line(m, "would remove"))
    for kept in plan.kept:
        typer.echo(f"kept {kept.manifest.id}: {'; '.join(kept.reasons)}", err=True)
    for unreadable in plan.unreadable:
        typer.echo(
            f"kept {unreadable.id}: its manifest cannot be read, so it is never pruned: {unreadable.reason}", err=True
        )
    for unfinished in plan.unfinished_left:
        typer.echo(f"left alone: {unfinished_line(unfinished).partition(': ')[2]}", err=True)
    total = sum(m.bytes for m in plan.removed)
    unread = f" and {len(plan.unreadable)} that cannot be read" if plan.unreadable else ""
    partial = f" and {len(plan.abandoned)} unfinished" if plan.abandoned else ""
    typer.echo(
        f"{'Would remove' if dry_run else 'Removed'} {plural(len(plan.removed), 'backup')} ({_size(total)}){partial}; "
        f"kept {len(plan.kept)}{unread}."
    )


backups_app.command("prune")(prune)


def _pick(project: Path, config: Path | None) -> str:
    """Ask which backup to restore (newest first) on a terminal."""
    from safemigrate.backup.project import project_backups

    listed = project_backups(project, config_file=config)
    _warn_unreadable(listed.unreadable)
    found = list(reversed(listed))[:20]
    if not found:
        raise InputError("There is no backup to restore.", "Take one with `safemigrate backup`.")
    for number, m in enumerate(found, 1):
        reason = m.reason.kind + (f": {m.reason.text}" if m.reason.text else "")
        typer.echo(
            f"{number:>3}. {m.id}  {_when(m.created_at)}  {m.database}  {reason}  {plural(len(m.tables), 'table')}  "
            f"{plural(m.rows, 'row')}",
            err=True,
        )
    choice: int = typer.prompt("Restore which backup", default=1, type=click.IntRange(1, len(found)), err=True)
    return found[choice - 1].id


def restore(
    backup_id: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--id", help="The backup to restore (see `safemigrate backups list`)."),
    ] = None,
    latest: Annotated[
        bool, typer.Option("--latest", help="Restore the newest backup of the database restored into.")
    ] = False,
    at: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--at",
            help="Restore the newest backup of the database restored into taken at or before this time "
            '("2026-11-20 14:00", UTC).',
        ),
    ] = None,
    tables: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--tables",
            help=(
                "Comma-separated table names, a name holding a comma in double quotes (default: every table of "
                "the backup)."
            ),
        ),
    ] = None,
    to_url: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--to-url",
            show_default=False,
            help="Restore into this database instead (the only way to restore a backup taken of another "
            "database). Never printed.",
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    database_url: DatabaseUrlOption = None,
    project: ProjectOption = Path("."),
    schema: SchemaOption = None,
    config: ConfigOption = None,
) -> None:
    """Restore a backup (all or --tables) in one transaction, checked against its fingerprints.

    Without --id, --latest or --at, on a terminal, it lists the newest backups and asks which one."""
    from safemigrate.backup.project import restore_database
    from safemigrate.backup.select import parse_time

    names = table_names(tables, "restore every table of the backup")
    selectors = sum(x for x in (backup_id is not None, latest, at is not None))
    if selectors > 1:
        raise InputError("Name the backup to restore with one of --id ID, --latest or --at TIME, not several.")
    moment = parse_time(at) if at is not None else None
    interactive = on_terminal()
    if selectors == 0:
        if not interactive:
            raise InputError("Name the backup to restore with --id ID, --latest or --at TIME.")
        backup_id = _pick(project, config)
    refuse_off_terminal(yes, "A restore replaces data")
    if not yes:
        when = f" at or before {at}" if at else ""
        scope = f"tables {tables}" if tables else "every table of the backup"
        where = "the --to-url database" if to_url else "the project's database"
        what = f"backup {backup_id}{when} into {where}" if backup_id else f"the newest backup{when} of {where} into it"
        typer.confirm(f"Restore {scope} from {what}, replacing their rows?", abort=True, err=True)
    result = restore_database(
        project,
        backup_id=backup_id,
        at=moment,
        tables=names,
        to_url=to_url,
        database_url=database_url,
        schema_path=schema,
        config_file=config,
    )
    for table in result.tables:
        how = "recreated" if table.recreated else "replaced"
        typer.echo(f'restore: "{table.name}": {plural(table.rows, "row")} ({how})', err=True)
        for warning in table.warnings:
            typer.echo(f"warning: {warning}", err=True)
    for name in result.left_out:
        typer.echo(
            f'note: "{name}" was left out: a restore brings back rows, not the tables\' structure, so the '
            "migration history stays as it is, matching the tables; name it in --tables to restore it too.",
            err=True,
        )
    taken_of = f" (taken of {result.taken_of})" if result.taken_of else ""
    typer.echo(
        f"Restored backup {result.backup_id}{taken_of} into {result.database}: "
        f"{plural(len(result.tables), 'table')}, counts and fingerprints match, in {result.seconds:.1f} s"
    )
