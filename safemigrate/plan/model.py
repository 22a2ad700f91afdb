"""What `safemigrate plan` found: plain frozen values, rendered by safemigrate.report.plan_*."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from safemigrate.lint.findings import Finding
from safemigrate.lint.rule import Severity
from safemigrate.plan.settings import PlanSettings

if TYPE_CHECKING:
    from safemigrate.backup.scope import BackupScope

# Kinds of preflight check.
NULLS = "nulls"  # SET NOT NULL meets NULLs
REQUIRED_COLUMN = "required-column"  # ADD COLUMN ... NOT NULL without a default meets existing rows
DUPLICATES = "duplicates"  # a unique index / constraint meets duplicate keys
ORPHANS = "orphans"  # a foreign key meets rows without a parent
ENUM_VALUES = "enum-values"  # a column converted to an enum holds values the enum lacks
TOO_LONG = "too-long"  # values longer than the new varchar(n) / char(n)
OUT_OF_RANGE = "out-of-range"  # numbers beyond the new integer type, or the digits of the new numeric(p, s)
ROUNDED = "rounded"  # numbers with more decimals than the new numeric(p, s): a data change, never a failure
BAD_FORMAT = "bad-format"  # text that does not parse as the new type
CHECK_VIOLATIONS = "check-violations"  # rows whose CHECK condition is false (VALIDATE CONSTRAINT)
EXCLUSION = "exclusion"  # an EXCLUDE constraint meets conflicting rows (not checked: always skipped)

# Outcomes of a check.
PASSED = "passed"
FAILED = "failed"
SKIPPED = "skipped"  # nothing to check (table or column created by this deploy...) or not checkable
UNFINISHED = "unfinished"  # the time budget ran out, or a lock held by another session was in the way


@dataclass(frozen=True)
class TableFacts:
    """Live size of an existing table."""

    schema: str
    name: str
    rows_estimate: int | None  # pg_class.reltuples; None when never analysed
    total_bytes: int  # pg_total_relation_size


@dataclass(frozen=True)
class PlanFinding:
    """A lint finding, its severity weighed against the live size of its table."""

    finding: Finding  # severity already adjusted
    lint_severity: Severity  # what static lint said
    table: TableFacts | None  # the live table the finding is about, when known
    reason: str = ""  # why the severity changed ("" when it did not)

    @property
    def adjusted(self) -> bool:
        return self.finding.severity is not self.lint_severity


@dataclass(frozen=True)
class CheckResult:
    kind: str  # one of the kinds above
    outcome: str  # passed | failed | skipped | unfinished
    migration: str
    file: str  # as lint shows it
    line: int
    statement_index: int
    table: str  # as the statement names it (schema-qualified when it is)
    columns: tuple[str, ...]
    description: str  # what was checked, in words
    count: int | None = None  # offending rows (or duplicate groups); None when unknown
    samples: tuple[str, ...] = ()  # up to SAMPLE_SIZE offending keys or values
    sample_label: str = ""  # what the samples are: "id", "email", "value"...
    detail: str = ""  # why skipped / unfinished, or a note on the result
    seconds: float = 0.0  # time the query took


@dataclass(frozen=True)
class Blocker:
    """A session another migration would queue behind."""

    pid: int
    application_name: str
    usename: str | None
    state: str | None
    transaction_age: float | None  # seconds since its transaction began; None outside a transaction
    tables: tuple[str, ...]  # affected tables it holds a lock on
    modes: tuple[str, ...]
    query: str  # its current or last query, first line, shortened


@dataclass(frozen=True)
class PlannedMigration:
    name: str
    file: str
    state: str  # pending | rolled_back (applied again by deploy)
    statements: int
    transaction: str  # see safemigrate.lint.shape


@dataclass(frozen=True)
class Plan:
    database: str  # redacted URL
    schema: str
    server_version: int  # server_version_num
    migrations: tuple[PlannedMigration, ...]
    findings: tuple[PlanFinding, ...]
    checks: tuple[CheckResult, ...]
    blockers: tuple[Blocker, ...]
    backup_scope: BackupScope | None
    clone: str
    settings: PlanSettings
    failed_migrations: tuple[str, ...] = ()  # recorded as failed: Prisma refuses to deploy until resolved
    created_at: dt.datetime | None = None
    # Data-loss findings of rules the config turned off: hidden from the plan, still gating `migrate`
    # (turning a rule off quiets lint; it does not accept data loss).
    hidden_data_loss: tuple[Finding, ...] = ()

    @property
    def failed_checks(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.outcome == FAILED)

    @property
    def unfinished_checks(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.outcome == UNFINISHED)

    @property
    def predicts_failure(self) -> bool:
        """A preflight check found data the migration fails on, or a failed migration blocks the deploy."""
        return bool(self.failed_checks) or bool(self.failed_migrations)

    def active_findings(self) -> tuple[PlanFinding, ...]:
        return tuple(f for f in self.findings if f.finding.active)
