"""A DO block or a procedure call runs code the linter cannot see into.

Whatever it does (delete rows, rewrite a table, take locks) happens when the migration runs, and
no rule can judge it. Defining a function or procedure changes no data and is not reported; calling
one is. Review the code by hand, then suppress the finding with a reason.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if not isinstance(summary, m.Procedural) or summary.kind not in ("do block", "procedure call"):
        return
    if summary.kind == "do block":
        what = "This DO block runs procedural code"
    else:
        target = f" {summary.name.display()}" if summary.name else ""
        what = f"This CALL runs procedure{target}, code"
    yield Hit(
        message=f"{what} that the linter cannot see into: its effect on data and locks was not checked.",
        help=(
            "Review what it does by hand, then add on the line above it: "
            "-- safemigrate: ignore procedural-code reason: <what you checked>"
        ),
    )


RULE = Rule(
    id="SM508",
    name="procedural-code",
    category=Category.UNCHECKED,
    severity=Severity.WARNING,
    summary="Procedural code runs during the migration without being analysed.",
    alternative="Review it by hand and suppress with a reason.",
    bad="DO $$ BEGIN PERFORM 1; END $$;",
    good="CREATE FUNCTION one() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$;",
    why=__doc__ or "",
    check=check,
    on=(m.Procedural,),
)
