"""What the user reads, compared with reviewed snapshots in __snapshots__/ (pytest --snapshot-update)."""

from __future__ import annotations

from syrupy.assertion import SnapshotAssertion

from safemigrate.lint.findings import LintResult
from safemigrate.report.github import render_github
from safemigrate.report.json_report import render_json
from safemigrate.report.markdown import render_markdown
from safemigrate.report.text import render_text


def test_text_plain(lint_result: LintResult, text_snapshot: SnapshotAssertion) -> None:
    assert render_text(lint_result, color=False) == text_snapshot


def test_text_color(lint_result: LintResult, text_snapshot: SnapshotAssertion) -> None:
    assert render_text(lint_result, color=True) == text_snapshot


def test_json(lint_result: LintResult, json_snapshot: SnapshotAssertion) -> None:
    assert render_json(lint_result, "0.1.0") == json_snapshot


def test_github(lint_result: LintResult, text_snapshot: SnapshotAssertion) -> None:
    assert render_github(lint_result) == text_snapshot


def test_markdown(lint_result: LintResult, markdown_snapshot: SnapshotAssertion) -> None:
    assert render_markdown(lint_result, "0.1.0") == markdown_snapshot


def test_markdown_shows_control_characters_of_the_migration(lint_result: LintResult) -> None:
    """A name holding ESC or BEL reaches the PR comment visible, in prose, table cells and code spans."""
    from dataclasses import replace

    first = lint_result.findings[0]
    name = "A\x1b[31m\x07"
    odd = replace(first, message=f"Dropping table {name}.", help=f"Back up {name}.", statement_text=f'DROP "{name}"')
    out = render_markdown(replace(lint_result, findings=(odd, *lint_result.findings[1:])), "0.1.0")
    assert "A\u241b\\[31m\u2407" in out
    assert not [ch for ch in out if (ord(ch) < 0x20 and ch not in "\n") or 0x7F <= ord(ch) < 0xA0]
