"""The terminal / CI log rendering of a lint result.

Every active finding gets a header (``file:line:column  severity  rule  [category]``), its message,
a code frame of the statement with a caret under its first token, and the help. Suppressed
findings follow in one line each, then each file's transaction shape and the summary line.

Colour is ANSI through rich and only when asked for: with ``color=False`` the output contains no
escape sequence whatever the environment says (``FORCE_COLOR``, ``TERM``...). The returned text has
no trailing newline.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from rich.text import Text

from safemigrate.lint.findings import FileReport, Finding, LintResult
from safemigrate.lint.rule import Severity
from safemigrate.report.console import render_lines
from safemigrate.report.counts import plural, severity_phrase, summary_line

FRAME_LINES = 6  # statement lines shown in a code frame before "..."
MAX_LINE_CHARS = 160  # longer source lines are cut in the frame
_WIDTH = 10_000  # rich never wraps: lines are as long as they are

_SEVERITY_STYLE = {
    Severity.ERROR: "bold red",
    Severity.WARNING: "bold yellow",
    Severity.INFO: "bold blue",
    Severity.OFF: "dim",
}
_GUTTER = "blue"


def render_text(result: LintResult, *, color: bool) -> str:
    """Render ``result`` for a terminal (``color=True``: ANSI colours) or a plain log."""
    return render_lines(_lines(result), color=color, width=_WIDTH)


def _lines(result: LintResult) -> Iterator[Text]:
    active = result.active()
    for finding in active:
        yield from _finding_block(finding)
        yield Text()
    suppressed = [f for f in result.findings if f.suppressed]
    if suppressed:
        yield Text(f"suppressed ({len(suppressed)}):", style="bold")
        for finding in suppressed:
            reason = finding.suppression_reason or "no reason given"
            yield Text.assemble(
                "  ",
                (finding.rule, "dim bold"),
                (f" at {finding.file}:{finding.line} — {reason}", "dim"),
            )
        yield Text()
    per_file: dict[str, list[Finding]] = defaultdict(list)
    for finding in active:
        per_file[finding.file].append(finding)
    for report in result.files:
        yield _file_line(report, per_file.get(report.file, []))
    if result.files:
        yield Text()
    style = _SEVERITY_STYLE[_worst(active)] if active else "bold green"
    yield Text(summary_line(result), style=style)


def _finding_block(finding: Finding) -> Iterator[Text]:
    severity_style = _SEVERITY_STYLE[finding.severity]
    yield Text.assemble(
        (f"{finding.file}:{finding.line}:{finding.column}", "bold"),
        "  ",
        (finding.severity.value, severity_style),
        "  ",
        (finding.rule, "bold"),
        "  ",
        (f"[{finding.category.value}]", "dim"),
    )
    yield Text("  " + finding.message)
    if finding.statement_text:
        yield Text()
        yield from _code_frame(finding, severity_style)
    yield Text.assemble("  ", ("help:", "bold cyan"), " " + finding.help)


def _code_frame(finding: Finding, caret_style: str) -> Iterator[Text]:
    """The statement's first lines with their numbers, a caret under the first token."""
    lines = finding.statement_text.split("\n")
    shown = lines[:FRAME_LINES]
    number_width = len(str(finding.line + len(shown) - 1))
    gutter_blank = " " * (number_width + 1) + "| "
    for offset, raw in enumerate(shown):
        text = raw.rstrip("\r").expandtabs(4)
        if offset == 0:
            text = " " * (finding.column - 1) + text
        yield Text.assemble("  ", (f"{finding.line + offset:>{number_width}} | ", _GUTTER), _cut(text))
        if offset == 0:
            token = _first_token(lines[0])
            yield Text.assemble(
                "  ", (gutter_blank, _GUTTER), " " * (finding.column - 1), ("^" * len(token), caret_style)
            )
    if len(lines) > FRAME_LINES:
        yield Text.assemble("  ", (gutter_blank, _GUTTER), "...")


def _first_token(line: str) -> str:
    """The statement's first word (``ALTER``, ``CREATE``...): what the caret underlines."""
    token = ""
    for ch in line:
        if ch.isspace() or ch in "(;,":
            break
        token += ch
    return token or line[:1] or " "


def _cut(text: str) -> str:
    return text if len(text) <= MAX_LINE_CHARS else text[: MAX_LINE_CHARS - 3] + "..."


def _file_line(report: FileReport, findings: list[Finding]) -> Text:
    verdict = severity_phrase(findings) or "clean"
    style = _SEVERITY_STYLE[_worst(findings)] if findings else "green"
    return Text.assemble(
        (report.file, "bold"),
        f": {plural(report.statements, 'statement')}, {report.transaction}, ",
        (verdict, style),
    )


def _worst(findings: list[Finding] | tuple[Finding, ...]) -> Severity:
    return max((f.severity for f in findings), key=lambda s: s.rank)
