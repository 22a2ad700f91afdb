"""Generate the rule reference pages from the rule catalog.

    python -m safemigrate.docs_gen [--check] [--docs-dir docs/rules]

Writes ``<name>.md`` for every rule in ``safemigrate.lint.registry.RULES`` plus ``README.md`` (the
index), and deletes pages of rules that no longer exist. ``--check`` writes nothing and exits 1
listing the pages that are stale, missing or extra (CI runs it); exit 0 when the docs are fresh.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from safemigrate.lint.registry import RULES
from safemigrate.lint.rule import Rule
from safemigrate.report.rule_page import render_rule_index, render_rule_page

DEFAULT_DOCS_DIR = Path("docs/rules")
INDEX = "README.md"
_MARKER = "<!-- Generated from the rule catalog by `python -m safemigrate.docs_gen`; do not edit. -->"


def expected_rule_docs(rules: Sequence[Rule] = RULES) -> dict[str, str]:
    """File name -> content of every page the docs directory should hold."""
    pages = {f"{rule.name}.md": _page(render_rule_page(rule)) for rule in rules}
    pages[INDEX] = _page(render_rule_index(rules))
    return pages


def stale_rule_docs(docs_dir: Path, rules: Sequence[Rule] = RULES) -> list[str]:
    """What is wrong with ``docs_dir``: ``"<file>: missing" | "<file>: stale" | "<file>: extra"``.

    An empty list means the pages match the catalog exactly.
    """
    expected = expected_rule_docs(rules)
    problems = []
    for name, content in sorted(expected.items()):
        path = docs_dir / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif path.read_bytes().decode("utf-8", errors="replace") != content:
            problems.append(f"{name}: stale")
    problems.extend(f"{name}: extra" for name in _markdown_files(docs_dir) if name not in expected)
    return problems


def write_rule_docs(docs_dir: Path, rules: Sequence[Rule] = RULES) -> list[str]:
    """Bring ``docs_dir`` up to date; return what changed (``"<file>: written"`` / ``": removed"``)."""
    expected = expected_rule_docs(rules)
    changes = []
    docs_dir.mkdir(parents=True, exist_ok=True)
    for name, content in sorted(expected.items()):
        path = docs_dir / name
        data = content.encode("utf-8")
        if not path.is_file() or path.read_bytes() != data:
            path.write_bytes(data)
            changes.append(f"{name}: written")
    for name in _markdown_files(docs_dir):
        if name not in expected:
            (docs_dir / name).unlink()
            changes.append(f"{name}: removed")
    return changes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m safemigrate.docs_gen", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when the docs are stale")
    parser.add_argument("--docs-dir", type=Path, default=DEFAULT_DOCS_DIR, help="default: docs/rules")
    args = parser.parse_args(argv)
    docs_dir: Path = args.docs_dir
    if args.check:
        problems = stale_rule_docs(docs_dir)
        for problem in problems:
            sys.stderr.write(f"{docs_dir / problem}\n")
        if problems:
            sys.stderr.write("Rule docs are out of date: run python -m safemigrate.docs_gen and commit the result.\n")
            return 1
        sys.stdout.write(f"{docs_dir}: {len(RULES)} rule pages up to date.\n")
        return 0
    changes = write_rule_docs(docs_dir)
    for change in changes:
        sys.stdout.write(f"{docs_dir / change}\n")
    sys.stdout.write(f"{docs_dir}: {len(RULES)} rule pages, {len(changes)} file(s) changed.\n")
    return 0


def _page(text: str) -> str:
    return f"{_MARKER}\n\n{text}\n"


def _markdown_files(docs_dir: Path) -> list[str]:
    if not docs_dir.is_dir():
        return []
    return sorted(p.name for p in docs_dir.iterdir() if p.is_file() and p.suffix == ".md")


if __name__ == "__main__":
    sys.exit(main())
