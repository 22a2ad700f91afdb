"""The library behind each command: typed arguments in, a frozen dataclass out. No printing here."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from safemigrate.config import FAIL_ON, Config, load_config
from safemigrate.errors import InputError
from safemigrate.lint.cache import default_cache_dir, lint_incrementally
from safemigrate.lint.engine import LintOptions, SourceFile
from safemigrate.lint.findings import Finding, LintResult
from safemigrate.lint.registry import rule_by_name, rule_names
from safemigrate.lint.rule import LintSettings, ObjectRef, Severity
from safemigrate.migrations import Migration, list_migrations
from safemigrate.project import check_provider, discover_project, read_lock_provider


@dataclass(frozen=True)
class LintOutcome:
    result: LintResult
    fail_on: str
    failed: bool
    config: Config


def _display(path: Path) -> str:
    """A path as the user would write it: relative to the current directory when below it."""
    try:
        return os.path.relpath(path) if path.resolve().is_relative_to(Path.cwd().resolve()) else str(path)
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class _History:
    sources: tuple[SourceFile, ...]
    report: frozenset[str]
    key: str = ""  # identifies the history for the parse cache (its migrations directory)


def _history_of(migrations: Sequence[Migration], shown_as: dict[str, str], report: set[str]) -> _History:
    folders: dict[Path, str] = {}  # one _display() per migrations directory, not per file

    def shown(migration: Migration) -> str:
        if migration.name in shown_as:
            return shown_as[migration.name]
        parent = migration.path.parent
        if parent not in folders:
            folders[parent] = _display(parent)
        return os.path.join(folders[parent], migration.name, "migration.sql")

    sources = tuple(SourceFile(shown(m), m.name, m.data) for m in migrations)
    key = str(migrations[0].path.parent.resolve()) if migrations else ""
    return _History(sources, frozenset(s.path for s in sources if s.migration in report), key)


def _is_migrations_dir(path: Path) -> bool:
    return path.is_dir() and any((child / "migration.sql").is_file() for child in path.iterdir() if child.is_dir())


def _histories_for_path(given: str) -> list[_History]:
    path = Path(given)
    if not path.exists():
        raise InputError(f"{given} does not exist.", "Pass a .sql file, a migration folder or a directory.")
    if path.is_file():
        if path.name == "migration.sql" and _is_migrations_dir(path.parent.parent):
            return [_folder_in_history(path.parent, given)]
        try:
            data = path.read_bytes()
        except OSError as err:
            raise InputError(f"Cannot read {given}: {err.strerror}.", "Check the file's permissions.") from err
        name = path.parent.name if path.name == "migration.sql" else path.stem
        return [_History((SourceFile(given, name, data),), frozenset({given}), str(path.resolve()))]
    if (path / "migration.sql").is_file():
        if _is_migrations_dir(path.resolve().parent):
            return [_folder_in_history(path, os.path.join(given, "migration.sql"))]
        data = (path / "migration.sql").read_bytes()
        shown = os.path.join(given, "migration.sql")
        return [_History((SourceFile(shown, path.resolve().name, data),), frozenset({shown}), str(path.resolve()))]
    if (path / "migration_lock.toml").is_file() or _is_migrations_dir(path):
        # A migrations directory itself: one history, no need to walk the tree.
        check_provider(path, read_lock_provider(path))
        migrations = list_migrations(path)
        if migrations:
            shown_as = {m.name: os.path.join(given, m.name, "migration.sql") for m in migrations}
            return [_history_of(migrations, shown_as, {m.name for m in migrations})]
    # Any directory: every migration.sql below it; each migrations directory is one history.
    groups: dict[Path, list[Path]] = {}
    for sql_path in sorted(path.rglob("migration.sql")):
        groups.setdefault(sql_path.parent.parent, []).append(sql_path)
    histories = []
    for migrations_dir in sorted(groups):
        check_provider(migrations_dir, read_lock_provider(migrations_dir))
        migrations = list_migrations(migrations_dir)
        shown_as = {m.name: os.path.join(given, os.path.relpath(m.sql_path, path)) for m in migrations}
        histories.append(_history_of(migrations, shown_as, {m.name for m in migrations}))
    if not histories:
        raise InputError(f"{given} holds no migration.sql file.", "Pass a .sql file or a Prisma migrations folder.")
    return histories


def _folder_in_history(folder: Path, shown: str) -> _History:
    """One migration, with the migrations before it folded in (for the types they define)."""
    folder = folder.resolve()
    migrations = list_migrations(folder.parent)
    names = [m.name for m in migrations]
    position = names.index(folder.name)
    return _history_of(migrations[: position + 1], {folder.name: shown}, {folder.name})


def lint(
    paths: Sequence[str] = (),
    *,
    project_dir: Path = Path("."),
    schema: Path | None = None,
    migrations_dir: Path | None = None,
    config_file: Path | None = None,
    since: str | None = None,
    pg_version: int | None = None,
    fail_on: str | None = None,
    use_cache: bool = True,
    pending: bool = False,
    database_url: str | None = None,
    every_rule: bool = False,
    one_transaction: bool | None = None,
) -> LintOutcome:
    """Lint the given paths, or the project's migrations (only those changed since ``since``).

    ``every_rule``: rules the config turns off run anyway (other severities still apply). The backup
    scope is read from findings, and a rule silenced for review must not shrink what is backed up.
    ``one_transaction``: how the deploy will be applied, when the caller knows (:class:`LintSettings`)."""
    config = load_config(project_dir, config_file, rule_names())
    severities = config.lint.severities
    if every_rule:
        severities = {name: s for name, s in severities.items() if s is not Severity.OFF}
    settings = LintSettings(pg_version or config.lint.pg_version, config.lint.default_schema, one_transaction)
    if fail_on is not None and fail_on not in FAIL_ON:
        raise InputError(f"--fail-on must be one of {', '.join(FAIL_ON)}, not {fail_on!r}.")
    threshold = fail_on or config.lint.fail_on
    extra: list[Finding] = []
    if paths:
        if since is not None or pending:
            raise InputError("--since and --pending work on the project's migrations; drop the PATH arguments.")
        histories = [h for given in paths for h in _histories_for_path(given)]
        deploy: frozenset[str] = frozenset()
    else:
        project = discover_project(project_dir, schema, migrations_dir)
        migrations = list_migrations(project.migrations_dir)
        report = {m.name for m in migrations}
        deploy = frozenset()
        if pending and since is not None:
            raise InputError("Use --pending or --since, not both.")
        if pending:
            report, url_schema = _pending_migrations(project_dir, schema, migrations_dir, database_url, config_file)
            deploy = frozenset(report)  # they are applied together: tables one creates are empty for the next
            # Prisma runs them with the URL's ?schema= as search_path: that is where unqualified names live.
            settings = replace(settings, default_schema=url_schema)
        if since is not None:
            from safemigrate.gitdiff import changes_since  # subprocess: imported only for --since

            changes = changes_since(since, project.migrations_dir)
            report = set(changes.added | changes.edited)
            deploy = changes.added
            extra = _edited_findings(changes.edited, changes.removed, migrations, project.migrations_dir, since)
            extra = [replace(f, severity=severities.get(f.rule, f.severity)) for f in extra]
            extra = [f for f in extra if f.active]
        histories = [_history_of(migrations, {}, report)]
    cache_dir = default_cache_dir() if use_cache else None
    results = [
        lint_incrementally(
            h.sources,
            LintOptions(settings=settings, severities=severities, report=h.report, deploy=deploy),
            cache_dir,
            h.key,
        )
        for h in histories
    ]
    findings = tuple(f for r in results for f in r.findings) + tuple(extra)
    result = LintResult(findings, tuple(fr for r in results for fr in r.files))
    return LintOutcome(result, threshold, result.fails(threshold), config)


def _pending_migrations(
    project_dir: Path, schema: Path | None, migrations_dir: Path | None, database_url: str | None, config: Path | None
) -> tuple[set[str], str]:
    """The migrations `prisma migrate deploy` would apply next (pending, and rolled back ones: run
    again), and the database URL's schema."""
    from safemigrate.status import PENDING, ROLLED_BACK, status

    report = status(
        project_dir, schema_path=schema, migrations_dir=migrations_dir, database_url=database_url, config_file=config
    )
    return {m.name for m in report.migrations if m.local and m.state in (PENDING, ROLLED_BACK)}, report.schema


def _edited_findings(
    edited: frozenset[str], removed: frozenset[str], migrations: Sequence[Migration], migrations_dir: Path, ref: str
) -> list[Finding]:
    rule = rule_by_name("edited-migration")
    by_name = {m.name: m for m in migrations}
    findings = []
    for name in sorted(edited | removed):
        path = (
            _display(by_name[name].sql_path) if name in by_name else _display(migrations_dir / name / "migration.sql")
        )
        verb = "was edited" if name in edited else "was deleted"
        findings.append(
            Finding(
                rule.name,
                rule.id,
                rule.category,
                rule.severity,
                path,
                1,
                1,
                1,
                name,
                None,
                ObjectRef(),
                f"Migration {name} {verb} since {ref}, but it may already be applied: databases that ran it "
                "will not get the change.",
                "Revert the change to this migration and put it in a new migration folder.",
            )
        )
    return findings
