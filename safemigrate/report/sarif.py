"""``lint --format sarif``: SARIF 2.1.0 as GitHub code scanning accepts it.

One run; ``tool.driver.rules`` describes every rule of the catalog given (plus a bare descriptor for
any rule a finding names that the catalog lacks), so ``ruleIndex`` always points into it. Each
finding is one result located at its file (a forward-slash path relative to ``%SRCROOT%``) and
line; suppressed findings carry a ``suppressions`` entry with their reason, which code scanning
shows as dismissed. ``partialFingerprints["safemigrate/v1"]`` hashes the rule, the file, the
object and the statement text (whitespace-normalized), so alerts survive lines moving; repeated
identical hits in one file get ``:2``, ``:3``... The returned text has no trailing newline.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import quote

from safemigrate.lint.findings import Finding, LintResult
from safemigrate.lint.rule import Rule, Severity
from safemigrate.report.templating import authored_markdown

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_VERSION = "2.1.0"
INFORMATION_URI = "https://pypi.org/project/safemigrate/"
FINGERPRINT_KEY = "safemigrate/v1"
SRCROOT = "%SRCROOT%"

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note", Severity.OFF: "none"}


def render_sarif(result: LintResult, rules: Sequence[Rule], tool_version: str) -> str:
    """The SARIF log for ``result``; ``rules`` is the catalog (``safemigrate.lint.registry.RULES``)."""
    return json.dumps(sarif_log(result, rules, tool_version), indent=2, ensure_ascii=False)


def sarif_log(result: LintResult, rules: Sequence[Rule], tool_version: str) -> dict[str, Any]:
    """The same log as plain dicts and lists."""
    descriptors = [rule_descriptor(r) for r in rules]
    index = {r.name: i for i, r in enumerate(rules)}
    for finding in result.findings:
        if finding.rule not in index:
            index[finding.rule] = len(descriptors)
            descriptors.append({"id": finding.rule, "name": pascal_case(finding.rule)})
    occurrences: Counter[str] = Counter()
    results = []
    for finding in result.findings:
        digest = fingerprint(finding)
        occurrences[digest] += 1
        results.append(_result(finding, index[finding.rule], f"{digest}:{occurrences[digest]}"))
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "safemigrate",
                        "version": tool_version,
                        "semanticVersion": tool_version,
                        "informationUri": INFORMATION_URI,
                        "rules": descriptors,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def rule_descriptor(rule: Rule) -> dict[str, Any]:
    """A ``reportingDescriptor`` with the rule's help as text and markdown."""
    enabled = rule.severity is not Severity.OFF
    configuration: dict[str, Any] = {"level": _LEVEL[rule.severity] if enabled else "note"}
    if not enabled:
        configuration["enabled"] = False
    why = _clean(rule.why)
    return {
        "id": rule.name,
        "name": pascal_case(rule.name),
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": why.split("\n\n")[0].replace("\n", " ") if why else rule.summary},
        "help": {"text": _help_text(rule, why), "markdown": _help_markdown(rule, why)},
        "defaultConfiguration": configuration,
        "properties": {"tags": [rule.category.value], "precision": "high"},
    }


def pascal_case(name: str) -> str:
    """``drop-column`` -> ``DropColumn``."""
    return "".join(part[:1].upper() + part[1:] for part in name.replace("_", "-").split("-") if part)


def fingerprint(finding: Finding) -> str:
    """A hash of what the finding is about, independent of line numbers."""
    statement = " ".join(finding.statement_text.split())
    obj = ".".join(finding.object.as_dict().values())
    # File-level findings have no statement; their message says what they are about.
    anchor = statement or finding.message
    text = "\0".join((finding.rule, artifact_uri(finding.file), obj, anchor))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def artifact_uri(path: str) -> str:
    """A relative path as a forward-slash URI reference (``./`` dropped, special characters quoted)."""
    if "\\" in path or path[1:2] == ":":
        windows = PureWindowsPath(path)
        if windows.is_absolute():
            return windows.as_uri()
        path = windows.as_posix()
    pure = PurePosixPath(path)
    if pure.is_absolute():
        return pure.as_uri()
    return quote(str(pure), safe="/")


def _result(finding: Finding, rule_index: int, fingerprint_value: str) -> dict[str, Any]:
    uri = artifact_uri(finding.file)
    artifact: dict[str, Any] = {"uri": uri}
    if not uri.startswith("file:"):
        artifact["uriBaseId"] = SRCROOT
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": _LEVEL[finding.severity],
        "message": {"text": f"{finding.message}\nHelp: {finding.help}"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": artifact,
                    "region": {
                        "startLine": finding.line,
                        "startColumn": finding.column,
                        "endLine": max(finding.end_line, finding.line),
                    },
                }
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint_value},
        "properties": {"category": finding.category.value},
    }
    if finding.suppressed:
        suppression: dict[str, Any] = {"kind": "inSource"}
        if finding.suppression_reason:
            suppression["justification"] = finding.suppression_reason
        result["suppressions"] = [suppression]
    return result


def _lead(rule: Rule, why: str) -> list[str]:
    """The summary, then the why (unless the why opens with the summary already)."""
    if not why:
        return [rule.summary]
    if " ".join(why.split("\n\n")[0].split()) == rule.summary:
        return [why]
    return [rule.summary, why]


def _clean(doc: str) -> str:
    return inspect.cleandoc(doc).strip() if doc else ""


def _help_text(rule: Rule, why: str) -> str:
    parts = _lead(rule, why.replace("``", ""))
    parts.append(f"Safer alternative: {rule.alternative}")
    parts.append(f"Bad:\n{rule.bad.strip()}")
    parts.append(f"Good:\n{rule.good.strip()}")
    return "\n\n".join(parts)


def _help_markdown(rule: Rule, why: str) -> str:
    parts = [authored_markdown(part) for part in _lead(rule, why)]
    parts.append(f"**Safer alternative:** {authored_markdown(rule.alternative)}")
    parts.append(f"Bad:\n\n```sql\n{rule.bad.strip()}\n```")
    parts.append(f"Good:\n\n```sql\n{rule.good.strip()}\n```")
    directive = f"-- safemigrate: ignore {rule.name} reason: <why this is safe>"
    parts.append(f"Suppress with a reason:\n\n```sql\n{directive}\n```")
    if rule.references:
        parts.append("References:\n\n" + "\n".join(f"- {authored_markdown(ref)}" for ref in rule.references))
    return "\n\n".join(parts)
