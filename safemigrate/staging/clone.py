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
A table that inherits from a masked table gets its masks (``inherited_masks``): its rows are the
masked table's rows too, and the backup copies it as a table of its own.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.rows import class_row

from safemigrate.backup.ddl import (
    PartitionRow,
    column_difference,
    ensure_schema,
    partitioned_tables,
    read_columns,
    schema_tables,
)
from safemigrate.backup.manifest import Reason
from safemigrate.backup.restore import RestoredTable, check_files, read_in_backup_encoding, restore_in_transaction
from safemigrate.backup.store import find_backup
from safemigrate.backup.take import BackupProgressCallback, take_backup
from safemigrate.config import Config, DatabaseConfig
from safemigrate.db.connect import connect, database_errors
from safemigrate.db.inheritance import descendants
from safemigrate.db.url import DatabaseUrl
from safemigrate.errors import DatabaseUrlError, InputError, SafemigrateError, UnknownTableError
from safemigrate.staging.identity import load_sql, read_identity, same_address, same_database
from safemigrate.staging.masked_load import MaskedColumn, MaskedLoad, constraint_columns, mask_conflict
from safemigrate.staging.masks import RULES, CloneConfig, ColumnMask, check_salt, split_column
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
    salt_env: str  # the environment variable the masking salt is read from
    skipped_partitioned: tuple[str, ...] = ()  # partitioned tables and partitions left out, by name


@dataclass(frozen=True)
class ClonedTable:
    name: str
    rows: int
    created: bool  # the table was missing in the target and was created
    # What the restore could not give back (an INHERITS parent not there, a trigger whose function is
    # missing, a role...), one line each, as RestoredTable.warnings.
    warnings: tuple[str, ...] = ()


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


@dataclass(frozen=True)
class Lineage:
    """``table_name`` inherits from ``ancestor_name``, directly or through other tables."""

    ancestor_name: str
    table_name: str


Confirm = Callable[[ClonePlan], bool]


def _load_config(project_dir: Path, config_file: Path | None) -> Config:
    from safemigrate.config import load_config
    from safemigrate.lint.registry import rule_names
    from safemigrate.project import check_project_dir

    check_project_dir(project_dir)
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
    check_salt(column_masks, salt, clone_config.salt_env)
    _refuse_older_target(source, target, settings, names)
    plan = ClonePlan(source.display(), target.display(), names, column_masks, clone_config.salt_env, skipped)
    if confirm is not None and not confirm(plan):
        raise CloneRefusedError("Nothing was cloned.")

    try:
        masking, restored = _clone(project_dir, source, target, settings, names, column_masks, salt, progress)
    except SafemigrateError as err:
        cause = err.__cause__
        if column_masks and isinstance(cause, psycopg.errors.IntegrityError):
            conflict = _mask_conflict(source, target, settings, cause, column_masks)
            if conflict is not None:
                raise conflict from err
        raise
    cloned = tuple(ClonedTable(t.name, t.rows, t.recreated, t.warnings) for t in restored)
    return CloneResult(
        source.display(),
        target.display(),
        cloned,
        sum(t.rows for t in cloned),
        tuple(sorted(masking.masked, key=lambda m: (m.table, m.column))),
        time.monotonic() - started,
        skipped,
    )


def _clone(
    project_dir: Path,
    source: DatabaseUrl,
    target: DatabaseUrl,
    settings: DatabaseConfig,
    names: Sequence[str],
    column_masks: Sequence[ColumnMask],
    salt: str,
    progress: BackupProgressCallback | None,
) -> tuple[MaskedLoad, Sequence[RestoredTable]]:
    """The backup of ``names`` and its restore into ``target``, masked, in one transaction."""
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
            # A clone may go to a database of another encoding: its text is converted, not refused.
            read_in_backup_encoding(conn, manifest)
            paused = pause_triggers(conn, target.schema, names)
            masking = MaskedLoad(column_masks, salt)
            restored = restore_in_transaction(conn, target.schema, folder, entries, loader=masking)
            resume_triggers(conn, target.schema, paused)
    return masking, restored


def _mask_conflict(
    source: DatabaseUrl,
    target: DatabaseUrl,
    settings: DatabaseConfig,
    err: psycopg.errors.IntegrityError,
    masks: Sequence[ColumnMask],
) -> SafemigrateError | None:
    """The clone failed on a constraint (it was rolled back): the refusal naming the mask whose fakes
    it refused, or None. The constraint is looked up in the target (a table it has kept its own), else
    in the source (a table the clone created, and an index built after the load, as in the source)."""
    table, name = err.diag.table_name, err.diag.constraint_name
    columns: frozenset[str] = frozenset()
    if table is not None and name is not None:
        for url in (target, source):
            try:
                with connect(url, command="clone", settings=settings) as conn, database_errors(url, settings):
                    columns = constraint_columns(conn, url.schema, table, name)
            except SafemigrateError:
                return None  # the lookup failed: the constraint's own error stands
            if columns:
                break
    return mask_conflict(err, masks, columns)


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
        masked_tables = sorted({table for table, _, _ in requested})
        lineage = [
            Lineage(ancestor, table)
            for ancestor, below in descendants(conn, source.schema).items()
            if ancestor in masked_tables
            for table_schema, table in below
            if table_schema == source.schema
        ]
        with conn.cursor(row_factory=class_row(_MaskColumn)) as cur:
            found = cur.execute(
                load_sql("mask_columns"),
                {"schema": source.schema, "tables": sorted({*masked_tables, *(d.table_name for d in lineage)})},
            ).fetchall()
    columns = {(c.table_name, c.column_name): c for c in found}
    valid: list[ColumnMask] = []  # those the user named, on copied tables or not
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
        mask = ColumnMask(table, column, rule)
        _check_fits(mask, info)
        valid.append(mask)
    # masks of tables left out of --tables have nothing to mask, but their descendants may be copied
    checked = [m for m in valid if m.table in names]
    for mask in inherited_masks(valid, lineage, names):
        inherited = columns.get((mask.table, mask.column))
        assert inherited is not None  # an inherited column can be neither dropped nor renamed in a child
        _check_fits(mask, inherited)
        checked.append(mask)
    return tuple(names), tuple(sorted(checked, key=lambda m: (m.table, m.column))), skipped


