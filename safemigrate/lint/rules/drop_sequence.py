"""Dropping a sequence loses its current position: ids handed out before can be handed out again.

A sequence is a counter stored in the database. ``DROP SEQUENCE`` forgets how far it counted; a
sequence created again starts over, so new ids collide with the ids of existing rows, and column
defaults that call ``nextval`` on it stop working (with CASCADE they are silently removed).
Prisma's ``autoincrement()`` fields rely on exactly such sequences.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if not isinstance(summary, m.DropObjects) or summary.kind != "sequence":
        return
    for sequence in summary.names:
        if ctx.schema.is_fresh_object("sequence", sequence):
            continue  # created by this deploy: nothing stored yet
        regclass = m.quote_literal(sequence.sql())
        yield Hit(
            message=(
                f"Dropping sequence {sequence.display()} loses its current value: ids can be reused "
                "and defaults that use it break."
            ),
            help=(
                f"Keep the sequence if any column still uses it. If it must be recreated, note its value "
                f"first (SELECT last_value FROM {sequence.sql()};) and restore it after "
                f"(SELECT setval({regclass}, <last_value>);)."
            ),
            object=ctx.ref(sequence),
        )


RULE = Rule(
    id="SM105",
    name="drop-sequence",
    category=Category.DATA_LOSS,
    severity=Severity.ERROR,
    summary="Dropping a sequence loses its position: ids may be reused or defaults break.",
    alternative="Keep the sequence; if it must be recreated, restore its value with setval().",
    bad='DROP SEQUENCE "Order_number_seq";',
    good='ALTER TABLE "Order" ALTER COLUMN "number" DROP DEFAULT;',
    why=__doc__ or "",
    check=check,
    on=(m.DropObjects,),
    lock="ACCESS EXCLUSIVE",
)
