"""Render rich text lines to a string: ANSI colours for a terminal, plain text for logs."""

from __future__ import annotations

import io
from collections.abc import Iterable

from rich.console import Console
from rich.text import Text

WIDTH = 120


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
            console.print(line)
    return capture.get().rstrip("\n")
