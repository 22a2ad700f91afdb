"""Masked tables reach the clone's target already masked: their raw rows never enter its tables.

For a table with masks, the data file is loaded into a temporary table of the clone's session
(``CREATE TEMPORARY TABLE``: never WAL-logged, seen by no other session, dropped here and in any
case at the end of the session), checked there against the backup's count and fingerprint, and
only then copied into the real table with ``INSERT ... SELECT``, the masked columns replaced by
their fakes on the way (the salt read from a temporary table too, filled by ``COPY``: see
``masks``). The temporary table has the real table's columns (in its order, with its generated
columns) but no constraint, not even NOT NULL: a raw row is never rejected there, where the
server's error ("Failing row contains ...") would carry its raw values into the target's log; only
masked rows meet the real table's constraints. The real table, its indexes and the WAL therefore
only ever receive masked values (an ``UPDATE`` after the load would leave the raw row versions in
the table's files until VACUUM, and in the WAL). The result is checked again: as many rows as the
backup holds, and in each masked column as many values as were masked (none for ``null``);
otherwise the clone is refused and rolled back rather than report masked what is not.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import zstandard
from psycopg import sql

from safemigrate.backup.manifest import TableEntry
from safemigrate.backup.take import CHUNK, copy_statement, text_copy_settings
from safemigrate.db.fingerprint import DataFingerprint, TableFingerprint, compare_tables, fingerprint
from safemigrate.errors import EXIT_CHECK_FAILED, EXIT_USAGE, RestoreMismatchError, SafemigrateError
from safemigrate.staging.identity import load_sql
from safemigrate.staging.masks import SALT_TABLE, ColumnMask, insert_statement


class MaskCheckError(SafemigrateError):
    """After a masked load, the target does not hold what masking should have written: rolled back."""

    exit_code = EXIT_CHECK_FAILED


class MaskConflictError(SafemigrateError):
    """A constraint of the target refused the fakes of a mask: rolled back, nothing cloned."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class MaskedColumn:
    table: str
    column: str
    rule: str
    values: int  # non-NULL values replaced
    inherited_from: str | None = None  # as ColumnMask.inherited_from


class MaskedLoad:
    """The loader a clone hands to ``restore_in_transaction`` (a ``TableLoader``): it takes over the
    tables that have masks and keeps what it masked, in load order, in ``masked``."""

    def __init__(self, masks: Sequence[ColumnMask], salt: str) -> None:
        self._by_table: dict[str, list[ColumnMask]] = {}
        for mask in masks:
            self._by_table.setdefault(mask.table, []).append(mask)
        self._salt = salt
        self._salt_loaded = False
        self.masked: list[MaskedColumn] = []

    def __call__(self, conn: psycopg.Connection[Any], schema: str, entry: TableEntry, path: Path) -> bool:
        masks = self._by_table.get(entry.name)
        if not masks:
            return False
        if not self._salt_loaded and any(m.rule != "null" for m in masks):
            load_salt(conn, self._salt)
            self._salt_loaded = True
        self.masked.extend(load_masked(conn, schema, entry, path, masks))
        return True


def load_salt(conn: psycopg.Connection[Any], salt: str) -> None:
    """``salt`` into ``SALT_TABLE``, in the session's temporary schema, for the masking SQL to read,
    through ``COPY FROM STDIN``: its data is not logged, where a bind parameter or a literal would
    be (``log_statement``, ``log_min_duration_statement``). Dropped at the end of the transaction."""
    table = sql.Identifier("pg_temp", SALT_TABLE)
    conn.execute(sql.SQL("CREATE TEMPORARY TABLE {} (salt text NOT NULL) ON COMMIT DROP").format(table))
    with conn.cursor() as cur, cur.copy(sql.SQL("COPY {} (salt) FROM STDIN").format(table)) as copy:
        copy.write_row((salt,))


def load_masked(
    conn: psycopg.Connection[Any],
    schema: str,
    entry: TableEntry,
    path: Path,
    masks: Sequence[ColumnMask],
) -> tuple[MaskedColumn, ...]:
    """Load ``entry``'s data file into its (created or emptied) table with ``masks`` applied, as the
    module docstring says, in the caller's open transaction (where ``load_salt`` has run when a
    mask derives fakes)."""
    table = sql.Identifier(schema, entry.name)
    # Same name, in the session's temporary schema; dropped before any other statement could name it
    # unqualified. Generated columns are computed there too: the fingerprint covers them. LIKE copies
    # no constraint but NOT NULL, dropped right away (module docstring).
    conn.execute(
        sql.SQL("CREATE TEMPORARY TABLE {} (LIKE {} INCLUDING GENERATED)").format(sql.Identifier(entry.name), table)
    )
    row = conn.execute(b"SELECT nspname FROM pg_namespace WHERE oid = pg_my_temp_schema()").fetchone()
    assert row is not None
    temp_schema = str(row[0])
    staged = sql.Identifier(temp_schema, entry.name)
    not_null = [
        str(r[0])
        for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
            "AND attnotnull ORDER BY attnum",
            [staged.as_string(conn)],
        )
    ]
    if not_null:
        conn.execute(
            sql.SQL("ALTER TABLE {} {}").format(
                staged,
                sql.SQL(", ").join(
                    sql.SQL("ALTER COLUMN {} DROP NOT NULL").format(sql.Identifier(c)) for c in not_null
                ),
            )
        )
    _copy_in(conn, temp_schema, entry, path)
    loaded = _check_loaded(conn, temp_schema, entry)
    inserted = conn.execute(insert_statement(schema, entry.name, entry.ddl.copy_columns, masks, staged)).rowcount
    counts = conn.execute(
        sql.SQL("SELECT count(*), {} FROM ONLY {}").format(
            sql.SQL(", ").join(sql.SQL("count({})").format(sql.Identifier(m.column)) for m in masks), table
        )
    ).fetchone()
    assert counts is not None
    conn.execute(sql.SQL("DROP TABLE {}").format(staged))
    expected = [(m, _non_null(loaded, m.column)) for m in masks]
    shortfall = masking_shortfall(
        entry.name, loaded.rows, inserted, int(counts[0]), expected, [int(n) for n in counts[1:]]
    )
    if shortfall is not None:
        raise MaskCheckError(
            f"Masking table {entry.name!r} could not be verified: {shortfall}; the clone was rolled back, nothing "
            "was cloned.",
            f"Check the target's row-level security policies and rules on {entry.name!r}.",
        )
    return tuple(MaskedColumn(m.table, m.column, m.rule, n, m.inherited_from) for m, n in expected)


