"""Run the rule catalog over a migration history, folding the schema model forward."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from safemigrate.lint import shape
from safemigrate.lint.findings import FileReport, Finding, LintResult
from safemigrate.lint.reader import ParsedFile, parse_source
from safemigrate.lint.registry import RULES, rule_by_name
from safemigrate.lint.rule import Context, Hit, LintSettings, ObjectRef, Rule, SessionState, Severity
from safemigrate.lint.suppress import BadDirective, Directive, FileDirectives
from safemigrate.sql import model as m
from safemigrate.sql import prisma_warnings as pw
from safemigrate.sql.schema import SchemaModel

# Which rules answer each kind of Prisma warning.
PRISMA_WARNING_RULES: Mapping[str, frozenset[str]] = {
    pw.KIND_DROP_TABLE: frozenset({"drop-table"}),
    pw.KIND_DROP_COLUMN: frozenset({"drop-column"}),
    pw.KIND_DROP_ENUM: frozenset({"drop-type-cascade", "drop-column", "drop-table"}),
    pw.KIND_ENUM_VALUES_REMOVED: frozenset({"enum-value-removed"}),
    pw.KIND_REQUIRED_COLUMN_ADDED: frozenset({"add-required-column", "new-required-column"}),
    pw.KIND_MADE_REQUIRED: frozenset({"set-not-null"}),
    pw.KIND_UNIQUE_ADDED: frozenset({"unique-on-existing-table"}),
    # "dropped and recreated" type changes are written as DROP COLUMN + ADD COLUMN.
    pw.KIND_TYPE_CHANGED: frozenset(
        {"narrowing-type-change", "type-cast-may-fail", "type-change-rewrite", "drop-column"}
    ),
    pw.KIND_PRIMARY_KEY_CHANGED: frozenset({"add-primary-key"}),
    pw.KIND_SCALAR_TO_LIST: frozenset({"type-cast-may-fail", "narrowing-type-change", "drop-column"}),
}


_KNOWN_RULE_NAMES = frozenset(r.name for r in RULES) | frozenset(r.id for r in RULES)


@dataclass(frozen=True)
class SourceFile:
    path: str  # as shown to the user
    migration: str  # folder name, or the file's stem for a loose .sql file
    data: bytes


@dataclass(frozen=True)
class LintOptions:
    settings: LintSettings = field(default_factory=LintSettings)
    severities: Mapping[str, Severity] | None = None  # rule name -> severity; None: defaults
    report: frozenset[str] | None = None  # paths to report on; None: all (the rest only fold the model)
    deploy: frozenset[str] = frozenset()  # migrations applied together (their new tables are empty)
    rules: tuple[Rule, ...] = RULES  # the catalog; tests narrow it to one rule


def severity_of(rule: Rule, options: LintOptions) -> Severity:
    if options.severities and rule.name in options.severities:
        return options.severities[rule.name]
    return rule.severity


def lint_sources(
    sources: Sequence[SourceFile],
    options: LintOptions = LintOptions(),
    parsed: Sequence[ParsedFile] | None = None,
) -> LintResult:
    """Lint files that form one history, in order. Never raises on file content.

    ``parsed`` holds each source already read (see safemigrate.lint.reader), else they are read here.
    """
    if parsed is None:
        parsed = [parse_source(source.data) for source in sources]
    outcomes, _ = lint_history(sources, parsed, options)
    return collect(sources, outcomes, options)


@dataclass(frozen=True)
class FileOutcome:
    """Everything the linter found in one file, before the report filter."""

    findings: tuple[Finding, ...]
    report: FileReport


def lint_history(
    sources: Sequence[SourceFile],
    parsed: Iterable[ParsedFile],
    options: LintOptions,
    *,
    start: int = 0,
    schema: SchemaModel | None = None,
) -> tuple[list[FileOutcome], SchemaModel]:
    """Lint ``sources[start:]`` (``parsed`` yields those files, read, in order), folding into ``schema``, which
    must be the model after ``sources[:start]`` (a fresh model when start is 0).
    Returns the outcomes of the linted files and the model after the last one."""
    if schema is None:
        schema = SchemaModel(options.settings.default_schema)
    enabled = [r for r in options.rules if severity_of(r, options) is not Severity.OFF]
    by_type: dict[type, list[Rule]] = {}

    def rules_for(summary_type: type) -> Sequence[Rule]:
        """The enabled rules that look at this kind of statement, in catalog order."""
        if summary_type not in by_type:
            by_type[summary_type] = [r for r in enabled if not r.on or summary_type in r.on]
        return by_type[summary_type]

    outcomes: list[FileOutcome] = []
    for source, parsed_file in zip(sources[start:], parsed, strict=True):
        schema.fresh_migrations = options.deploy | {source.migration}
        file_findings, report = _lint_file(source, parsed_file, schema, rules_for, options)
        outcomes.append(FileOutcome(tuple(file_findings), report))
    return outcomes, schema


def collect(sources: Sequence[SourceFile], outcomes: Sequence[FileOutcome], options: LintOptions) -> LintResult:
    """The result for the files the options report on."""
    findings: list[Finding] = []
    reports: list[FileReport] = []
    for source, outcome in zip(sources, outcomes, strict=True):
        if options.report is None or source.path in options.report:
            findings.extend(outcome.findings)
            reports.append(outcome.report)
    return LintResult(tuple(findings), tuple(reports))


def _lint_file(
    source: SourceFile,
    parsed: ParsedFile,
    schema: SchemaModel,
    rules_for: Callable[[type], Sequence[Rule]],
    options: LintOptions,
) -> tuple[list[Finding], FileReport]:
    def meta(name: str, line: int, column: int, message: str, help_text: str) -> Finding:
        rule = rule_by_name(name)
        return Finding(
            rule.name,
            rule.id,
            rule.category,
            severity_of(rule, options),
            source.path,
            line,
            column,
            line,
            source.migration,
            None,
            ObjectRef(),
            message,
            help_text,
        )

    if parsed.undecodable_at is not None:
        offset = parsed.undecodable_at
        line = source.data[:offset].count(b"\n") + 1
        finding = meta(
            "unreadable-file",
            line,
            1,
            f"{source.path} is not valid UTF-8 (byte {offset}), so it was not analysed.",
            "Save the file as UTF-8; PostgreSQL and Prisma expect UTF-8 migration files.",
        )
        return [finding], FileReport(source.path, source.migration, 0, "unreadable")
    statements = parsed.statements
    raw_hits: list[Finding] = []
    session = SessionState()
    memo: dict[object, object] = {}
    for statement in statements:
        ctx = Context(statement, statements, source.migration, schema, session, options.settings, memo)
        for rule in rules_for(type(statement.summary)):
            for hit in rule.check(ctx):
                raw_hits.append(_finding(rule, hit, statement, source, options, schema))
        schema.apply(statement.summary, source.migration)
        session = _next_session(session, statement)

    findings = [f for f in raw_hits if not f.suppressed]
    if not statements:
        findings.append(
            meta(
                "empty-migration",
                1,
                1,
                f"{source.path} contains no SQL statement.",
                "Delete the migration folder if it was created by mistake.",
            )
        )
    findings.extend(_prisma_warning_findings(parsed.prisma_warnings, raw_hits, meta, statements))
    findings = _apply_suppressions(findings, parsed.directives, meta)
    findings = [f for f in findings if f.severity is not Severity.OFF]
    findings.sort(key=lambda f: (f.line, f.column, f.rule_id))
    return findings, FileReport(source.path, source.migration, len(statements), shape.transaction_shape(statements))


def _finding(
    rule: Rule, hit: Hit, statement: m.Statement, source: SourceFile, options: LintOptions, schema: SchemaModel
) -> Finding:
    # On a table this deploy created, a lock finding is noise, and so are the others while it holds no rows.
    fresh = hit.table is not None and rule.quiet_on(schema, hit.table)
    reason = "created by this deploy" if fresh else hit.explained or None
    return Finding(
        rule.name,
        rule.id,
        rule.category,
        severity_of(rule, options),
        source.path,
        statement.line,
        statement.column,
        statement.end_line,
        source.migration,
        statement.index,
        hit.object,
        hit.message,
        hit.help,
        statement.text,
        suppressed=reason is not None,
        suppression_reason=reason,
    )


def _next_session(session: SessionState, statement: m.Statement) -> SessionState:
    """The session after ``statement``, as `prisma migrate deploy` runs the file: one query, whose
    statements before a BEGIN run in the transaction the BEGIN opens (values they add stay uncommitted
    in the block), and whose COMMIT commits them. `safemigrate migrate` leaves BEGIN and COMMIT out and
    runs the file in one transaction: values committed here are kept apart for that."""
    summary = statement.summary
    if isinstance(summary, m.TransactionControl):
        if summary.action == "begin":
            return replace(session, explicit_transaction=True)
        if summary.action == "commit":
            committed = {(enum, value, line, statement.line) for enum, value, line in session.enum_values_added}
            return replace(
                session,
                explicit_transaction=False,
                enum_values_added=frozenset(),
                enum_values_committed=session.enum_values_committed | committed,
            )
        if summary.action == "rollback":  # the values it added are gone
            return replace(session, explicit_transaction=False, enum_values_added=frozenset())
    if isinstance(summary, m.SetSetting) and summary.name == "lock_timeout":
        disabled = summary.value.strip("'\" ").lower() in ("0", "default")
        return replace(session, lock_timeout_set=not disabled)
    if isinstance(summary, m.AlterEnumAddValue):
        added = (summary.name.name, summary.value, statement.line)
        return replace(session, enum_values_added=session.enum_values_added | {added})
    return session


class _Meta(Protocol):
    """The file-level finding factory passed to the helpers below."""

    def __call__(self, name: str, line: int, column: int, message: str, help_text: str) -> Finding: ...


def _prisma_warning_findings(
    warnings: Sequence[pw.PrismaWarning], hits: Sequence[Finding], meta: _Meta, statements: Sequence[m.Statement]
) -> list[Finding]:
    """Every warning Prisma wrote into the file must be matched by a finding on the same object, or be
    one the linter knows cannot happen."""
    findings = []
    for warning in warnings:
        if warning.kind == pw.KIND_UNIQUE_ADDED and _unique_over_new_empty_columns(warning, statements):
            continue
        if warning.kind == pw.KIND_ENUM_VALUES_REMOVED and _enum_recreated_for_no_column(warning, statements):
            continue
        expected = PRISMA_WARNING_RULES.get(warning.kind, frozenset())
        matched = any(
            hit.rule in expected
            and (warning.table is None or hit.object.table == warning.table)
            and (not warning.columns or hit.object.column in warning.columns or hit.object.column is None)
            for hit in hits
        )
        if not matched:
            findings.append(
                meta(
                    "prisma-warning-unmatched",
                    warning.line,
                    1,
                    f'Prisma warned "{warning.text}" but no safemigrate rule recognised that change.',
                    "Review the statements this warning is about by hand; report the case so a rule can cover it.",
                )
            )
    return findings


def _unique_over_new_empty_columns(warning: pw.PrismaWarning, statements: Sequence[m.Statement]) -> bool:
    """Prisma warns of duplicates for a unique index on a column the same file adds without a default:
    every existing row holds NULL there, and NULLs never collide, so nothing can fail."""
    added_empty = {
        action.column.name
        for statement in statements
        if isinstance(statement.summary, m.AlterTable) and statement.summary.table.name == warning.table
        for action in statement.summary.actions
        if isinstance(action, m.AddColumn)
        and (action.column.default is None or action.column.default.sql.strip().upper() == "NULL")
        and not action.column.identity
        and not action.column.generated
        and not action.column.type.user_defined  # a domain may bring a default of its own
    }
    return bool(warning.columns) and set(warning.columns) <= added_empty


def _enum_recreated_for_no_column(warning: pw.PrismaWarning, statements: Sequence[m.Statement]) -> bool:
    """Prisma removes enum values by creating ``<enum>_new`` and converting every column to it; when it
    converts none, no column used the enum and no value can be lost (a column it missed would keep the
    old type, and the closing ``DROP TYPE`` would fail the migration, changing nothing)."""
    if warning.enum is None:
        return False
    new_name = f"{warning.enum}_new"
    recreated = any(isinstance(s.summary, m.CreateEnum) and s.summary.name.name == new_name for s in statements)
    converted = any(
        isinstance(s.summary, m.AlterTable)
        and any(isinstance(a, m.AlterColumnType) and a.new_type.base == new_name for a in s.summary.actions)
        for s in statements
    )
    return recreated and not converted


def _apply_suppressions(findings: list[Finding], directives_found: FileDirectives, meta: _Meta) -> list[Finding]:
    attached: dict[int, list[Directive]] = {}
    for index, directive in directives_found.attached:
        attached.setdefault(index, []).append(directive)
    result: list[Finding] = []
    used: set[tuple[int, int]] = set()  # (line, column) of directives that suppressed something
    for finding in findings:
        directives = attached.get(finding.statement_index, []) if finding.statement_index is not None else []
        match = next(
            (d for d in directives if d.reason and (finding.rule in d.rules or finding.rule_id in d.rules)), None
        )
        if match is not None and finding.active:
            used.add((match.line, match.column))
            finding = replace(finding, suppressed=True, suppression_reason=match.reason)
        result.append(finding)
    known = _KNOWN_RULE_NAMES
    for directives in attached.values():
        for d in directives:
            unknown = [r for r in d.rules if r not in known]
            if unknown:
                result.append(
                    meta(
                        "invalid-suppression",
                        d.line,
                        d.column,
                        f"The suppression names unknown rule(s): {', '.join(unknown)}.",
                        "Use a rule name from `safemigrate rules`.",
                    )
                )
            elif not d.reason:
                result.append(
                    meta(
                        "suppression-missing-reason",
                        d.line,
                        d.column,
                        f"The suppression of {', '.join(d.rules)} gives no reason, so it was not applied.",
                        f"Write why the risk is accepted: -- safemigrate: {d.verb} "
                        f"{', '.join(d.rules)} reason: <why this is safe>",
                    )
                )
            elif (d.line, d.column) not in used:
                result.append(
                    meta(
                        "unused-suppression",
                        d.line,
                        d.column,
                        f"The suppression of {', '.join(d.rules)} matches no finding on its statement.",
                        "Remove it, or move it onto the line above the statement it is meant for.",
                    )
                )
    for parsed in directives_found.loose:
        if isinstance(parsed, BadDirective):
            result.append(
                meta(
                    "invalid-suppression",
                    parsed.line,
                    parsed.column,
                    f"This comment looks like a safemigrate directive but cannot be read: {parsed.text}",
                    "Write it as: -- safemigrate: ignore <rule>[, <rule>] reason: <why>",
                )
            )
        else:
            result.append(
                meta(
                    "unused-suppression",
                    parsed.line,
                    parsed.column,
                    f"The suppression of {', '.join(parsed.rules)} is not attached to any statement.",
                    "Put it on the line above the statement it is meant for.",
                )
            )
    return result
