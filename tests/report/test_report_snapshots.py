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
