"""Text and JSON renderings of `safemigrate validate`."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from safemigrate.validate import ValidateReport


def render_validate_text(report: ValidateReport) -> str:
    lines = [f"Validated {report.database}"]
    integrity = report.integrity
    for index in integrity.invalid_indexes:
        lines.append(
            f"  invalid index {index.schema}.{index.index_name} on {index.table_name}: PostgreSQL does not use it "
            f'(drop it and build it again: DROP INDEX CONCURRENTLY "{index.index_name}"; {index.definition};)'
        )
    for constraint in integrity.unvalidated_constraints:
        lines.append(
            f"  {constraint.kind} {constraint.constraint_name} on {constraint.table_name} is NOT VALID: existing "
            f'rows were never checked (ALTER TABLE "{constraint.table_name}" VALIDATE CONSTRAINT '
            f'"{constraint.constraint_name}";)'
        )
    for orphans in integrity.orphans:
        lines.append(
            f"  {orphans.rows} row(s) of {orphans.table_name} reference a missing {orphans.parent_table} "
            f"({orphans.constraint_name}); for example: {'; '.join(orphans.examples)}"
        )
    for behind in integrity.sequences_behind:
        lines.append(
            f"  sequence {behind.sequence_name} would next give {behind.next_value}, but "
            f"{behind.table_name}.{behind.column_name} already holds {behind.column_max}: the next insert fails "
            f"(SELECT setval('\"{behind.sequence_name}\"', {behind.column_max});)"
        )
    for unread in integrity.sequences_not_checked:
        lines.append(
            f"  sequence {unread.sequence_name} of {unread.table_name}.{unread.column_name}: {unread.reason} "
            "(not counted as a problem)"
        )
    drift = report.drift
    if drift is not None:
        if drift.replay_failure:
            lines.append(f"  the applied migrations do not replay on an empty database: {drift.replay_failure}")
        for name in drift.missing_locally:
            lines.append(f"  migration {name} is applied but missing locally, so the replay is incomplete")
        for change in drift.changes:
            lines.append(f"  drift: {change.describe()}")
    problems = integrity.problems + (
        len(drift.changes) + len(drift.missing_locally) + bool(drift.replay_failure) if drift else 0
    )
    if problems:
        lines.append(f"{problems} problem(s) found.")
    else:
        replayed = f"; {len(drift.replayed)} applied migrations replayed, no drift" if drift else ""
        lines.append(f"No problems found{replayed}.")
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def render_validate_json(report: ValidateReport) -> str:
    drift = report.drift
    document = {
        "version": 1,
        "database": report.database,
        "failed": report.failed,
        "integrity": _plain(report.integrity),
        "drift": None
        if drift is None
        else {
            "replayed": list(drift.replayed),
            "missing_locally": list(drift.missing_locally),
            "replay_failure": drift.replay_failure,
            "changes": [{"kind": c.kind, "description": c.describe()} for c in drift.changes],
        },
    }
    return json.dumps(document, indent=2, ensure_ascii=False, default=str)
