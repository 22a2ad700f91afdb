"""Text renderings of a catalog snapshot (``safemigrate snapshot``) and of a snapshot diff
(``safemigrate diff``): plain lines that read the same in a terminal, a CI log and a pull request.
The returned text has no trailing newline.
"""

from __future__ import annotations

from collections.abc import Sequence

from safemigrate.db.catalog.snapshot import Column, Index, Policy, Snapshot, Trigger
from safemigrate.db.diff import Change, SnapshotDiff, ident, ident_signature, qualified


def _mark(change: Change) -> str:
    name = type(change).__name__
    if name.endswith("Added"):
        return "+"
    if name.endswith(("Dropped", "Removed")):
        return "-"
    return "~"


def render_diff_text(diff: SnapshotDiff, *, color: bool = False) -> str:
    """One line per change, marked ``+`` (added), ``-`` (dropped or removed) or ``~`` (changed)."""
    if diff.equal:
        compared = "schema and data-dependent fields" if diff.data else "schema"
        return f"No differences ({compared} compared)."
    colors = {"+": "\x1b[32m", "-": "\x1b[31m", "~": "\x1b[33m"}
    lines = [f"{len(diff.changes)} difference{'s' if len(diff.changes) != 1 else ''}:"]
    for change in diff.changes:
        mark = _mark(change)
        shown = f"{colors[mark]}{mark}\x1b[0m" if color else mark
        lines.append(f"  {shown} {change.describe()}")
    return "\n".join(lines)


def pretty_size(size: int) -> str:
    """Bytes as pg_size_pretty shows them (8192 -> "8 kB")."""
    value = float(size)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if value < 10 * 1024 or unit == "TB":
            return f"{round(value)} {unit}"
        value /= 1024
    return f"{size} bytes"  # unreachable


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _column_line(column: Column, width: int) -> str:
    parts = [column.type]
    if column.collation:
        parts.append(f"COLLATE {column.collation}")
    if column.nullability != "NULL":
        parts.append(column.nullability)
    if column.default is not None:
        parts.append(f"DEFAULT {column.default}")
    if column.identity:
        parts.append(f"GENERATED {column.identity.upper()} AS IDENTITY")
    if column.generated:
        parts.append(column.generated)
    return f"    {ident(column.name).ljust(width)}  {' '.join(parts)}"


def _index_lines(indexes: Sequence[Index]) -> list[str]:
    return [f"    index {ident(i.name)}: {i.definition}{'' if i.valid else '  [INVALID]'}" for i in indexes]


def _trigger_lines(triggers: Sequence[Trigger]) -> list[str]:
    return [
        f"    trigger {ident(t.name)}: {t.definition}{'' if t.enabled == 'origin' else f'  [{t.enabled}]'}"
        for t in triggers
    ]


def _policy_line(policy: Policy) -> str:
    clauses = [
        "PERMISSIVE" if policy.permissive else "RESTRICTIVE",
        f"FOR {policy.command.upper()}",
        f"TO {', '.join(policy.roles)}",
    ]
    if policy.using is not None:
        clauses.append(f"USING ({policy.using})")
    if policy.with_check is not None:
        clauses.append(f"WITH CHECK ({policy.with_check})")
    return f"    policy {ident(policy.name)}: {' '.join(clauses)}"


