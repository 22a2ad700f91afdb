"""dry-run reports: text for a terminal or CI log, JSON for tools, markdown for a CI job summary."""

from __future__ import annotations

import json
from typing import Any

from safemigrate.db.diff import diff_to_dict
from safemigrate.pipeline.apply import MigrationTrace, StatementTrace
from safemigrate.pipeline.rehearse import Rehearsal
from safemigrate.report.templating import render

REHEARSAL_FORMAT_VERSION = 1


def _statement_dict(s: StatementTrace) -> dict[str, Any]:
    return {
        "index": s.index,
        "line": s.line,
        "column": s.column,
        "text": s.text,
        "seconds": round(s.seconds, 6),
        "rows": s.rows,
        "locks": [{"relation": lock.relation, "mode": lock.mode} for lock in s.locks],
        "rewritten": list(s.rewritten),
    }


def _migration_dict(t: MigrationTrace) -> dict[str, Any]:
    error = t.error
    return {
        "name": t.name,
        "file": t.file,
        "outcome": t.outcome,
        "transactional": t.transactional,
        "seconds": round(t.seconds, 6),
        "rows_changed": sum(s.rows or 0 for s in t.statements),
        "locks": sorted({f"{lock.relation}:{lock.mode}" for s in t.statements for lock in s.locks}),
        "rewritten": sorted({name for s in t.statements for name in s.rewritten}),
        "statements": [_statement_dict(s) for s in t.statements],
        "error": None
        if error is None
        else {
            "sqlstate": error.sqlstate,
            "message": error.message,
            "file": error.file,
            "line": error.line,
            "column": error.column,
        },
    }


def rehearsal_to_dict(rehearsal: Rehearsal) -> dict[str, Any]:
    t = rehearsal.timings
    return {
        "version": REHEARSAL_FORMAT_VERSION,
        "ok": rehearsal.ok,
        "mode": rehearsal.mode,
        "database": rehearsal.database,
        "clone": {
            "provider": rehearsal.clone_provider,
            "description": rehearsal.clone_description,
            "server_major": rehearsal.clone_major,
        },
        "warnings": list(rehearsal.warnings),
        "backup_id": rehearsal.backup_id,
        "data_tables": list(rehearsal.data_tables),
        "migrations": [_migration_dict(m) for m in rehearsal.result.migrations],
        "schema_changes": diff_to_dict(rehearsal.schema_diff)["changes"] if rehearsal.schema_diff else None,
        "fingerprints": dict(rehearsal.fingerprints),
        "timings": {
            "clone": round(t.clone, 3),
            "schema": round(t.schema, 3),
            "backup": round(t.backup, 3),
            "data": round(t.data, 3),
            "apply": round(t.apply, 3),
            "inspect": round(t.inspect, 3),
            "total": round(t.total, 3),
        },
        "dropped_stale_clones": list(rehearsal.dropped_stale),
    }


def render_rehearsal_json(rehearsal: Rehearsal, *, pretty: bool = False) -> str:
    return json.dumps(rehearsal_to_dict(rehearsal), indent=2 if pretty else None, ensure_ascii=False)


def _locks(t: MigrationTrace) -> str:
    modes = sorted({f"{lock.mode} on {lock.relation}" for s in t.statements for lock in s.locks})
    return ", ".join(modes) if modes else "none"


def render_rehearsal_text(rehearsal: Rehearsal) -> str:
    lines: list[str] = []
    if rehearsal.mode == "history":
        lines.append(f"Replayed the whole history on {rehearsal.clone_description} (no database configured).")
    else:
        lines.append(f"Rehearsed on {rehearsal.clone_description}, a clone of {rehearsal.database}.")
        if rehearsal.backup_id:
            lines.append(f"Seeded with backup {rehearsal.backup_id} ({', '.join(rehearsal.data_tables)}): it restores.")
    lines.extend(f"warning: {w}" for w in rehearsal.warnings)
    if not rehearsal.result.migrations:
        lines.append("No pending migrations: nothing to rehearse.")
    for trace in rehearsal.result.migrations:
        rows = sum(s.rows or 0 for s in trace.statements)
        rewrites = sorted({name for s in trace.statements for name in s.rewritten})
        head = f"{trace.outcome:>11}  {trace.name}"
        if trace.outcome in ("applied", "rolled back"):
            head += f"  {trace.seconds * 1000:.0f} ms, {rows:,} rows changed"
        lines.append(head)
        if trace.statements and trace.outcome != "not run":
            lines.append(f"             locks: {_locks(trace)}")
            if rewrites:
                lines.append(f"             rewrites: {', '.join(rewrites)}")
        if trace.error is not None:
            e = trace.error
            lines.append(f"             {e.file}:{e.line}:{e.column}: error {e.sqlstate}: {e.message}")
    if rehearsal.schema_diff is not None:
        changes = rehearsal.schema_diff.changes
        lines.append(f"Schema changes: {len(changes)}" if changes else "Schema changes: none")
        lines.extend(f"  {c.describe()}" for c in changes)
    t = rehearsal.timings
    lines.append(
        f"Time: {t.total:.1f} s (clone {t.clone:.1f}, schema {t.schema:.1f}, backup {t.backup:.1f}, "
        f"data {t.data:.1f}, apply {t.apply:.1f}, inspect {t.inspect:.1f})"
    )
    if rehearsal.dropped_stale:
        lines.append(f"Dropped clones left by an earlier run: {', '.join(rehearsal.dropped_stale)}")
    lines.append("Rehearsal passed." if rehearsal.ok else "Rehearsal FAILED: the migration would fail as shown.")
    return "\n".join(lines)


def render_rehearsal_markdown(rehearsal: Rehearsal) -> str:
    return render("rehearsal.md.j2", r=rehearsal_to_dict(rehearsal), changes=rehearsal.schema_diff)
