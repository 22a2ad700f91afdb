"""The jinja2 environment for the markdown templates in ``safemigrate/report/templates``.

Autoescape is off (the output is markdown, not HTML); values are escaped explicitly with the
filters below: ``md`` for prose, ``cell`` for table cells, ``code`` for inline code,
``authored`` for text we wrote as markdown (rule metadata).
"""

from __future__ import annotations

import functools
import inspect

import jinja2

from safemigrate.report.console import visible_controls

# ASCII punctuation that means something in GitHub-flavoured markdown (CommonMark lets a backslash
# escape any ASCII punctuation). ``<`` and ``>`` matter: GitHub strips unknown HTML tags, so help
# text like ``"<new_name>"`` would vanish unescaped.
_MD_SPECIAL = frozenset("\\`*_[]<>|~&")


def escape_md(value: object) -> str:
    """Escape prose so markdown shows it literally."""
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in visible_controls(str(value)))


def escape_cell(value: object) -> str:
    """Escape prose for a table cell: literal, and on one line."""
    return " ".join(escape_md(value).split())


def inline_code(value: object) -> str:
    """An inline code span safe inside a table cell (backticks inside get a longer fence)."""
    text = " ".join(visible_controls(str(value)).split()).replace("|", "\\|")
    if not text:
        return ""
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def authored_markdown(value: object) -> str:
    """Text we wrote ourselves (rule metadata) as markdown: `code` spans kept, reST ````literals````
    turned into markdown ones, ``<`` and ``>`` outside code escaped so placeholders like ``<name>``
    survive GitHub's HTML sanitizer."""
    parts = str(value).replace("``", "`").split("`")
    # Even parts are outside code spans (an unbalanced backtick leaves the rest as prose).
    if len(parts) % 2 == 0:
        parts[-2:] = ["`".join(parts[-2:])]
    return "`".join(
        part.replace("<", "\\<").replace(">", "\\>") if i % 2 == 0 else part for i, part in enumerate(parts)
    )


def authored_cell(value: object) -> str:
    """``authored`` text for a table cell: on one line, ``|`` escaped."""
    return " ".join(authored_markdown(value).split()).replace("|", "\\|")


def docstring_markdown(value: str) -> str:
    """A rule's docstring as markdown: dedented, reST ````literals```` as markdown `literals`."""
    return authored_markdown(inspect.cleandoc(value).strip()) if value else ""


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("safemigrate.report", "templates"),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["md"] = escape_md
    env.filters["cell"] = escape_cell
    env.filters["code"] = inline_code
    env.filters["docstring"] = docstring_markdown
    env.filters["authored"] = authored_markdown
    env.filters["authored_cell"] = authored_cell
    return env


def render(template: str, **context: object) -> str:
    """Render a template; the result has no trailing whitespace or newline."""
    return environment().get_template(template).render(**context).rstrip()
