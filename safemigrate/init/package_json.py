"""Add npm scripts to package.json and keep the file as it was written: indent, key order, newlines.

The file is parsed and written back the way npm itself rewrites package.json (detect the indent and
the newline of the original, ``JSON.stringify`` with that indent, keep what followed the closing
brace), so a package.json that npm, yarn, pnpm or Prettier last wrote keeps every other byte.
A file that already has every script is never rewritten.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safemigrate.errors import ProjectError

_BOM = "\ufeff"
_FIRST_INDENT = re.compile(r"^([ \t]+)\S", re.MULTILINE)


@dataclass(frozen=True)
class JsonLayout:
    """How a JSON file is laid out, to write it back the same way."""

    indent: str | None  # "  ", "    ", "\t"...; None for a file on one line
    newline: str  # "\n" or "\r\n"
    trailing: str  # whatever followed the closing brace (usually one newline)
    bom: bool


@dataclass(frozen=True)
class ScriptsUpdate:
    text: str  # the new file text (the original text when nothing changed)
    added: tuple[str, ...]  # script names added
    kept: tuple[tuple[str, str], ...]  # (name, existing command) left alone: same name, other command
    replaced: tuple[tuple[str, str], ...]  # (name, previous command) overwritten because of force
    created_scripts: bool  # the file had no "scripts" object

    @property
    def changed(self) -> bool:
        return bool(self.added or self.replaced)


def detect_layout(text: str) -> JsonLayout:
    """The indent of the first indented line, the newline style, and the text after the closing brace."""
    bom = text.startswith(_BOM)
    body = text[1:] if bom else text
    stripped = body.rstrip()
    match = _FIRST_INDENT.search(stripped)
    indent = match.group(1) if match else None
    if indent is not None and "\t" in indent:
        indent = "\t"
    if "\n" not in stripped:
        indent = None
    newline = "\r\n" if "\r\n" in body else "\n"
    return JsonLayout(indent, newline, body[len(stripped) :], bom)


def render_json(data: Any, layout: JsonLayout) -> str:
    """``data`` written as JSON.stringify(data, null, indent) would, in ``layout``."""
    if layout.indent is None:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    else:
        text = json.dumps(data, ensure_ascii=False, indent=layout.indent)
    if layout.newline != "\n":
        text = text.replace("\n", layout.newline)
    return (_BOM if layout.bom else "") + text + layout.trailing


def add_scripts(text: str, scripts: Mapping[str, str], force: bool, where: Path) -> ScriptsUpdate:
    """package.json text with ``scripts`` added; a script of the same name is kept unless ``force``."""
    layout = detect_layout(text)
    try:
        data = json.loads(text[1:] if layout.bom else text, object_pairs_hook=dict)
    except ValueError as err:
        raise ProjectError(f"{where} is not valid JSON ({err}).", "Fix package.json, then run init again.") from err
    if not isinstance(data, dict):
        raise ProjectError(f"{where} does not hold a JSON object.", "Fix package.json, then run init again.")
    existing = data.get("scripts")
    created_scripts = existing is None
    if created_scripts:
        existing = data["scripts"] = {}
    if not isinstance(existing, dict):
        raise ProjectError(f'"scripts" in {where} is not an object.', "Fix package.json, then run init again.")
    added: list[str] = []
    kept: list[tuple[str, str]] = []
    replaced: list[tuple[str, str]] = []
    for name, command in scripts.items():
        current = existing.get(name)
        if current == command:
            continue
        if current is None:
            added.append(name)
        elif force:
            replaced.append((name, str(current)))
        else:
            kept.append((name, str(current)))
            continue
        existing[name] = command  # a replaced script keeps its place; a new one goes last
    if not added and not replaced:
        return ScriptsUpdate(text, (), tuple(kept), (), created_scripts=False)
    return ScriptsUpdate(render_json(data, layout), tuple(added), tuple(kept), tuple(replaced), created_scripts)
