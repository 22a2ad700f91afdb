"""Render rich text lines to a string: ANSI colours for a terminal, plain text for logs."""

from __future__ import annotations

import io
from collections.abc import Iterable

from rich.console import Console
from rich.text import Text

WIDTH = 120

# C0 controls but newline and tab, DEL, and C1 controls: a migration file can hold them (a quoted name, a
# string), and printed raw they reach the reader's terminal or CI log as escape sequences (colours, a
# window title, a cleared screen). Each is shown as its one-character Unicode picture (ESC as U+241B) or,
# for C1, the replacement character: the text keeps its length, so rich's styles stay where they were.
_CONTROL_PICTURES = {code: chr(0x2400 + code) for code in range(0x20) if chr(code) not in "\n\t"}
_CONTROL_PICTURES |= {0x7F: "\u2421"} | {code: "\ufffd" for code in range(0x80, 0xA0)}


def visible_controls(text: str) -> str:
    """``text`` with every control character that could act on a terminal replaced by a visible one."""
    return text.translate(_CONTROL_PICTURES)


def render_lines(lines: Iterable[Text | str], *, color: bool, width: int = WIDTH) -> str:
    """Print ``lines`` on a captured console; ``color=False`` never emits an escape sequence."""
    console = Console(
        file=io.StringIO(),
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        width=width,
        soft_wrap=True,
        highlight=False,
        markup=False,
        emoji=False,
        legacy_windows=False,
        force_jupyter=False,
        force_interactive=False,
    )
    with console.capture() as capture:
        for line in lines:
            if isinstance(line, Text):
                line = line.copy()
                line.plain = visible_controls(line.plain)
            else:
                line = visible_controls(line)
            console.print(line)
    return capture.get().rstrip("\n")
