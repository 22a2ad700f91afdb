"""The manifest of a backup (format v1): frozen dataclasses, written to and read from ``manifest.json``.

A table's ``ddl.extras`` (triggers, privileges, row-level security, policies, comments, storage
parameters, replica identity, owner) was added within version 1: a reader reads only the keys it
knows, so an older safemigrate reads a newer manifest as before (without them), and a manifest
written before them reads with ``extras`` None (restored as before: nothing to re-apply). A
table's ``ddl.parents`` (its INHERITS parents) came the same way: a manifest written before them
reads with none, so its tables are recreated as plain tables, as they were then. The manifest's
``encoding`` (the database's server encoding, in which the data files hold their text) came the same
way: a manifest written before it reads with None, and is restored as it was then (in the
session's client_encoding, without the check that the target has the backup's encoding).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal, TypeVar, cast

from safemigrate.errors import BackupFormatError

FORMAT = "safemigrate-backup"
FORMAT_VERSION = 1
ReasonKind = Literal["manual", "pre-migrate", "scheduled"]
REASON_KINDS: tuple[ReasonKind, ...] = ("manual", "pre-migrate", "scheduled")
CopyFormat = Literal["binary", "text"]


def parse_utc(text: str) -> datetime:
    """An ISO 8601 time (``Z``, an offset, or none for UTC) as a UTC datetime; ValueError otherwise."""
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"  # Python 3.10's fromisoformat does not read "Z"
    moment = datetime.fromisoformat(cleaned)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError as err:  # 9999-12-31T23:59-05:00 is past the last UTC time Python has
        raise ValueError(f"{text!r} is out of the range of dates") from err


def shown_time(text: str) -> str:
    """A stored ISO time as lists show it: UTC to the millisecond, as `runs` does (as stored when unreadable)."""
    try:
        moment = parse_utc(text)
    except ValueError:
        return text
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Reason:
    kind: ReasonKind = "manual"
    text: str = ""
    migrations: tuple[str, ...] = ()


@dataclass(frozen=True)
class EnumType:
    schema: str
    name: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class ColumnDef:
    name: str
    type: str  # format_type(): as CREATE TABLE writes it
    default_expr: str | None
    not_null: bool
    identity: str  # "" | "a" (ALWAYS) | "d" (BY DEFAULT)
    generated_expr: str | None  # stored generated column: not in the data file, recomputed on restore
    binary_ok: bool


@dataclass(frozen=True)
class ConstraintDef:
    name: str
    kind: str  # p | u | c | x | f
    definition: str  # pg_get_constraintdef
    referenced_table: str | None = None  # foreign keys: the table they point at
    # ... and its schema (None: the table's own; manifests from before it was stored hold none)
    referenced_schema: str | None = None


@dataclass(frozen=True)
class IndexDef:
    name: str
    definition: str  # pg_get_indexdef: a whole CREATE INDEX statement


@dataclass(frozen=True)
class SequenceDef:
    column_name: str
    name: str
    data_type: str
    start_value: int
    increment: int
    min_value: int
    max_value: int
    cache: int
    cycle: bool
    identity: bool
    last_value: int
    is_called: bool


@dataclass(frozen=True)
class TriggerDef:
    name: str
    definition: str  # pg_get_triggerdef: a whole CREATE [CONSTRAINT] TRIGGER statement
    enabled: str  # tgenabled: O (origin, the default) | D (disabled) | R (replica) | A (always)
    function: str  # the function it calls, qualified, with its argument types: "public"."audit_row"()


@dataclass(frozen=True)
class GrantDef:
    grantee: str | None  # a role name; None for PUBLIC
    privileges: tuple[str, ...]  # SELECT, INSERT, UPDATE, ... (aclexplode's privilege_type)
    column: str | None  # a column-level grant (attacl); None for the table (relacl)
    grantable: bool  # WITH GRANT OPTION


@dataclass(frozen=True)
class PolicyDef:
    name: str
    permissive: bool  # false for AS RESTRICTIVE
    command: str  # ALL | SELECT | INSERT | UPDATE | DELETE
    to_public: bool  # TO PUBLIC (with or without named roles)
    roles: tuple[str, ...]  # the named roles it applies to
    using_expr: str | None  # pg_get_expr of USING
    check_expr: str | None  # pg_get_expr of WITH CHECK


@dataclass(frozen=True)
class ColumnComment:
    column: str
    comment: str


@dataclass(frozen=True)
class ObjectComment:
    kind: str  # constraint | index | trigger | policy
    name: str
    comment: str


@dataclass(frozen=True)
class TableExtras:
    """What a table carries besides its columns, keys and indexes; re-applied when a restore recreates it."""

    owner: str
    triggers: tuple[TriggerDef, ...] = ()  # not internal (foreign keys' own triggers come with the keys)
    grants: tuple[GrantDef, ...] = ()  # privileges granted to roles other than the owner
    row_security: bool = False  # ENABLE ROW LEVEL SECURITY
    force_row_security: bool = False  # FORCE ROW LEVEL SECURITY
    policies: tuple[PolicyDef, ...] = ()
    comment: str | None = None
    column_comments: tuple[ColumnComment, ...] = ()
    reloptions: tuple[str, ...] = ()  # "fillfactor=70", "toast.autovacuum_enabled=false"
    replica_identity: str = "d"  # relreplident: d (default) | n (nothing) | f (full) | i (index)
    replica_identity_index: str | None = None  # the index of REPLICA IDENTITY USING INDEX
    object_comments: tuple[ObjectComment, ...] = ()  # on its constraints, indexes, triggers, policies
    unlogged: bool = False  # CREATE UNLOGGED TABLE

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableExtras:
        """Known keys only (a newer writer may add some); the optional ones default as above."""
        return cls(
            data["owner"],
            tuple(
                TriggerDef(t["name"], t["definition"], t["enabled"], t["function"]) for t in data.get("triggers", ())
            ),
            tuple(
                GrantDef(g["grantee"], tuple(g["privileges"]), g["column"], bool(g["grantable"]))
                for g in data.get("grants", ())
            ),
            bool(data.get("row_security", False)),
            bool(data.get("force_row_security", False)),
            tuple(
                PolicyDef(
                    p["name"],
                    bool(p["permissive"]),
                    p["command"],
                    bool(p["to_public"]),
                    tuple(p["roles"]),
                    p["using_expr"],
                    p["check_expr"],
                )
                for p in data.get("policies", ())
            ),
            data.get("comment"),
            tuple(ColumnComment(c["column"], c["comment"]) for c in data.get("column_comments", ())),
            tuple(data.get("reloptions", ())),
            data.get("replica_identity", "d"),
            data.get("replica_identity_index"),
            tuple(ObjectComment(c["kind"], c["name"], c["comment"]) for c in data.get("object_comments", ())),
            bool(data.get("unlogged", False)),
        )


@dataclass(frozen=True)
class ParentTable:
    """A table that a backed-up table inherits from (``INHERITS``; not a partition's parent)."""

    schema: str
    name: str


@dataclass(frozen=True)
class TableDDL:
    columns: tuple[ColumnDef, ...]
    constraints: tuple[ConstraintDef, ...]  # foreign keys included (kind "f"): added after all tables
    indexes: tuple[IndexDef, ...]
    sequences: tuple[SequenceDef, ...]
    enums: tuple[EnumType, ...]
    extras: TableExtras | None = None  # None: a backup taken before they were stored
    parents: tuple[ParentTable, ...] = ()  # INHERITS, in pg_inherits.inhseqno order (none in older manifests)

    @property
    def copy_columns(self) -> tuple[str, ...]:
        """The columns in the data file (stored generated columns are recomputed, never copied)."""
        return tuple(c.name for c in self.columns if c.generated_expr is None)

    @property
    def foreign_keys(self) -> tuple[ConstraintDef, ...]:
        return tuple(c for c in self.constraints if c.kind == "f")


@dataclass(frozen=True)
class TableEntry:
    name: str
    ddl: TableDDL
    rows: int
    fingerprint: Mapping[str, Any]  # DataFingerprint.to_dict() of this table alone (mode full)
    file: str  # relative to the backup folder: tables/<n>.copy.zst
    bytes: int  # size of the compressed data file
    sha256: str  # of the compressed data file
    copy_format: CopyFormat


@dataclass(frozen=True)
class Manifest:
    id: str
    created_at: str  # ISO 8601, UTC
    reason: Reason
    tool_version: str
    server_version: str
    database: str  # host:port/database?schema= (never a password)
    schema: str
    git_commit: str | None
    tables: tuple[TableEntry, ...]
    verified: bool | None = None  # set by a restore check (not yet implemented)
    format: str = FORMAT
    version: int = FORMAT_VERSION
    # The server encoding of the backed-up database (UTF8, LATIN1...): the data files' text is in it.
    # None in a manifest written before it was recorded.
    encoding: str | None = None

    def table(self, name: str) -> TableEntry | None:
        return next((t for t in self.tables if t.name == name), None)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def bytes(self) -> int:
        return sum(t.bytes for t in self.tables)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        return {"format": data.pop("format"), "version": data.pop("version")} | data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> Manifest:
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise BackupFormatError(f"{where} is not a safemigrate backup manifest.", "")
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise BackupFormatError(f"{where} is damaged: its version {version!r} is not a whole number.", "")
        if version > FORMAT_VERSION:
            raise BackupFormatError(
                f"{where} is a backup of format version {version}, "
                f"newer than this safemigrate reads ({FORMAT_VERSION}).",
                "Upgrade safemigrate to restore it.",
            )
        try:
            if not isinstance(data["tables"], list) or not data["tables"]:
                raise TypeError(f"its tables {data['tables']!r} are not a list of at least one table")
            tables = tuple(
                TableEntry(
                    _text(t["name"], "table name"),
                    TableDDL(
                        tuple(_known(ColumnDef, c) for c in t["ddl"]["columns"]),
                        tuple(_known(ConstraintDef, c) for c in t["ddl"]["constraints"]),
                        tuple(_known(IndexDef, i) for i in t["ddl"]["indexes"]),
                        tuple(_known(SequenceDef, s) for s in t["ddl"]["sequences"]),
                        tuple(EnumType(e["schema"], e["name"], tuple(e["labels"])) for e in t["ddl"]["enums"]),
                        _extras(t["ddl"].get("extras")),
                        tuple(_known(ParentTable, p) for p in t["ddl"].get("parents", ())),
                    ),
                    _whole(t["rows"], "rows"),
                    t["fingerprint"],
                    t["file"],
                    _whole(t["bytes"], "bytes"),
                    t["sha256"],
                    t["copy_format"],
                )
                for t in data["tables"]
            )
            for table in tables:
                _check_rows(table)
            reason = data["reason"]
            created_at = data["created_at"]
            _check_time(created_at, where)
            migrations = reason["migrations"]
            if not isinstance(migrations, list):
                raise TypeError(f"reason.migrations {migrations!r} is not a list")
            return cls(
                _text(data["id"], "id"),
                created_at,
                Reason(
                    cast(ReasonKind, _text(reason["kind"], "reason.kind")),  # a newer writer's kind reads as is
                    _text(reason["text"], "reason.text"),
                    tuple(_text(name, "a migration name") for name in migrations),
                ),
                data["tool_version"],
                data["server_version"],
                data["database"],
                data["schema"],
                data["git_commit"],
                tables,
                _verified(data.get("verified")),
                data["format"],
                version,
                _encoding(data.get("encoding")),
            )
        except KeyError as err:
            raise BackupFormatError(f"{where} is damaged: its key {err.args[0]!r} is missing.", "") from err
        except (TypeError, ValueError) as err:
            raise BackupFormatError(f"{where} is damaged: {err}.", "") from err


_Def = TypeVar("_Def")


def _known(cls: type[_Def], data: Mapping[str, Any]) -> _Def:
    """``cls`` from the keys it knows: a newer writer may add keys, which this version ignores."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{key: value for key, value in data.items() if key in names})


def _extras(data: Any) -> TableExtras | None:
    return None if data is None else TableExtras.from_dict(data)


def _text(value: object, field: str) -> str:
    """A field that listing, retention and restore use as text (a list there is unhashable, a number unprintable)."""
    if not isinstance(value, str):
        raise TypeError(f"{field} {value!r} is not text")
    return value


def _whole(value: object, field: str) -> int:
    """A count (rows, bytes): a whole number, never negative, a bool, a fraction, text or infinity."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError(f"{field} {value!r} is not a count (a whole number, 0 or more)")
    return value


def _check_rows(table: TableEntry) -> None:
    """The row count shown (lists, restore lines) must be the one the fingerprint holds, which is
    what the restore is checked against: an edited manifest must not say one thing and check another."""
    fingerprint = table.fingerprint
    if not isinstance(fingerprint, Mapping) or not isinstance(fingerprint.get("tables"), list):
        raise TypeError(f"the fingerprint of table {table.name!r} is not a fingerprint")
    counted = [t.get("rows") for t in fingerprint["tables"] if isinstance(t, Mapping) and t.get("table") == table.name]
    if counted != [table.rows]:
        shown = counted[0] if len(counted) == 1 else "none"
        raise ValueError(f"table {table.name!r} says {table.rows} rows but its fingerprint counts {shown}")


def _verified(value: object) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"verified {value!r} is neither true, false nor null")
    return value


def _encoding(value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"encoding {value!r} is not text")
    return value


def _check_time(created_at: object, where: str) -> None:
    """``created_at`` orders backups and answers ``restore --at``: a manifest without a real time is damaged
    (so is one whose time, once in UTC, falls outside the years datetime holds: 9999-12-31T23:00-05:00)."""
    try:
        if isinstance(created_at, str):
            parse_utc(created_at)
            return
    except (ValueError, OverflowError):
        pass
    raise BackupFormatError(f"{where} is damaged: its created_at {created_at!r} is not an ISO 8601 time.", "")
