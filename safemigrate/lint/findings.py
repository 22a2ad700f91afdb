"""The linter's output values."""

from __future__ import annotations

from dataclasses import dataclass

from safemigrate.lint.rule import Category, ObjectRef, Severity


@dataclass(frozen=True)
class Finding:
    rule: str  # kebab name
    rule_id: str
    category: Category
    severity: Severity
    file: str  # as reached from the path the user gave
    line: int
    column: int
    end_line: int
    migration: str
    statement_index: int | None  # None for file-level findings
    object: ObjectRef
    message: str
    help: str
    statement_text: str = ""  # for code frames; not part of the JSON contract
    suppressed: bool = False
    suppression_reason: str | None = None

    @property
    def active(self) -> bool:
        return not self.suppressed and self.severity is not Severity.OFF


@dataclass(frozen=True)
class FileReport:
    file: str
    migration: str
    statements: int
    transaction: str  # see safemigrate.lint.shape


@dataclass(frozen=True)
class LintResult:
    findings: tuple[Finding, ...]
    files: tuple[FileReport, ...]

    @property
    def statements(self) -> int:
        return sum(f.statements for f in self.files)

    def active(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.active)

    def fails(self, fail_on: str) -> bool:
        """True when an active finding reaches the threshold (error | warning | never)."""
        if fail_on == "never":
            return False
        threshold = Severity(fail_on).rank
        return any(f.severity.rank >= threshold for f in self.active())