def render_snapshot_text(snapshot: Snapshot) -> str:
    """A readable listing of every object of the snapshot, in the snapshot's order."""
    s = snapshot
    lines = [
        f"Schema{'s' if len(s.schemas) != 1 else ''} {', '.join(s.schemas)}: "
        + ", ".join(
            (
                _plural(len(s.tables), "table"),
                _plural(len(s.views), "view"),
                _plural(len(s.enums), "enum"),
                _plural(len(s.sequences), "sequence"),
                _plural(len(s.functions), "function"),
                _plural(len(s.extensions), "extension"),
            )
        )
    ]
    if s.extensions:
        lines.append("")
        lines.extend(f"extension {e.name} {e.version} (in {e.schema})" for e in s.extensions)
    if s.enums:
        lines.append("")
        lines.extend(f"enum {qualified(e.schema, e.name)} ({', '.join(repr(v) for v in e.values)})" for e in s.enums)
    if s.domains:
        lines.append("")
    for d in s.domains:
        parts = [d.type]
        if d.collation:
            parts.append(f"COLLATE {d.collation}")
        if d.not_null:
            parts.append("NOT NULL")
        if d.default is not None:
            parts.append(f"DEFAULT {d.default}")
        lines.append(f"domain {qualified(d.schema, d.name)} {' '.join(parts)}")
        lines.extend(f"    constraint {ident(k.name)}: {k.definition}" for k in d.constraints)
    if s.composite_types:
        lines.append("")
    for c in s.composite_types:
        fields = ", ".join(
            f"{ident(a.name)} {a.type}" + (f" COLLATE {a.collation}" if a.collation else "") for a in c.attributes
        )
        lines.append(f"composite type {qualified(c.schema, c.name)} ({fields})")
    for t in s.tables:
        rows = "rows not estimated yet" if t.estimated_rows is None else f"~{t.estimated_rows} rows"
        details = [rows, pretty_size(t.size_bytes)]
        if t.persistence != "logged":
            details.insert(0, t.persistence)
        if t.partition_key:
            details.insert(0, f"partitioned by {t.partition_key}")
        if t.partition_of:
            details.insert(0, f"partition of {t.partition_of} {t.partition_bound}")
        if t.inherits:
            details.insert(0, f"inherits {', '.join(t.inherits)}")
        if t.row_security:
            details.append("row-level security" + (" forced" if t.force_row_security else ""))
        lines.extend(("", f"table {qualified(t.schema, t.name)} ({', '.join(details)})"))
        width = max((len(ident(c.name)) for c in t.columns), default=0)
        lines.extend(_column_line(c, width) for c in t.columns)
        lines.extend(f"    {k.kind} {ident(k.name)}: {k.definition}" for k in t.constraints)  # says NOT VALID
        lines.extend(_index_lines(t.indexes))
        lines.extend(_trigger_lines(t.triggers))
        lines.extend(_policy_line(policy) for policy in t.policies)
    for v in s.views:
        options = f" WITH ({', '.join(v.options)})" if v.options else ""
        populated = "" if v.populated else "  [not populated]"
        lines.extend(("", f"{v.kind} {qualified(v.schema, v.name)}{options}{populated} AS"))
        lines.extend("   " + line.rstrip() for line in v.definition.strip("\n").splitlines())
        lines.extend(_index_lines(v.indexes))
        lines.extend(_trigger_lines(v.triggers))
    if s.sequences:
        lines.append("")
    for q in s.sequences:
        position = "unreadable" if q.last_value is None else f"last value {q.last_value}"
        if q.last_value is not None and not q.is_called:
            position = f"next value {q.last_value}"
        owner = f", {'identity of' if q.identity else 'owned by'} {q.owned_by}" if q.owned_by else ""
        lines.append(
            f"sequence {qualified(q.schema, q.name)} {q.data_type} start {q.start} increment {q.increment}, "
            f"{position}{owner}"
        )
    if s.functions:
        lines.append("")
    for f in s.functions:
        returns = f" returns {f.result}" if f.result is not None else ""
        flags = (
            [f.language, f.volatility]
            + (["strict"] if f.strict else [])
            + (["security definer"] if f.security_definer else [])
        )
        config = f", SET {', '.join(f.config)}" if f.config else ""
        lines.append(
            f"{f.kind} {ident_signature(f.schema, f.signature)}{returns} ({' '.join(flags)}{config}), "
            f"body sha256 {f.body_sha256[:12]}"
        )
    return "\n".join(lines)
