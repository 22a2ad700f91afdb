from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from safemigrate.lint.findings import FileReport, Finding, LintResult
from safemigrate.lint.rule import Category, ObjectRef, Severity
from safemigrate.report.console import visible_controls
from safemigrate.report.github import escape_data, escape_property, render_github


def _unescape(value: str, *, is_property: bool) -> str:
    # What the Actions runner does when it reads a command, in its order.
    pairs = [("%0D", "\r"), ("%0A", "\n")]
    if is_property:
        pairs += [("%3A", ":"), ("%2C", ",")]
    for escaped, raw in [*pairs, ("%25", "%")]:
        value = value.replace(escaped, raw)
    return value


def _finding(severity: Severity, message: str, file: str = "prisma/migrations/1_a/migration.sql") -> Finding:
    return Finding(
        "drop-column", "SM102", Category.DATA_LOSS, severity, file, 8, 3, 9, "1_a", 0,
        ObjectRef(table="T"), message, "Rename it: a, b", "ALTER TABLE T DROP COLUMN c",
    )  # fmt: skip


def test_escaping_of_message_and_properties() -> None:
    finding = _finding(Severity.ERROR, "100% lost,\r\nreally: yes", file="dir,with:odd%/migration.sql")
    line = render_github(LintResult((finding,), (FileReport(finding.file, "1_a", 1, "x"),)))
    assert line == (
        "::error file=dir%2Cwith%3Aodd%25/migration.sql,line=8,col=3,endLine=9,"
        "title=safemigrate drop-column::100%25 lost,%0D%0Areally: yes (Rename it: a, b)"
    )
    assert "\n" not in line


def test_severity_to_command_and_suppressed_skipped() -> None:
    findings = (
        _finding(Severity.ERROR, "e"),
        _finding(Severity.WARNING, "w"),
        _finding(Severity.INFO, "i"),
        replace(_finding(Severity.ERROR, "s"), suppressed=True, suppression_reason="ok"),
    )
    lines = render_github(LintResult(findings, ())).splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == ["::error", "::warning", "::notice"]


def test_nothing_to_annotate() -> None:
    assert render_github(LintResult((), ())) == ""


@given(st.text())
def test_escaping_round_trips(value: str) -> None:
    # What the runner reads back is the text, with the controls other than CR and LF made visible.
    shown = "".join(ch if ch in "\r\n" else visible_controls(ch) for ch in value)
    assert _unescape(escape_property(value), is_property=True) == shown
    assert _unescape(escape_data(value), is_property=False) == shown
    assert not set(escape_property(value)) & {"\r", "\n", ",", ":"}
    assert not set(escape_data(value)) & {"\r", "\n"}


def test_control_characters_from_a_migration_do_not_reach_the_log_raw() -> None:
    """A quoted name can hold ESC, BEL or a C1 CSI: written raw, the CI log would run them as escape
    sequences (colours, a window title). They are shown as visible symbols instead."""
    name = "A\x1b[31mRED\x1b]0;title\x07\x9b2J\x00"
    finding = _finding(Severity.ERROR, f"Dropping table {name} deletes all of its rows.")
    line = render_github(LintResult((finding,), ()))
    assert "Dropping table A\u241b[31mRED\u241b]0;title\u2407\ufffd2J\u2400 deletes" in line
    assert not [ch for ch in line if ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0]
