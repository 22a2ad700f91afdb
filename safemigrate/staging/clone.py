"""``safemigrate clone --to URL``: copy the project's database (or some tables) into another database
through a backup and a verified restore, masking personal data on the way.

The backup goes to a private temporary folder (0700, removed afterwards), never to the project's
backup store: a staging copy is not a production backup, must not count for retention, and must not
be offered by ``restore --latest``. The restore, its verification against the backup's counts and
fingerprints, and the masking run in one transaction of the target, with the target's own triggers
and rules on the copied tables disabled until just before the commit (``triggers``): any failure
leaves the target as it was. Masked tables are loaded through a temporary table and receive only
their fakes (``masked_load``): their raw values never enter the target's tables, indexes or WAL.
Partitioned tables are not copied (backups do not support them yet): the result names them.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from psycopg.rows import class_row

from safemigrate.backup.ddl import PartitionRow, ensure_schema, partitioned_tables, schema_tables
from safemigrate.backup.manifest import Reason
from safemigrate.backup.restore import check_files, restore_in_transaction
from safemigrate.backup.store import find_backup
from safemigrate.backup.take import BackupProgressCallback, take_backup
from safemigrate.config import Config, DatabaseConfig
from safemigrate.db.connect import connect, database_errors
from safemigrate.db.url import DatabaseUrl
from safemigrate.errors import DatabaseUrlError, InputError, ProjectError, SafemigrateError, UnknownTableError
from safemigrate.staging.identity import load_sql, read_identity, same_address, same_database
from safemigrate.staging.masked_load import MaskedColumn, MaskedLoad
from safemigrate.staging.masks import DEFAULT_SALT, RULES, CloneConfig, ColumnMask, split_column
from safemigrate.staging.triggers import pause_triggers, resume_triggers


class CloneRefusedError(SafemigrateError):
    """The clone would overwrite its own source, or the user declined."""


@dataclass(frozen=True)
class ClonePlan:
    """What is about to happen, for the confirmation prompt (no password anywhere)."""

    source: str  # host:port/database?schema=
    target: str
    tables: tuple[str, ...]
    masks: tuple[ColumnMask, ...]  # those on copied tables
    salted: bool  # the salt came from the environment, not the public default
    salt_env: str  # the environment variable it is read from
    skipped_partitioned: tuple[str, ...] = ()  # partitioned tables and partitions left out, by name


@dataclass(frozen=True)
class ClonedTable:
    name: str
    rows: int
    created: bool  # the table was missing in the target and was created


@dataclass(frozen=True)
class CloneResult:
    source: str
    target: str
    tables: tuple[ClonedTable, ...]
    rows: int
    masked: tuple[MaskedColumn, ...]
    seconds: float
    # Partitioned tables and partitions of the schema left out (backups do not support them yet), by
    # name; empty when --tables named the tables.
    skipped_partitioned: tuple[str, ...] = ()


@dataclass(frozen=True)
class _MaskColumn:
    table_name: str
    column_name: str
    type: str
    category: str
    max_length: int | None
    not_null: bool
    generated: bool
    foreign_key: str | None


Confirm = Callable[[ClonePlan], bool]


def _load_config(project_dir: Path, config_file: Path | None) -> Config:
    from safemigrate.config import load_config
    from safemigrate.lint.registry import rule_names

    if not project_dir.is_dir():
        raise ProjectError(
            f"The project directory {project_dir} does not exist.", "Pass an existing folder with --project."
        )
    return load_config(project_dir, config_file, rule_names())


def clone_database(
    project_dir: Path = Path("."),
    *,
    to_url: str,
    tables: Sequence[str] | None = None,
    masks: Mapping[str, str] | None = None,
    database_url: str | None = None,
    schema_path: Path | None = None,
    config_file: Path | None = None,
    confirm: Confirm | None = None,
    progress: BackupProgressCallback | None = None,
    environ: Mapping[str, str] | None = None,
) -> CloneResult:
    """Copy the project's database (or ``tables``) into ``to_url``: present tables have their rows
    replaced, missing ones are created, others of the target are left alone. ``masks`` ("Table.column"
    -> rule) add to ``[clone] masks``. Everything is checked (target is not the source, tables and
    masked columns exist and fit) before ``confirm`` is asked and before anything is read or written."""
    from safemigrate.backup.project import project_url

    started = time.monotonic()
    environ = os.environ if environ is None else environ
    config = _load_config(project_dir, config_file)
    # [clone] is parsed by parse_clone_config; until Config carries it, the defaults apply
    clone_config: CloneConfig = config.clone
    settings = config.database
    source = project_url(project_dir, database_url=database_url, schema_path=schema_path, environ=environ)
    target = _target_url(to_url)
    wanted = {**clone_config.masks, **(masks or {})}

    _refuse_same(source, target, settings)
    if target.schema != source.schema:
        # the restore recreates enums under the source's schema name and its column types name them
        # unqualified: a copy keeps its schema's name
        raise InputError(
            f"The --to URL selects schema {target.schema!r} but the source's is {source.schema!r}; "
            "a clone keeps the schema's name.",
            f"Set ?schema={source.schema} in the --to URL (or leave it out for public).",
        )
    names, column_masks, skipped = _check_source(source, settings, tables, wanted)
    salt = environ.get(clone_config.salt_env, "")
    plan = ClonePlan(
        source.display(), target.display(), names, column_masks, bool(salt), clone_config.salt_env, skipped
    )
    if confirm is not None and not confirm(plan):
        raise CloneRefusedError("Nothing was cloned.")

    with tempfile.TemporaryDirectory(prefix="safemigrate-clone-") as scratch:  # 0700, removed afterwards
        store = Path(scratch)
        taken = take_backup(
            source,
            store,
            settings=settings,
            tables=names,
            reason=Reason("manual", f"clone to {target.display()}"),
            project_dir=project_dir,
            progress=progress,
        )
        folder, manifest = find_backup(store, taken.id)
        entries = list(manifest.tables)
        check_files(folder, entries)
        with (
            connect(target, command="clone", settings=settings) as conn,
            database_errors(target, settings),
            conn.transaction(),
        ):
            ensure_schema(conn, target.schema)
            paused = pause_triggers(conn, target.schema, names)
            masking = MaskedLoad(column_masks, salt or DEFAULT_SALT)
            restored = restore_in_transaction(conn, target.schema, folder, entries, loader=masking)
            resume_triggers(conn, target.schema, paused)
    cloned = tuple(ClonedTable(t.name, t.rows, t.recreated) for t in restored)
    return CloneResult(
        source.display(),
        target.display(),
        cloned,
        sum(t.rows for t in cloned),
        tuple(sorted(masking.masked, key=lambda m: (m.table, m.column))),
        time.monotonic() - started,
        skipped,
    )


def _target_url(to_url: str) -> DatabaseUrl:
    from safemigrate.db.url import parse_database_url

    target = parse_database_url(to_url, source="--to")
    if target.pooled:
        raise DatabaseUrlError(
            f"The --to URL goes through a connection pooler ({target.pooled_reason}); a clone restores in one "
            "long transaction, which needs a direct connection.",
            "Pass the target's direct (non-pooled) connection string.",
        )
    return target


def _refuse_same(source: DatabaseUrl, target: DatabaseUrl, settings: DatabaseConfig) -> None:
    refusal = CloneRefusedError(
        f"The clone's target {target.display()} is the source database itself; nothing was cloned.",
        "Pass the URL of another database (staging) with --to.",
    )
    if same_address(source, target):
        raise refusal
    with (
        connect(source, command="clone", settings=settings) as source_conn,
        database_errors(source, settings),
    ):
        source_identity = read_identity(source_conn)
    with (
        connect(target, command="clone", settings=settings) as target_conn,
        database_errors(target, settings),
    ):
        target_identity = read_identity(target_conn)
    if same_database(source_identity, target_identity):
        raise refusal


def _check_source(
    source: DatabaseUrl, settings: DatabaseConfig, tables: Sequence[str] | None, wanted: Mapping[str, str]
) -> tuple[tuple[str, ...], tuple[ColumnMask, ...], tuple[str, ...]]:
    """The tables to copy, the masks that apply to them, and the partitioned tables and partitions
    left out (none when ``tables`` are named), checked against the source's catalog."""
    requested = [(*split_column(label, "--mask"), rule) for label, rule in wanted.items()]
    with connect(source, command="clone", settings=settings) as conn, database_errors(source, settings):
        available = schema_tables(conn, source.schema)
        partitioned = {p.name: p for p in partitioned_tables(conn, source.schema)}
        skipped: tuple[str, ...] = ()
        if tables is not None:
            names = list(dict.fromkeys(tables))
            named = next((partitioned[n] for n in names if n in partitioned), None)
            if named is not None:
                raise UnknownTableError(
                    f"Table {_partitioned_what(named)}; nothing was cloned.",
                    "Clone the other tables; copy this one with pg_dump.",
                )
            missing = [n for n in names if n not in available]
            if missing:
                raise UnknownTableError(
                    f"No table {', '.join(repr(n) for n in missing)} in schema {source.schema!r} of the source; "
                    "nothing was cloned.",
                    "Table names are case-sensitive and exactly as in the database.",
                )
        else:
            names = available
            skipped = tuple(partitioned)
        if not names:
            left_out = f" (partitioned tables are not copied yet: {', '.join(skipped)})" if skipped else ""
            raise UnknownTableError(f"There is no table to clone in schema {source.schema!r}{left_out}.", "")
        with conn.cursor(row_factory=class_row(_MaskColumn)) as cur:
            found = cur.execute(
                load_sql("mask_columns"),
                {"schema": source.schema, "tables": sorted({table for table, _, _ in requested})},
            ).fetchall()
    columns = {(c.table_name, c.column_name): c for c in found}
    checked: list[ColumnMask] = []
    for table, column, rule in requested:
        label = f"{table}.{column}"
        if table in partitioned and (tables is None or table in tables):
            raise InputError(
                f"--mask {label}: {_partitioned_what(partitioned[table])}: there is nothing to mask; "
                "nothing was cloned.",
                f"Remove the mask of {table}; its rows do not reach the target.",
            )
        if table in partitioned:
            continue  # left out by --tables, like any table: nothing to mask
        if table not in available:
            raise InputError(
                f"--mask {label}: there is no table {table!r} in schema {source.schema!r}; nothing was cloned.",
                "Table and column names are case-sensitive and exactly as in the database (for example User.email).",
            )
        info = columns.get((table, column))
        if info is None:
            raise InputError(
                f"--mask {label}: table {table!r} has no column {column!r}; nothing was cloned.",
                "Column names are case-sensitive and exactly as in the database.",
            )
        _check_fits(label, info, rule)
        if table in names:  # masks of tables left out of --tables have nothing to mask
            checked.append(ColumnMask(table, column, rule))
    return tuple(names), tuple(sorted(checked, key=lambda m: (m.table, m.column))), skipped


