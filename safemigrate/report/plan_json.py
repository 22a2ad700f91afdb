"""``plan --format json``: one document, keys in a fixed order.

    {"version": 1, "tool": "safemigrate 0.1.0",
     "database": {"url": "postgresql://app:****@db:5432/app", "schema": "public", "server_version": 150004},
     "verdict": {"predicts_failure": true, "failed_checks": 1, "unfinished_checks": 0,
                 "failed_migrations": []},
     "migrations": [{"name": "...", "file": "...", "state": "pending", "statements": 2,
                     "transaction": "single implicit transaction"}],
     "findings": [{...as in lint --format json..., "lint_severity": "warning",
                   "table": {"schema": "public", "name": "User", "rows_estimate": 200, "total_bytes": 49152},
                   "severity_reason": "User holds about 200 rows ..."}],
     "checks": [{"kind": "duplicates", "outcome": "failed", "migration": "...", "file": "...", "line": 5,
                 "statement_index": 1, "table": "User", "columns": ["email"], "description": "...",
                 "count": 1, "samples": ["ann@example.com (×2)"], "sample_label": "email",
                 "detail": "2 rows share 1 key value", "seconds": 0.002}],
     "blockers": [{"pid": 4242, "application_name": "worker", "usename": "app", "state": "idle in transaction",
                   "transaction_age_seconds": 312.5, "tables": ["User"], "modes": ["AccessShareLock"],
                   "query": "SELECT ..."}],
     "backup_scope": {"schema": "public", "tables": ["User"], "reasons": {"User": ["..."]},
                      "skipped": [{"name": "comments", "reason": "..."}], "unread": []},
     "clone": "database",
     "settings": {"large_table_rows": 1000000, ...}}

``outcome`` is passed, failed, skipped or unfinished; ``count`` is null when unknown. The returned
text has no trailing newline.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from safemigrate.plan.model import Blocker, CheckResult, Plan, PlanFinding
from safemigrate.report.json_report import _finding as finding_dict  # a finding as `lint --format json` writes it

FORMAT_VERSION = 1


def plan_document(plan: Plan, tool_version: str) -> dict[str, Any]:
    scope = plan.backup_scope
    return {
        "version": FORMAT_VERSION,
        "tool": f"safemigrate {tool_version}",
        "database": {"url": plan.database or None, "schema": plan.schema, "server_version": plan.server_version},
        "verdict": {
            "predicts_failure": plan.predicts_failure,
            "failed_checks": len(plan.failed_checks),
            "unfinished_checks": len(plan.unfinished_checks),
            "failed_migrations": list(plan.failed_migrations),
        },
        "migrations": [
            {
                "name": m.name,
                "file": m.file,
                "state": m.state,
                "statements": m.statements,
                "transaction": m.transaction,
            }
            for m in plan.migrations
        ],
        "findings": [_finding(f) for f in plan.findings],
        "checks": [_check(c) for c in plan.checks],
        "blockers": [_blocker(b) for b in plan.blockers],
        "backup_scope": None
        if scope is None
        else {
            "schema": scope.schema,
            "tables": list(scope.tables),
            "reasons": {table: list(reasons) for table, reasons in scope.reasons.items()},
            "skipped": [{"name": s.name, "reason": s.reason} for s in scope.skipped],
            "unread": list(scope.unread),
        },
        "clone": plan.clone,
        "settings": asdict(plan.settings),
    }


def _finding(planned: PlanFinding) -> dict[str, Any]:
    table = planned.table
    return {
        **finding_dict(planned.finding),
        "lint_severity": planned.lint_severity.value,
        "table": None
        if table is None
        else {
            "schema": table.schema,
            "name": table.name,
            "rows_estimate": table.rows_estimate,
            "total_bytes": table.total_bytes,
        },
        "severity_reason": planned.reason or None,
    }


def _check(check: CheckResult) -> dict[str, Any]:
    return {
        "kind": check.kind,
        "outcome": check.outcome,
        "migration": check.migration,
        "file": check.file,
        "line": check.line,
        "statement_index": check.statement_index,
        "table": check.table,
        "columns": list(check.columns),
        "description": check.description,
        "count": check.count,
        "samples": list(check.samples),
        "sample_label": check.sample_label or None,
        "detail": check.detail or None,
        "seconds": round(check.seconds, 3),
    }


def _blocker(blocker: Blocker) -> dict[str, Any]:
    return {
        "pid": blocker.pid,
        "application_name": blocker.application_name,
        "usename": blocker.usename,
        "state": blocker.state,
        "transaction_age_seconds": None if blocker.transaction_age is None else round(blocker.transaction_age, 1),
        "tables": list(blocker.tables),
        "modes": list(blocker.modes),
        "query": blocker.query,
    }


def render_plan_json(plan: Plan, tool_version: str, *, pretty: bool = True) -> str:
    document = plan_document(plan, tool_version)
    if pretty:
        return json.dumps(document, indent=2, ensure_ascii=False)
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))
