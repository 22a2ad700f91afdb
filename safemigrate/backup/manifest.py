"""The manifest of a backup (format v1): frozen dataclasses, written to and read from ``manifest.json``."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

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
    return moment.astimezone(timezone.utc)


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
    referenced_table: str | None = None  # foreign keys: the table they point at (same schema)


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
class TableDDL:
    columns: tuple[ColumnDef, ...]
    constraints: tuple[ConstraintDef, ...]  # foreign keys included (kind "f"): added after all tables
    indexes: tuple[IndexDef, ...]
    sequences: tuple[SequenceDef, ...]
    enums: tuple[EnumType, ...]

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
            tables = tuple(
                TableEntry(
                    t["name"],
                    TableDDL(
                        tuple(ColumnDef(**c) for c in t["ddl"]["columns"]),
                        tuple(ConstraintDef(**c) for c in t["ddl"]["constraints"]),
                        tuple(IndexDef(**i) for i in t["ddl"]["indexes"]),
                        tuple(SequenceDef(**s) for s in t["ddl"]["sequences"]),
                        tuple(EnumType(e["schema"], e["name"], tuple(e["labels"])) for e in t["ddl"]["enums"]),
                    ),
                    int(t["rows"]),
                    t["fingerprint"],
                    t["file"],
                    int(t["bytes"]),
                    t["sha256"],
                    t["copy_format"],
                )
                for t in data["tables"]
            )
            reason = data["reason"]
            created_at = data["created_at"]
            _check_time(created_at, where)
            return cls(
                data["id"],
                created_at,
                Reason(reason["kind"], reason["text"], tuple(reason["migrations"])),
                data["tool_version"],
                data["server_version"],
                data["database"],
                data["schema"],
                data["git_commit"],
                tables,
                data.get("verified"),
                data["format"],
                version,
            )
        except (KeyError, TypeError, ValueError) as err:
            raise BackupFormatError(f"{where} is damaged: {err!r} is missing or invalid.", "") from err


def _check_time(created_at: object, where: str) -> None:
    """``created_at`` orders backups and answers ``restore --at``: a manifest without a real time is damaged."""
    try:
        if isinstance(created_at, str):
            parse_utc(created_at)
            return
    except ValueError:
        pass
    raise BackupFormatError(f"{where} is damaged: its created_at {created_at!r} is not an ISO 8601 time.", "")