def _partitioned_what(row: PartitionRow) -> str:
    what = "a partitioned table" if row.partitioned else "a partition"
    return f"{row.name!r} is {what}, which clone does not copy yet (backups do not support partitioned tables)"


def _check_fits(label: str, info: _MaskColumn, rule_name: str) -> None:
    rule = RULES[rule_name]
    if info.generated:
        raise InputError(
            f"--mask {label}: the column is generated from others; nothing was cloned.",
            "Mask the columns it is computed from instead.",
        )
    if info.foreign_key is not None:
        raise InputError(
            f"--mask {label}: the column belongs to foreign key {info.foreign_key!r}, which masking would break; "
            "nothing was cloned.",
            "Mask columns that are not keys (emails, names, phones); joins on masked values still match.",
        )
    if rule.text_only and info.category != "S":
        raise InputError(
            f"--mask {label}={rule_name}: the column is {info.type}, not text; nothing was cloned.",
            "Use the null rule for columns that are not text.",
        )
    if rule.text_only and info.max_length is not None and info.max_length < rule.length:
        raise InputError(
            f"--mask {label}={rule_name}: the column is {info.type}, too short for the {rule.length} characters "
            "the rule writes; nothing was cloned.",
            "Use the null rule, or widen the column.",
        )
    if rule_name == "null" and info.not_null:
        raise InputError(
            f"--mask {label}=null: the column is NOT NULL; nothing was cloned.",
            f"Use another rule: {', '.join(r for r in RULES if r != 'null')}.",
        )
