"""`safemigrate migrate`: the safe pipeline (lint, back up, rehearse, apply all-or-nothing, verify)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from safemigrate.cli.common import (
    ConfigOption,
    DatabaseUrlOption,
    MigrationsOption,
    ProjectOption,
    SchemaOption,
    TextOrJson,
    on_terminal,
    refuse_off_terminal,
)
from safemigrate.cli.dryrun import CloneOption, CloneUrlOption, RehearsalFormat
from safemigrate.errors import EXIT_CHECK_FAILED, InputError

CATEGORIES = ("data-loss", "may-fail", "lock", "breaking", "unchecked", "style")


def migrate(
    allow: Annotated[
        Optional[str],  # noqa: UP045 - typer reads annotations at runtime, on Python 3.10 too
        typer.Option("--allow", help="Comma-separated finding categories to accept, e.g. data-loss,may-fail."),
    ] = None,
    skip_dry_run: Annotated[
        bool, typer.Option("--skip-dry-run", help="Apply without rehearsing on a clone first (recorded).")
    ] = False,
    clone: CloneOption = None,
    clone_url: CloneUrlOption = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine", help="Who applies: safemigrate (one transaction) or prisma (`prisma migrate deploy`)."
        ),
    ] = "safemigrate",
    prisma_command: Annotated[
        str, typer.Option("--prisma-command", help="How to run the Prisma CLI for --engine prisma.")
    ] = "npx prisma",
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation (CI).")] = False,
    fmt: Annotated[RehearsalFormat, typer.Option("--format", help="Output format.")] = RehearsalFormat.text,
    database_url: DatabaseUrlOption = None,
    project: ProjectOption = Path("."),
    schema: SchemaOption = None,
    migrations: MigrationsOption = None,
    config: ConfigOption = None,
) -> None:
    """Apply the pending migrations safely: lint, back up, rehearse on a clone, apply all-or-nothing,
    verify, or roll back by itself. Exit 1 when refused, failed or rolled back."""
    from safemigrate.pipeline.migrate import MigrateInterrupted, MigrateRun, RunNotRecorded, Stage
    from safemigrate.pipeline.migrate import migrate as run_migrate
    from safemigrate.report.run import render_run_json, render_run_markdown, render_run_text, stage_line

    allowed = tuple(a.strip() for a in (allow or "").split(",") if a.strip())
    unknown = [a for a in allowed if a not in CATEGORIES]
    if unknown:
        raise InputError(f"--allow {unknown[0]!r} is not a finding category.", f"Use {', '.join(CATEGORIES)}.")
    refuse_off_terminal(yes, "migrate changes the database")
    if not yes:
        typer.confirm("Apply the pending migrations to the project's database?", abort=True, err=True)

    def progress(stage: Stage) -> None:
        typer.echo(stage_line(stage), err=True)

    def notice(text: str) -> None:
        typer.echo(text, err=True)

    def show(run: MigrateRun) -> None:
        if fmt is RehearsalFormat.json:
            typer.echo(render_run_json(run, pretty=sys.stdout.isatty()))
        elif fmt is RehearsalFormat.markdown:
            typer.echo(render_run_markdown(run))
        else:
            typer.echo(render_run_text(run, stages=False))

    try:
        run = run_migrate(
            project,
            database_url=database_url,
            schema_path=schema,
            migrations_dir=migrations,
            config_file=config,
            allow=allowed,
            skip_dry_run=skip_dry_run,
            clone=clone.value if clone else None,
            clone_url=clone_url,
            engine=engine,
            prisma_command=_split_command(prisma_command),
            progress=progress,
            notice=notice,
        )
    except MigrateInterrupted as stop:
        # Recorded: show what the ledger says (what is applied, what to do next), then exit as interrupted.
        show(stop.run)
        if stop.unsaved:
            typer.echo(f"error: {stop.unsaved}", err=True)
        raise stop.interrupt from None
    except RunNotRecorded as unrecorded:
        show(unrecorded.run)  # then the error says where its record is
        raise
    show(run)
    if not run.ok:
        raise typer.Exit(EXIT_CHECK_FAILED)


def rollback(
    run_id: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--run", help="The run to undo (see `safemigrate runs`)."),
    ] = None,
    latest: Annotated[bool, typer.Option("--latest", help="Undo the newest applied run.")] = False,
    interactive: Annotated[bool, typer.Option("--interactive", help="Pick the run from a list.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    discard_later_changes: Annotated[
        bool,
        typer.Option(
            "--discard-later-changes",
            help="Roll back even though columns were added to the backed-up tables since the run: "
            "they are dropped with their data.",
        ),
    ] = False,
    database_url: DatabaseUrlOption = None,
    project: ProjectOption = Path("."),
    schema: SchemaOption = None,
    config: ConfigOption = None,
) -> None:
    """Undo a migrate run from its backup: restore its tables, drop what it created, and mark its
    migrations rolled back as `prisma migrate resolve --rolled-back` would (the rows it left failed
    included)."""
    from safemigrate.pipeline.rollback import RollbackPreview
    from safemigrate.pipeline.rollback import rollback as run_rollback

    if sum((run_id is not None, latest, interactive)) != 1:
        raise InputError("Name the run to undo with one of --run ID, --latest or --interactive.")
    terminal = on_terminal()
    if interactive:
        if not terminal:
            raise InputError("--interactive needs a terminal; use --run ID or --latest.")
        run_id = _pick_run(project, config)
    refuse_off_terminal(yes, "A rollback replaces data")

    def confirm(preview: RollbackPreview) -> bool:
        typer.echo(f"Rollback of run {preview.run['id']} ({', '.join(preview.run.get('migrations', []))}):", err=True)
        for loss in preview.losses:
            if loss.rows_in_backup is None:
                typer.echo(f"  {loss.table}: created by the run, its {loss.rows_now or 0:,} rows are lost", err=True)
            else:
                now = "missing" if loss.rows_now is None else f"{loss.rows_now:,} rows now"
                typer.echo(
                    f"  {loss.table}: {now}, replaced by the backup's {loss.rows_in_backup:,} "
                    "(rows written since the run are lost)",
                    err=True,
                )
        for drop in preview.drops:
            typer.echo(f"  drop {drop}", err=True)
        for change in preview.later:
            typer.echo(f"  {change.describe()}", err=True)
        return yes or typer.confirm("Go ahead?", default=False, err=True)

    result = run_rollback(
        project,
        run_id=run_id,
        database_url=database_url,
        schema_path=schema,
        config_file=config,
        confirm=confirm,
        discard_later_changes=discard_later_changes,
    )
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    for delivery in result.deliveries:
        if not delivery.ok:
            typer.echo(f"notify: {delivery.describe()}", err=True)
    marked = (
        f"{', '.join(result.marked)} marked rolled back (prisma migrate deploy would apply them again)"
        if result.marked
        else "no migration marked rolled back"
    )
    not_marked = f"; not marked: {', '.join(result.not_marked)}" if result.not_marked else ""
    typer.echo(
        f"Rolled back run {result.run_id}: restored {', '.join(result.restored) or 'no table'} from backup "
        f"{result.backup_id or '-'}; dropped {len(result.dropped)} object(s); {marked}{not_marked}."
    )


def _pick_run(project: Path, config: Path | None) -> str:
    from safemigrate.backup.project import backup_setup
    from safemigrate.backup.retention import rollback_accepts

    # Every run rollback takes by id (the one rule): interrupted and failed ones are named as such.
    found = backup_setup(project, config).store.list_runs()
    runs = [r for r in found if rollback_accepts(r)][::-1][:20]
    if not runs:
        raise InputError("No applied run in the ledger to roll back.")
    for number, run in enumerate(runs, 1):
        verdict = run.get("verdict")
        mark = f"  ({verdict})" if verdict in ("interrupted", "failed") else ""
        typer.echo(
            f"{number:>3}. {run['id']}  {run.get('started_at', '')}  {', '.join(run.get('migrations', []))}{mark}",
            err=True,
        )
    import click

    choice: int = typer.prompt("Undo which run", default=1, type=click.IntRange(1, len(runs)), err=True)
    return str(runs[choice - 1]["id"])


def runs(
    fmt: Annotated[TextOrJson, typer.Option("--format", help="Output format (text or json).")] = TextOrJson.text,
    project: ProjectOption = Path("."),
    config: ConfigOption = None,
) -> None:
    """List the migrate runs of the ledger, oldest first."""
    import json

    from safemigrate.backup.project import backup_setup

    found = backup_setup(project, config).store.list_runs()
    if fmt is TextOrJson.json:
        typer.echo(json.dumps({"version": 1, "runs": list(found)}, ensure_ascii=False))
        return
    if not found:
        typer.echo("No runs.")
    for run in found:
        typer.echo(
            f"{run['id']}  {run.get('started_at', '')}  {run.get('verdict', '?'):<11}  "
            f"{', '.join(run.get('migrations', [])) or '-'}  backup {run.get('backup_id') or '-'}"
        )


def recover(
    yes: Annotated[
        bool, typer.Option("--yes", help="Act without asking (undo what took effect, mark rolled back).")
    ] = False,
    database_url: DatabaseUrlOption = None,
    project: ProjectOption = Path("."),
    schema: SchemaOption = None,
    migrations: MigrationsOption = None,
    config: ConfigOption = None,
) -> None:
    """Get out of Prisma's failed state (P3009): show the failed migration, which of its statements
    took effect, then undo them and mark it rolled back so the next deploy runs it again."""
    from safemigrate.pipeline.recover import Diagnosis
    from safemigrate.pipeline.recover import recover as run_recover

    terminal = on_terminal()

    def confirm(diagnosis: Diagnosis) -> bool:
        if diagnosis.nothing_applied:
            typer.echo("Nothing of it took effect: it can be marked rolled back as it is.", err=True)
        else:
            typer.echo(
                f"{len(diagnosis.applied)} statement(s) took effect; they will be undone in reverse order.", err=True
            )
        if yes:
            return True
        if not terminal:
            return False
        return typer.confirm("Go ahead?", default=False, err=True)

    diagnosis, recovery = run_recover(
        project,
        database_url=database_url,
        schema_path=schema,
        migrations_dir=migrations,
        config_file=config,
        confirm=confirm,
    )
    typer.echo(f"Failed migration: {diagnosis.migration}")
    if diagnosis.logs:
        typer.echo("Prisma's logs:\n  " + "\n  ".join(diagnosis.logs.strip().splitlines()))
    for index, effect in enumerate(diagnosis.effects):
        state = {True: "took effect", False: "did not run", None: "cannot tell"}[effect.took_effect]
        if diagnosis.stopped_at is not None and index > diagnosis.stopped_at:
            state = "did not run"
        note = f" ({effect.note})" if effect.note else ""
        typer.echo(f"  line {effect.line:>4}: {state:<12} {effect.text}{note}")
    if recovery is not None:
        typer.echo(
            f"Recovered {recovery.migration}: {recovery.undone} statement(s) undone, marked rolled back; "
            "`prisma migrate deploy` (or `safemigrate migrate`) runs it again once it is fixed."
        )
        return
    if diagnosis.blocker is not None:
        b = diagnosis.blocker
        typer.echo(
            f"Cannot recover automatically: line {b.line} ({b.text}) {b.note or 'cannot be undone from the catalog'}. "
            "Nothing was changed. Restore the affected tables from a backup (`safemigrate restore`), or finish the "
            f"migration by hand and run `prisma migrate resolve --applied {diagnosis.migration}`."
        )
    else:
        typer.echo("Nothing was changed (run with --yes to act).")
    raise typer.Exit(EXIT_CHECK_FAILED)


def _split_command(text: str) -> tuple[str, ...]:
    try:
        words = tuple(shlex.split(text))
    except ValueError as err:
        raise InputError(f"--prisma-command {text!r} cannot be read: {err}.", 'Write it like "npx prisma".') from err
    if not words:
        raise InputError("--prisma-command is empty.", 'Write it like "npx prisma".')
    return words