def inherited_masks(
    named: Sequence[ColumnMask], lineage: Sequence[Lineage], copied: Collection[str]
) -> tuple[ColumnMask, ...]:
    """The masks that copied tables get from the tables they inherit from: a table's rows are its
    ancestors' rows too (SELECT from "User" returns those of "Admin" INHERITS ("User")), and the
    backup copies each table on its own, so a mask of "User".email must reach "Admin".email, which
    is that column (inherited columns keep the parent's name). A mask named on the table itself wins;
    otherwise the nearest masked ancestor's: "Admin"'s own over "User"'s for a child of "Admin".
    Two unrelated ancestors (multiple inheritance) with different rules for one column are refused."""
    ancestors: dict[str, set[str]] = {}
    for row in lineage:
        ancestors.setdefault(row.table_name, set()).add(row.ancestor_name)
    own = {(m.table, m.column) for m in named}
    found: list[ColumnMask] = []
    for table in sorted(set(copied) & set(ancestors)):
        from_ancestors: dict[str, list[ColumnMask]] = {}
        for mask in named:
            if mask.table in ancestors[table] and (table, mask.column) not in own:
                from_ancestors.setdefault(mask.column, []).append(mask)
        for column, candidates in sorted(from_ancestors.items()):
            nearest = sorted(
                (m for m in candidates if not any(m.table in ancestors.get(o.table, ()) for o in candidates)),
                key=lambda m: m.label,
            )
            if len({m.rule for m in nearest}) > 1:
                first, second = nearest[0], next(m for m in nearest if m.rule != nearest[0].rule)
                raise InputError(
                    f"--mask {first.label}={first.rule} and --mask {second.label}={second.rule} both apply to "
                    f"{table}.{column}: {table!r} inherits both columns; nothing was cloned.",
                    f"Choose its rule with --mask {table}.{column}=RULE.",
                )
            found.append(ColumnMask(table, column, nearest[0].rule, inherited_from=nearest[0].label))
    return tuple(found)


def _partitioned_what(row: PartitionRow) -> str:
    what = "a partitioned table" if row.partitioned else "a partition"
    return f"{row.name!r} is {what}, which clone does not copy yet (backups do not support partitioned tables)"


def _check_fits(mask: ColumnMask, info: _MaskColumn) -> None:
    """Refuse ``mask`` unless its rule can write ``info``'s column (a named mask, or one a table
    inherits: then the sentence names the mask the user wrote and the table it reaches)."""
    rule_name = mask.rule
    rule = RULES[rule_name]
    if mask.inherited_from is None:
        label, with_rule, also = mask.label, f"{mask.label}={rule_name}", ""
    else:
        parent = mask.inherited_from.rpartition(".")[0]
        label = with_rule = (
            f"{mask.inherited_from}={rule_name} applies to {mask.label} too ({mask.table!r} inherits from {parent!r})"
        )
        also = f" Or give {mask.label} a mask of its own: --mask {mask.label}=RULE."
    if info.generated:
        raise InputError(
            f"--mask {label}: the column is generated from others; nothing was cloned.",
            "Mask the columns it is computed from instead." + also,
        )
    if info.foreign_key is not None:
        raise InputError(
            f"--mask {label}: the column belongs to foreign key {info.foreign_key!r}, which masking would break; "
            "nothing was cloned.",
            "Mask columns that are not keys (emails, names, phones); joins on masked values still match." + also,
        )
    if rule.text_only and info.category != "S":
        raise InputError(
            f"--mask {with_rule}: the column is {info.type}, not text; nothing was cloned.",
            "Use the null rule for columns that are not text." + also,
        )
    if rule.text_only and info.max_length is not None and info.max_length < rule.length:
        raise InputError(
            f"--mask {with_rule}: the column is {info.type}, too short for the {rule.length} characters "
            "the rule writes; nothing was cloned.",
            "Use the null rule, or widen the column." + also,
        )
    if rule_name == "null" and info.not_null:
        raise InputError(
            f"--mask {with_rule}: the column is NOT NULL; nothing was cloned.",
            f"Use another rule: {', '.join(r for r in RULES if r != 'null')}." + also,
        )


def _refuse_older_target(
    source: DatabaseUrl, target: DatabaseUrl, settings: DatabaseConfig, names: Sequence[str]
) -> None:
    """Before the backup: a table the target has already must take the source's rows as they are
    (the restore refuses it too, but only after the backup has been taken)."""
    with connect(target, command="clone", settings=settings) as conn, database_errors(target, settings):
        present = sorted(set(schema_tables(conn, target.schema)) & set(names))
        in_target = {table: read_columns(conn, target.schema, table) for table in present}
    if not in_target:
        return
    with connect(source, command="clone", settings=settings) as conn, database_errors(source, settings):
        in_source = {table: read_columns(conn, source.schema, table) for table in present}
    for table in present:
        difference = column_difference(table, in_source[table], in_target[table], "source")
        if difference is not None:
            raise CloneRefusedError(
                f"{difference}; nothing was cloned.",
                "Run the migrations on the target first (it must have the source's schema), "
                "or drop its tables so that the clone creates them.",
            )
