"""``lint --format json``: the machine-readable contract of the design, key order included.

Suppressed findings stay in ``findings`` with ``"suppressed": true`` and their reason; the
``summary`` counts only active ones. A top-level ``migrations`` list (after ``summary``) gives each
file's statement count and transaction shape. The returned text has no trailing newline.
"""

from __future__ import annotations

import json
from typing import Any

from safemigrate.lint.findings import FileReport, Finding, LintResult
from safemigrate.report.counts import by_category, by_severity

FORMAT_VERSION = 1


def render_json(result: LintResult, tool_version: str, *, pretty: bool = True) -> str:
    """The JSON document for ``result``, as produced by ``safemigrate <tool_version>``.

    ``pretty=False`` writes one line (the CLI indents only for a terminal), with orjson: the same
    bytes as ``json.dumps(..., ensure_ascii=False, separators=(",", ":"))`` about ten times faster,
    which is most of the cost of a cached run on a long history. What orjson refuses (a file name
    that is not UTF-8, kept as lone surrogates) is written by json instead.
    """
    document = json_document(result, tool_version)
    if pretty:
        return json.dumps(document, indent=2, ensure_ascii=False)
    return compact_json(document)


def compact_json(document: Any) -> str:
    """``document`` on one line, as ``json.dumps(document, ensure_ascii=False, separators=(",", ":"))``."""
    import orjson

    try:
        return orjson.dumps(document).decode("utf-8")
    except TypeError:  # orjson.JSONEncodeError: lone surrogates, integers beyond 64 bits
        return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def json_document(result: LintResult, tool_version: str) -> dict[str, Any]:
    """The same document as plain dicts and lists (for callers that embed it)."""
    active = result.active()
    return {
        "version": FORMAT_VERSION,
        "tool": f"safemigrate {tool_version}",
        "findings": [_finding(f) for f in result.findings],
        "summary": {
            "files": len(result.files),
            "statements": result.statements,
            "findings": len(active),
            "by_severity": by_severity(active),
            "by_category": by_category(active),
        },
        "migrations": [_migration(r) for r in result.files],
    }


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "rule": finding.rule,
        "category": finding.category.value,
        "severity": finding.severity.value,
        "file": finding.file,
        "line": finding.line,
        "column": finding.column,
        "end_line": finding.end_line,
        "migration": finding.migration,
        "statement_index": finding.statement_index,
        "object": finding.object.as_dict(),
        "message": finding.message,
        "help": finding.help,
        "suppressed": finding.suppressed,
        "suppression_reason": finding.suppression_reason,
    }


def _migration(report: FileReport) -> dict[str, Any]:
    return {
        "file": report.file,
        "migration": report.migration,
        "statements": report.statements,
        "transaction": report.transaction,
    }
