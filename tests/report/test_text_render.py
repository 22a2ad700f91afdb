from __future__ import annotations

import re
from dataclasses import replace

import pytest

from safemigrate.lint.findings import FileReport, Finding, LintResult
from safemigrate.lint.rule import Category, ObjectRef, Severity
from safemigrate.report.text import FRAME_LINES, render_text


def _finding(statement_text: str, *, line: int = 3, column: int = 1) -> Finding:
    return Finding(
        "drop-column", "SM102", Category.DATA_LOSS, Severity.ERROR, "m.sql", line, column, line,
        "m", 0, ObjectRef("public", "T", "c"), "Dropping column T.c.", "Rename it.", statement_text,
    )  # fmt: skip


@pytest.mark.parametrize("env", ["FORCE_COLOR", "CLICOLOR_FORCE", "TTY_COMPATIBLE"])
def test_no_ansi_without_color_whatever_the_environment(
    lint_result: LintResult, monkeypatch: pytest.MonkeyPatch, env: str
) -> None:
    monkeypatch.setenv(env, "1")
    monkeypatch.setenv("TERM", "xterm-256color")
    assert "\x1b" not in render_text(lint_result, color=False)


def test_color_even_on_a_dumb_terminal(lint_result: LintResult, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.setenv("NO_COLOR", "1")
    colored = render_text(lint_result, color=True)
    assert "\x1b[" in colored
    # Same words as the plain rendering, only styled.
    plain = render_text(lint_result, color=False)
    assert re.sub(r"\x1b\[[0-9;]*m", "", colored) == plain


def test_long_statement_frame_is_cut_after_six_lines() -> None:
    body = "\n".join(f"    col{i} INTEGER," for i in range(20))
    finding = _finding(f'CREATE TABLE "T" (\n{body}\n)', line=10)
    out = render_text(LintResult((finding,), (FileReport("m.sql", "m", 1, "x"),)), color=False)
    frame = [line for line in out.splitlines() if " | " in line or line.rstrip().endswith("|")]
    numbered = [line for line in frame if line.strip()[0].isdigit()]
    assert len(numbered) == FRAME_LINES
    assert numbered[0].strip().startswith("10 | CREATE TABLE")
    assert numbered[-1].strip().startswith(f"{10 + FRAME_LINES - 1} |")
    assert any(line.rstrip().endswith("| ...") for line in frame)


def test_caret_sits_under_the_first_token_at_its_column() -> None:
    finding = _finding('DROP TABLE "T"', line=4, column=7)
    out = render_text(LintResult((finding,), ()), color=False).splitlines()
    source = next(i for i, line in enumerate(out) if "DROP TABLE" in line)
    caret_line = out[source + 1]
    assert caret_line.index("^") == out[source].index("DROP")
    assert caret_line.count("^") == len("DROP")


def test_file_level_finding_has_no_frame() -> None:
    finding = Finding(
        "empty-migration", "SM503", Category.UNCHECKED, Severity.INFO, "m.sql", 1, 1, 1, "m", None,
        ObjectRef(), "m.sql contains no SQL statement.", "Delete it.",
    )  # fmt: skip
    out = render_text(LintResult((finding,), (FileReport("m.sql", "m", 0, "empty"),)), color=False)
    assert " | " not in out
    assert "m.sql:1:1  info  empty-migration  [unchecked]" in out
    assert out.splitlines()[-1] == "1 info in 1 file (0 statements)"


def test_clean_result_says_no_findings() -> None:
    result = LintResult((), (FileReport("a.sql", "a", 2, "single implicit transaction"),))
    out = render_text(result, color=False)
    assert out.splitlines()[-1] == "No findings in 1 file (2 statements)"
    assert "a.sql: 2 statements, single implicit transaction, clean" in out


@pytest.mark.parametrize("color", [False, True])
def test_control_characters_of_the_migration_are_shown_not_sent_to_the_terminal(color: bool) -> None:
    """ESC, BEL and C1 controls in a quoted name reach the message and the code frame: printed raw they
    would act on the reader's terminal. Only rich's own colour codes may be escape sequences."""
    name = '"A\x1b[2J\x1b]0;title\x07\x9bB"'
    finding = replace(_finding(f"DROP TABLE {name};"), message=f"Dropping table {name} deletes all of its rows.")
    out = render_text(LintResult((finding,), (FileReport(finding.file, "1_a", 1, "x"),)), color=color)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)  # rich's SGR colour codes
    assert not [ch for ch in plain if (ord(ch) < 0x20 and ch != "\n") or 0x7F <= ord(ch) < 0xA0]
    assert plain.count('"A\u241b[2J\u241b]0;title') == 2  # in the message and in the frame