def masking_shortfall(
    table: str,
    rows: int,
    inserted: int,
    found: int,
    expected: Sequence[tuple[ColumnMask, int]],
    found_values: Sequence[int],
) -> str | None:
    """Why the masked table cannot be trusted, or None: ``rows`` were loaded and checked, ``inserted``
    were written masked and the table then holds ``found``; each mask's column held ``expected``
    non-NULL values before masking and ``found_values`` after (a ``null`` mask must leave none)."""
    if inserted != rows:
        return f"only {inserted} of {rows} rows of {table!r} were written masked"
    if found != rows:
        return f"table {table!r} holds {found} rows after masking, not the {rows} loaded"
    for (mask, before), after in zip(expected, found_values, strict=True):
        wanted = 0 if mask.rule == "null" else before
        if after != wanted:
            return f"{mask.label} holds {after} values after masking, not {wanted}"
    return None


_REFUSING = {
    "23505": (
        "unique index",
        "Mask a unique column with a rule whose fakes are practically unique (email, phone or hash).",
    ),
    "23514": (
        "check constraint",
        "Mask the column with a rule whose fakes the constraint accepts, or relax it in the target.",
    ),
    "23P01": ("exclusion constraint", "Mask the column with another rule, or drop the constraint in the target."),
}


def constraint_columns(conn: psycopg.Connection[Any], schema: str, table: str, name: str) -> frozenset[str]:
    """The columns of ``schema``.``table`` that its constraint or index ``name`` covers (none when it
    has no such constraint or index)."""
    params = {"table": sql.Identifier(schema, table).as_string(conn), "name": name}
    return frozenset(str(r[0]) for r in conn.execute(load_sql("mask_constraint_columns"), params))


def mask_conflict(err: psycopg.Error, masks: Sequence[ColumnMask], columns: frozenset[str]) -> MaskConflictError | None:
    """The refusal to give when ``err`` (a constraint violation of the clone) comes from a mask's
    fakes: a unique, check or exclusion constraint covering ``columns`` (those of the constraint
    ``err`` names) that include a masked column, or NOT NULL on a column the null rule empties;
    None when no mask is involved."""
    table, name = err.diag.table_name, err.diag.constraint_name
    if err.sqlstate == "23502":
        culprit = next((m for m in masks if m.table == table and m.column == err.diag.column_name), None)
        if culprit is None or culprit.rule != "null":
            return None
        kind, hint, name = "NOT NULL of column", "Use another rule than null for that column.", culprit.column
    elif err.sqlstate in _REFUSING and name is not None:
        culprit = next((m for m in masks if m.table == table and m.column in columns and m.rule != "null"), None)
        if culprit is None:
            return None
        kind, hint = _REFUSING[err.sqlstate]
    else:
        return None
    written = f"{culprit.label}={culprit.rule}" + (
        f" (inherited from {culprit.inherited_from})" if culprit.inherited_from else ""
    )
    return MaskConflictError(
        f"The fakes of mask {written} break {kind} {name!r} of table {table!r} in the target; the clone was "
        "rolled back, nothing was cloned.",
        hint,
    )


def _copy_in(conn: psycopg.Connection[Any], schema: str, entry: TableEntry, path: Path) -> None:
    """Stream the data file into ``schema``.``entry.name`` (as the restore's own load does)."""
    statement = copy_statement(schema, entry.name, entry.ddl, "in", entry.copy_format)
    with (
        text_copy_settings(conn) if entry.copy_format == "text" else contextlib.nullcontext(),
        path.open("rb") as raw,
        zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True) as reader,
        conn.cursor() as cur,
        cur.copy(statement) as copy,
    ):
        while block := reader.read(CHUNK):
            copy.write(block)


def _check_loaded(conn: psycopg.Connection[Any], temp_schema: str, entry: TableEntry) -> TableFingerprint:
    """The staged rows' fingerprint, refused (as the restore's verification does) unless it is the
    backup's: over the backup's columns in the backup's order, as ``restore._verify`` does (the target's
    table, whose columns the temporary one has, may hold them in another order, and others besides)."""
    expected = DataFingerprint.from_dict(entry.fingerprint).tables[0]
    order = {entry.name: [c.name for c in expected.columns]}
    got = fingerprint(conn, schema=temp_schema, tables=[entry.name], mode="full", column_order=order).tables[0]
    differences = compare_tables(expected, got)
    if differences:
        raise RestoreMismatchError(
            f"After restoring, table {entry.name!r} differs from the backup ({differences[0].describe()}); "
            "the restore was rolled back.",
            "The target's column types or collations may differ from the backed-up database's.",
        )
    return got


def _non_null(loaded: TableFingerprint, column: str) -> int:
    found = loaded.column(column)
    assert found is not None  # the masked column exists in the target (checked by the restore)
    return found.non_null
