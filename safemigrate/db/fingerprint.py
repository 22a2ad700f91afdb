"""Data fingerprints: per table, the exact row count and an order-independent hash of all rows; per
column, the non-null count and an order-independent hash of the values. Computed in the server:
no row is shipped to Python, only one result row per table (or per block range of a big table).

How a value is hashed
    ``hashtextextended(CAST(value AS text) COLLATE "C", 0)``: 64 bits of PostgreSQL's built-in
    ``hash_any_extended`` over the bytes of the value's text form (in the database encoding). The
    text form is the type's output function (or its cast to text), so the fingerprint sees exactly
    what PostgreSQL would print, with the settings that change that text pinned (see
    ``sql/fingerprint_session.sql``: TimeZone UTC, DateStyle ISO, IntervalStyle postgres,
    extra_float_digits 1, bytea_output hex, lc_monetary C, search_path pg_catalog). Consequences,
    chosen on purpose because a fingerprint must notice any change a migration makes to stored values:

    - ``numeric``: ``1.0`` and ``1.00`` differ (a scale change, e.g. ``numeric(10,2)`` rounding, is a
      change of the stored value); NaN and ±Infinity are values like any other; huge values are exact.
    - ``float4``/``float8``: shortest exact text (extra_float_digits 1), so any change of the stored
      bits shows, ``-0`` differs from ``0``, every NaN is the one ``NaN``, ``Infinity`` is a value.
    - ``timestamptz``: the instant in UTC, independent of the session's TimeZone; ``timestamp``,
      ``date``, ``interval``: ISO text, independent of DateStyle/IntervalStyle.
    - ``text``/``varchar``: the bytes (any Unicode; NFC and NFD spellings differ). ``COLLATE "C"``
      makes the hash bytewise even for a column with a nondeterministic (case-insensitive) collation,
      where ``'a'`` and ``'A'`` compare equal but are different data. ``char(n)`` is compared without
      its trailing padding (its cast to text drops it; padding is not data in ``char(n)``).
    - ``json`` keeps its text (whitespace and key order count); ``jsonb`` is normalised by PostgreSQL
      (key order does not count). ``bytea`` in hex. Enums by label (not by OID: the same data hashes
      the same on another server). Arrays and composite values by their text, which tells a NULL
      element or field apart from the string ``'NULL'`` or ``''``.
    - Text is hashed in the server's encoding: fingerprints compare between databases of one encoding.

How hashes are combined
    A column hash is the sum, modulo 2**64, of its non-null values' hashes; it comes with the
    non-null count. The row hash of one row chains its column hashes through a keyed 64-bit mix:
    ``r = hashint8extended(is_null_i, r # h_i)`` column after column (the 64-bit ``r # h_i`` is the
    *seed*, which ``hash_uint32_extended`` mixes in full; the first argument tells NULL apart from any
    value). It is not linear in the column hashes, so swapping values between rows changes the table's
    hash even though each column keeps the same values. The table's row hash is the sum, modulo
    2**64, of its row hashes.

    Sums, not XOR: XOR cancels pairs, so two identical rows would weigh nothing and ``{a,a,b,b}``
    would equal ``{c,c,d,d}``; a sum counts every copy (``2·h(a)`` differs from ``h(a)``), and the
    exact row count is reported beside it. A difference between two multisets of rows goes unnoticed
    only if the sums of their 64-bit hashes agree modulo 2**64: about one chance in 1.8·10^19 for
    any given change (``hashtextextended`` is not cryptographic: this guards against accidents, not
    against someone crafting collisions). Sums are additive, which lets a big table be scanned in
    block ranges whose partial results add up to the same fingerprint.

How it runs
    Everything happens in one read-only REPEATABLE READ transaction (all tables at one snapshot), or
    in a savepoint when the connection is already inside a transaction (so a migration can be
    fingerprinted before it commits, its own uncommitted changes included); either is rolled back at
    the end, which also undoes the pinned settings. One statement per table computes every hash in
    one scan (a subquery computes each value's hash once; a volatile ``clock_timestamp()`` column
    keeps PostgreSQL from flattening it, which would compute each hash twice, while leaving parallel
    scans possible). The row hash of a table wider than 100 columns is chained 100 columns per
    subquery, each handing its partial chain on to the next: no expression nests deeper than 100
    calls (1,600 nested calls would need most of the server's default 2 MB ``max_stack_depth``);
    a table of over 831 columns is read without parallel workers (their partial sums, two per column,
    would not fit in the 1,664 values a row may hold).
    A boolean column has two text forms and an enum column one per label: their hashes are
    constants the planner computes once, and a CASE picks one per row (for an enum of up
    to 12 labels), instead of converting and hashing every value; the numbers are the same (a value
    no label matches takes the text path). Tables bigger than ``chunk_bytes`` are read in block ranges (``ctid`` range
    scans, PostgreSQL 14+, own REPEATABLE READ snapshot needed) so that progress can be reported
    within the table; the result is the same either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.rows import class_row, tuple_row

from safemigrate.db import load_sql
from safemigrate.db.catalog import OLDEST_SUPPORTED_MAJOR
from safemigrate.errors import InputError, ProjectError, UnknownTableError, UnsupportedServerError

Mode = Literal["fast", "full"]
Scope = Literal["all", "from", "between"]
_SCOPES = {
    "all": "",
    "from": " WHERE ctid >= %(lo)s::tid",
    "between": " WHERE ctid >= %(lo)s::tid AND ctid < %(hi)s::tid",
}
MODES: tuple[Mode, ...] = ("fast", "full")
FORMAT_VERSION = 1
HASH_BITS = 64
DEFAULT_CHUNK_BYTES = 1 << 30  # tables above 1 GiB are scanned (and reported) in 1 GiB block ranges
_MODULUS = 1 << HASH_BITS
_MIN_MAJOR_FOR_RANGES = 14  # TID range scans
_SCANNABLE = {"r": "table", "p": "partitioned table", "m": "materialized view"}
_KIND_NAMES = {"v": "view", "f": "foreign table", "S": "sequence", "i": "index", "c": "composite type"}


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class ColumnFingerprint:
    name: str
    non_null: int
    value_hash: str | None  # 16 hex digits; None in fast mode


@dataclass(frozen=True)
class TableFingerprint:
    schema: str
    table: str
    rows: int
    row_hash: str | None  # 16 hex digits; None in fast mode
    columns: tuple[ColumnFingerprint, ...]

    def column(self, name: str) -> ColumnFingerprint | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class DataFingerprint:
    """The fingerprints of some tables of one schema, taken at one snapshot."""

    schema: str
    mode: Mode
    tables: tuple[TableFingerprint, ...]
    server_major: int = 0

    def table(self, name: str) -> TableFingerprint | None:
        return next((t for t in self.tables if t.table == name), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (also what backups store); :meth:`from_dict` reads it back."""
        return {
            "version": FORMAT_VERSION,
            "schema": self.schema,
            "mode": self.mode,
            "server_major": self.server_major,
            "tables": [
                {
                    "table": t.table,
                    "rows": t.rows,
                    "row_hash": t.row_hash,
                    "columns": [
                        {"name": c.name, "non_null": c.non_null, "value_hash": c.value_hash} for c in t.columns
                    ],
                }
                for t in self.tables
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataFingerprint:
        if data.get("version") != FORMAT_VERSION or data.get("mode") not in MODES:
            raise InputError(
                "Not a safemigrate data fingerprint (version 1).", "Use a file written by safemigrate fingerprint."
            )
        schema = str(data["schema"])
        tables = tuple(
            TableFingerprint(
                schema,
                str(t["table"]),
                int(t["rows"]),
                t["row_hash"],
                tuple(ColumnFingerprint(str(c["name"]), int(c["non_null"]), c["value_hash"]) for c in t["columns"]),
            )
            for t in data["tables"]
        )
        return cls(schema, data["mode"], tables, int(data.get("server_major", 0)))


@dataclass(frozen=True)
class FingerprintProgress:
    """Reported when a table starts, after each block range of a big table, and when it is done."""

    schema: str
    table: str
    table_index: int  # 1-based
    table_count: int
    bytes_done: int  # of bytes_total: heap pages read so far (0 until done when scanned in one go)
    bytes_total: int  # heap size when the scan started (sum over partitions)
    rows_done: int  # rows counted so far in this table
    estimated_rows: int | None  # from the statistics; None when never analyzed
    finished: bool
    elapsed: float  # seconds since this table started
    ranges: int = 1  # statements this table is read in (1: nothing between the start and the end)

    @property
    def fraction(self) -> float:
        if self.finished:
            return 1.0
        return min(self.bytes_done / self.bytes_total, 1.0) if self.bytes_total else 0.0


ProgressCallback = Callable[[FingerprintProgress], None]


# ---------------------------------------------------------------------------------------------
# Taking fingerprints


@dataclass(frozen=True)
class _TableRow:
    name: str
    kind: str
    estimated_rows: float
    heap_bytes: int
    block_size: int


@dataclass(frozen=True)
class _ColumnRow:
    relation: str
    name: str
    kind: str = ""  # "bool", "enum" (with few labels) or "": how its values' hashes are computed
    labels: list[str] | None = None  # an enum's labels


# An enum with at most this many labels has its hashes picked by a CASE over its labels; with more,
# the comparisons would cost more than the cast to text they save.
_ENUM_CASE_LABELS = 12

# A row hash chains one hashint8extended call per column, each nested in the next. The server spends
# about 1 kB of its stack per level (max_stack_depth: 2 MB by default, superusers only), so 1,600
# columns in one expression come close to "stack depth limit exceeded": a wider table's chain is
# computed this many columns per subquery, each handing its result on to the next (same numbers).
_CHAIN_STAGE = 100
_MAX_ROW_VALUES = 1664  # PostgreSQL's MaxTupleAttributeNumber: values in one row of a result or between plan nodes


def fingerprint(
    conn: psycopg.Connection[Any],
    *,
    schema: str = "public",
    tables: Sequence[str] | None = None,
    mode: Mode = "full",
    progress: ProgressCallback | None = None,
    chunk_bytes: int | None = DEFAULT_CHUNK_BYTES,
    column_order: Mapping[str, Sequence[str]] | None = None,
) -> DataFingerprint:
    """Fingerprint ``tables`` of ``schema`` (default: every table of the schema, see
    ``sql/fingerprint_tables.sql``), in the order given (default: by name, code-point order).

    ``mode`` ``fast`` counts rows and non-null values only; ``full`` hashes them too. ``progress``
    is called as the module docstring says; ``chunk_bytes`` None scans every table in one statement.
    ``column_order`` (table -> column names) fingerprints those columns of a table, chaining its row
    hash in that order instead of the table's own, when it names only columns the table has, each
    once: the same rows give the same row hash in a table whose columns stand in another order (a
    restore into such a table, or an inheritance child that ``pg_dump`` recreated with its parent's
    columns first), or that has columns besides (a restore into a table a migration added one to).
    Raises UnknownTableError for a name that is not a table of the schema."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    major = conn.info.server_version // 10000
    if major < OLDEST_SUPPORTED_MAJOR:
        raise UnsupportedServerError(
            f"PostgreSQL {major} is too old for data fingerprints.",
            f"safemigrate supports PostgreSQL {OLDEST_SUPPORTED_MAJOR} and later.",
        )
    names = None if tables is None else list(dict.fromkeys(tables))
    outer = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with conn.transaction(force_rollback=True):
        if outer:
            conn.execute(b"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        conn.execute(load_sql("fingerprint_session").encode())
        targets = _targets(conn, schema, names)
        rows = _columns(conn, schema, [t.name for t in targets])
        columns = {table: [r.name for r in found] for table, found in rows.items()}
        for table, order in (column_order or {}).items():
            if len(set(order)) == len(order) and set(order) <= set(columns.get(table, ())):
                columns[table] = list(order)
        isolation = conn.execute(b"SHOW transaction_isolation").fetchone()
        stable_snapshot = isolation is not None and isolation[0] in ("repeatable read", "serializable")
        ranges_ok = stable_snapshot and major >= _MIN_MAJOR_FOR_RANGES and chunk_bytes is not None
        results = tuple(
            _fingerprint_table(
                conn,
                schema,
                target,
                tuple(columns.get(target.name, ())),
                mode,
                index,
                len(targets),
                progress,
                chunk_bytes if ranges_ok else None,
                {r.name: r for r in rows.get(target.name, ())},
            )
            for index, target in enumerate(targets, start=1)
        )
    return DataFingerprint(schema, mode, results, major)


def _targets(conn: psycopg.Connection[Any], schema: str, names: list[str] | None) -> list[_TableRow]:
    with conn.cursor(row_factory=class_row(_TableRow)) as cur:
        found = cur.execute(load_sql("fingerprint_tables"), {"schema": schema, "tables": names}).fetchall()
    if names is None:
        return found
    by_name = {t.name: t for t in found}
    missing = [n for n in names if n not in by_name]
    if missing:
        listed = ", ".join(f'"{n}"' for n in missing)
        raise UnknownTableError(
            f'No table{"s" if len(missing) > 1 else ""} {listed} in schema "{schema}".',
            "Table names are case-sensitive and exactly as in the database (Prisma's @@map name when there is one).",
        )
    for name in names:
        kind = by_name[name].kind
        if kind not in _SCANNABLE:
            raise UnknownTableError(
                f'"{schema}"."{name}" is a {_KIND_NAMES.get(kind, "relation of kind " + kind)}, not a table.',
                "Only tables, partitioned tables and materialized views have data fingerprints.",
            )
    return [by_name[n] for n in names]


def _columns(conn: psycopg.Connection[Any], schema: str, names: list[str]) -> dict[str, list[_ColumnRow]]:
    found: dict[str, list[_ColumnRow]] = {}
    params = {"schema": schema, "tables": names, "max_labels": _ENUM_CASE_LABELS}
    with conn.cursor(row_factory=class_row(_ColumnRow)) as cur:
        for row in cur.execute(load_sql("fingerprint_columns"), params):
            found.setdefault(row.relation, []).append(row)
    return found


def fingerprint_query(
    schema: str,
    table: str,
    kind: str,
    columns: Sequence[str],
    mode: Mode,
    scope: Scope = "all",
    types: Mapping[str, _ColumnRow] | None = None,
) -> sql.Composed:
    """The one statement that fingerprints a table (``all``), or its blocks from ``%(lo)s`` on
    (``from``), or those in ``[%(lo)s, %(hi)s)`` (``between``); bounds are tids ``(block,0)``.
    Result: fast mode, rows then each column's non-null count; full mode, rows, the row-hash sum,
    the array of the columns' non-null counts and the array of their hash sums (arrays: a row holds
    at most 1,664 values, fewer than two per column of a 1,600-column table). Sums are numeric, NULL
    over no rows. It expects ``fingerprint_session.sql``.
    ``types`` (column -> its row of ``fingerprint_columns.sql``) lets boolean and few-label enum
    columns take their hashes from constants (:func:`_value_hash`); the result is the same."""
    relation = sql.SQL("{only}{name}").format(
        only=sql.SQL("ONLY " if kind != "p" else ""), name=sql.Identifier(schema, table)
    )
    where = sql.SQL(_SCOPES[scope])
    if mode == "fast":
        counts = [sql.SQL("count({})").format(sql.Identifier(c)) for c in columns]
        return sql.SQL("SELECT {} FROM {}{}").format(
            sql.SQL(", ").join([sql.SQL("count(*)"), *counts]), relation, where
        )
    aliases = [sql.Identifier(f"h{i}") for i in range(len(columns))]
    hashes = [
        sql.SQL("{} AS {}").format(_value_hash(c, (types or {}).get(c)), aliases[i]) for i, c in enumerate(columns)
    ]
    # the volatile column keeps each subquery from being flattened into the query above it
    keep = sql.SQL("clock_timestamp() AS keep_subquery")
    source = sql.SQL("(SELECT {hashes} FROM {relation}{where}) AS s").format(
        hashes=sql.SQL(", ").join([*hashes, keep]), relation=relation, where=where
    )
    stages = [aliases[start : start + _CHAIN_STAGE] for start in range(0, len(aliases), _CHAIN_STAGE)] or [[]]
    chain: sql.Composable = sql.SQL("0::int8")
    for number, stage in enumerate(stages[:-1], start=1):
        source = sql.SQL("(SELECT {chain} AS r, {aliases}, {keep} FROM {source}) AS {name}").format(
            chain=_chain(stage, chain),
            aliases=sql.SQL(", ").join(aliases),
            keep=keep,
            source=source,
            name=sql.Identifier(f"s{number}"),
        )
        chain = sql.Identifier("r")
    return sql.SQL(
        "SELECT count(*), sum({chain}), ARRAY[{counts}]::int8[], ARRAY[{sums}]::numeric[] FROM {source}"
    ).format(
        chain=_chain(stages[-1], chain),
        counts=sql.SQL(", ").join(sql.SQL("count({})").format(alias) for alias in aliases),
        sums=sql.SQL(", ").join(sql.SQL("sum({})").format(alias) for alias in aliases),
        source=source,
    )


def _chain(aliases: Sequence[sql.Identifier], start: sql.Composable) -> sql.Composed:
    """The row hash chained from ``start`` through the value hashes ``aliases`` (module docstring):
    ``hashint8extended(is_null_1, hashint8extended(is_null_0, start # h_0) # h_1)``... written as one
    flat run of SQL parts, opening calls then closing ones (psycopg renders a nested Composed
    recursively, one Python frame per level)."""
    # CASE rather than ``(h IS NULL)::int4``: the same int8 argument without two casts per value
    # (about a tenth of the query's time on a wide table)
    opening = sql.SQL("hashint8extended(CASE WHEN {} IS NULL THEN 1::int8 ELSE 0::int8 END, ")
    return sql.Composed(
        [
            *(opening.format(alias) for alias in reversed(aliases)),
            start,
            *(sql.SQL(" # coalesce({}, 0))").format(alias) for alias in aliases),
        ]
    )


def _text_hash(value: sql.Composable) -> sql.Composed:
    return sql.SQL('hashtextextended(CAST({} AS text) COLLATE "C", 0)').format(value)


def _value_hash(column: str, row: _ColumnRow | None) -> sql.Composable:
    """The hash of one value of ``column``: of its text form (module docstring). A boolean has two text
    forms, an enum one per label: their hashes are constants (the planner computes each once), picked
    per row by a CASE instead of converting and hashing every value. The same numbers either way;
    NULL stays NULL, and a value no label matches takes the general path."""
    ident = sql.Identifier(column)
    general = _text_hash(ident)
    if row is not None and row.kind == "bool":
        return sql.SQL("CASE WHEN {c} THEN {t} WHEN NOT {c} THEN {f} END").format(
            c=ident, t=_text_hash(sql.Literal("true")), f=_text_hash(sql.Literal("false"))
        )
    if row is not None and row.kind == "enum" and row.labels:
        picks = sql.SQL(" ").join(
            sql.SQL("WHEN {} THEN {}").format(sql.Literal(label), _text_hash(sql.Literal(label)))
            for label in row.labels
        )
        return sql.SQL("CASE {} {} ELSE {} END").format(ident, picks, general)
    return general


def _ranges(pages: int, chunk_pages: int) -> list[tuple[str, str | None]]:
    """Block ranges covering ``pages`` (the last one open-ended: rows the snapshot sees are all
    below the size read after it was taken, and anything beyond is read too)."""
    starts = list(range(0, pages, chunk_pages)) or [0]
    return [(f"({start},0)", f"({start + chunk_pages},0)" if start + chunk_pages < pages else None) for start in starts]


def _fingerprint_table(
    conn: psycopg.Connection[Any],
    schema: str,
    target: _TableRow,
    columns: tuple[str, ...],
    mode: Mode,
    index: int,
    count: int,
    progress: ProgressCallback | None,
    chunk_bytes: int | None,
    types: Mapping[str, _ColumnRow] | None = None,
) -> TableFingerprint:
    started = time.monotonic()
    estimated = int(target.estimated_rows) if target.estimated_rows >= 0 else None
    pages = target.heap_bytes // target.block_size
    chunk_pages = max(1, (chunk_bytes or 0) // target.block_size)
    ranged = chunk_bytes is not None and target.kind != "p" and pages > chunk_pages
    full = mode == "full"
    ranges: list[tuple[str, str | None]] = _ranges(pages, chunk_pages) if ranged else [("(0,0)", None)]

    def report(done: int, rows: int, finished: bool) -> None:
        if progress is not None:
            progress(
                FingerprintProgress(
                    schema,
                    target.name,
                    index,
                    count,
                    done,
                    target.heap_bytes,
                    rows,
                    estimated,
                    finished,
                    time.monotonic() - started,
                    len(ranges),
                )
            )

    report(0, 0, False)
    queries = {
        scope: fingerprint_query(schema, target.name, target.kind, columns, mode, scope, types)
        for scope in (("between", "from") if ranged else ("all",))
    }
    rows, row_sum = 0, 0
    non_null = [0] * len(columns)
    sums = [0] * len(columns)
    # Parallel workers hand their partial sums to the leader as rows of two values per column (and
    # two more), more than a row may hold for a table of over 831 columns ("number of columns exceeds
    # limit"): such a table is read without them, in a savepoint whose rollback restores the setting.
    serial = full and 2 + 2 * len(columns) > _MAX_ROW_VALUES
    savepoint = conn.transaction(force_rollback=True) if serial else nullcontext()
    with savepoint, conn.cursor(row_factory=tuple_row) as cur:
        if serial:
            cur.execute(b"SET LOCAL max_parallel_workers_per_gather = 0")
        for number, (lo, hi) in enumerate(ranges, start=1):
            if not ranged:
                cur.execute(queries["all"], prepare=False)
            elif hi is None:
                cur.execute(queries["from"], {"lo": lo}, prepare=False)
            else:
                cur.execute(queries["between"], {"lo": lo, "hi": hi}, prepare=False)
            result = cur.fetchone()
            assert result is not None  # an aggregate without GROUP BY returns one row
            rows += int(result[0])
            if full:
                row_sum += int(result[1] or 0)
                for i in range(len(columns)):
                    non_null[i] += int(result[2][i])
                    sums[i] += int(result[3][i] or 0)
            else:
                for i in range(len(columns)):
                    non_null[i] += int(result[1 + i])
            if ranged and number < len(ranges):
                report(min(number * chunk_pages * target.block_size, target.heap_bytes), rows, False)
    report(target.heap_bytes, rows, True)
    return TableFingerprint(
        schema,
        target.name,
        rows,
        _hex(row_sum) if full else None,
        tuple(ColumnFingerprint(name, non_null[i], _hex(sums[i]) if full else None) for i, name in enumerate(columns)),
    )


def _hex(total: int) -> str:
    return f"{total % _MODULUS:016x}"


# ---------------------------------------------------------------------------------------------
# Comparing fingerprints

TABLE_ADDED = "table-added"
TABLE_REMOVED = "table-removed"
ROWS = "rows"
ROW_HASH = "row-hash"
COLUMN_ADDED = "column-added"
COLUMN_REMOVED = "column-removed"
NON_NULL = "non-null"
VALUE_HASH = "value-hash"
DIFFERENCE_KINDS = (TABLE_ADDED, TABLE_REMOVED, ROWS, ROW_HASH, COLUMN_ADDED, COLUMN_REMOVED, NON_NULL, VALUE_HASH)


@dataclass(frozen=True)
class FingerprintDifference:
    kind: str  # one of DIFFERENCE_KINDS
    table: str
    column: str | None = None
    before: int | str | None = None  # counts for rows / non-null, hashes for the hash kinds
    after: int | str | None = None

    def describe(self) -> str:
        where = f'"{self.table}"' + (f'."{self.column}"' if self.column is not None else "")
        if self.kind == TABLE_ADDED:
            return f"table {where} added"
        if self.kind == TABLE_REMOVED:
            return f"table {where} removed"
        if self.kind == COLUMN_ADDED:
            return f"column {where} added"
        if self.kind == COLUMN_REMOVED:
            return f"column {where} removed"
        if self.kind == ROWS:
            return f"{where}: {self.before} rows before, {self.after} after"
        if self.kind == NON_NULL:
            return f"{where}: {self.before} non-null values before, {self.after} after"
        if self.kind == ROW_HASH:
            return f"{where}: rows changed (row hash {self.before} before, {self.after} after)"
        return f"{where}: values changed (hash {self.before} before, {self.after} after)"


def compare_tables(before: TableFingerprint, after: TableFingerprint) -> tuple[FingerprintDifference, ...]:
    """What differs between two fingerprints of one table (hashes only when both have them)."""
    name = after.table
    found: list[FingerprintDifference] = []
    if before.rows != after.rows:
        found.append(FingerprintDifference(ROWS, name, None, before.rows, after.rows))
    if before.row_hash is not None and after.row_hash is not None and before.row_hash != after.row_hash:
        found.append(FingerprintDifference(ROW_HASH, name, None, before.row_hash, after.row_hash))
    after_columns = {c.name: c for c in after.columns}
    before_names = {c.name for c in before.columns}
    for old in before.columns:
        new = after_columns.get(old.name)
        if new is None:
            found.append(FingerprintDifference(COLUMN_REMOVED, name, old.name))
            continue
        if old.non_null != new.non_null:
            found.append(FingerprintDifference(NON_NULL, name, old.name, old.non_null, new.non_null))
        if old.value_hash is not None and new.value_hash is not None and old.value_hash != new.value_hash:
            found.append(FingerprintDifference(VALUE_HASH, name, old.name, old.value_hash, new.value_hash))
    found += [FingerprintDifference(COLUMN_ADDED, name, c.name) for c in after.columns if c.name not in before_names]
    return tuple(found)


def compare_fingerprints(
    before: DataFingerprint | Iterable[TableFingerprint], after: DataFingerprint | Iterable[TableFingerprint]
) -> tuple[FingerprintDifference, ...]:
    """Every difference between two fingerprints, tables matched by name: removed tables first, then
    the common tables in ``after``'s order, then added tables. Empty when the data is the same."""
    old = {t.table: t for t in (before.tables if isinstance(before, DataFingerprint) else before)}
    new = {t.table: t for t in (after.tables if isinstance(after, DataFingerprint) else after)}
    found = [FingerprintDifference(TABLE_REMOVED, name) for name in old if name not in new]
    for name, table in new.items():
        found += compare_tables(old[name], table) if name in old else [FingerprintDifference(TABLE_ADDED, name)]
    return tuple(found)


# ---------------------------------------------------------------------------------------------
# The command's library function


@dataclass(frozen=True)
class FingerprintRun:
    fingerprint: DataFingerprint
    database: str  # where: host:port/database?schema= (never the password)
    seconds: float


def fingerprint_database(
    project_dir: Path = Path("."),
    *,
    database_url: str | None = None,
    schema_path: Path | None = None,
    config_file: Path | None = None,
    tables: Sequence[str] | None = None,
    mode: Mode = "full",
    progress: ProgressCallback | None = None,
    environ: Mapping[str, str] | None = None,
) -> FingerprintRun:
    """Fingerprint the project's database (found as Prisma finds it, or ``database_url``), in the
    schema its URL selects (``?schema=``, default public); read only."""
    from safemigrate.config import load_config
    from safemigrate.db.connect import connect, database_errors
    from safemigrate.db.datasource import resolve_database_url
    from safemigrate.lint.registry import RULES
    from safemigrate.project import discover_project

    config = load_config(project_dir, config_file, {r.name: r.name for r in RULES} | {r.id: r.name for r in RULES})
    project = None
    if database_url is None:
        try:
            project = discover_project(project_dir, schema_path)
        except ProjectError as err:
            hint = "Pass --database-url, or run in your Prisma project (--project DIR)."
            raise ProjectError(err.message, hint) from err
    url = resolve_database_url(project, database_url=database_url, environ=environ, for_migration=False)
    started = time.monotonic()
    with connect(url, command="fingerprint", settings=config.database) as conn, database_errors(url, config.database):
        result = fingerprint(conn, schema=url.schema, tables=tables, mode=mode, progress=progress)
    return FingerprintRun(result, url.display(), time.monotonic() - started)
