"""``lint --format github``: GitHub Actions workflow commands, one annotation per active finding.

    ::error file=F,line=L,col=C,endLine=E,title=safemigrate drop-column::message (help)

error -> ``::error``, warning -> ``::warning``, info -> ``::notice``. Escaping follows the Actions
runner: in the message ``%``, CR and LF become ``%25``, ``%0D``, ``%0A``; in property values ``:``
and ``,`` additionally become ``%3A`` and ``%2C``; other control characters are shown as visible
symbols (:func:`visible_controls`). Suppressed findings are not annotated. The
returned text has no trailing newline (empty when there is nothing to annotate).
"""

from __future__ import annotations

from safemigrate.lint.findings import Finding, LintResult
from safemigrate.lint.rule import Severity
from safemigrate.report.console import visible_controls

_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def render_github(result: LintResult) -> str:
    """One workflow command line per active finding."""
    return "\n".join(annotation(f) for f in result.active())


def annotation(finding: Finding) -> str:
    command = _COMMAND.get(finding.severity, "notice")
    properties = ",".join(
        f"{key}={escape_property(value)}"
        for key, value in (
            ("file", finding.file.replace("\\", "/")),
            ("line", str(finding.line)),
            ("col", str(finding.column)),
            ("endLine", str(max(finding.end_line, finding.line))),
            ("title", f"safemigrate {finding.rule}"),
        )
    )
    return f"::{command} {properties}::{escape_data(f'{finding.message} ({finding.help})')}"


def escape_data(value: str) -> str:
    """Escape a workflow command's message (the part after ``::``)."""
    return visible_controls(value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def escape_property(value: str) -> str:
    """Escape a workflow command property value (``file=...``, ``title=...``)."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")
