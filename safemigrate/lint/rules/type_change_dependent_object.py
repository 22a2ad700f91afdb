"""Changing the type of a column that a view, a generated column, a policy or a trigger uses always fails.

PostgreSQL keeps views and materialized views (what their query reads), stored generated columns (their
expression), row-level security policies (their USING and WITH CHECK) and triggers (their ``UPDATE OF``
columns and their WHEN) in step with the columns they use, and refuses any ``ALTER COLUMN ... TYPE`` of
one of those columns, whatever the rows hold: even a widening, even to the same type ("cannot alter type
of a column used by a view or rule", "... used by a generated column", "... used in a policy
definition", "... used in a trigger definition"). Prisma writes ``SET DATA TYPE`` when a field's type
changes, and knows nothing of the views, policies and triggers added by hand to its migrations, nor of
the ``GENERATED ALWAYS AS (to_tsvector(...)) STORED`` behind an ``Unsupported("tsvector")`` field.

The linter knows the objects the migration history created and the columns their definitions read (a
view's ``*`` reads every column its table had when the view was created); a name it cannot place for
sure (two tables of a join that both have it, a table it does not know) is left out. The fix is to drop
the object before the type change and create it again after, in the same migration: an object dropped
earlier in the file is not reported.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m
from safemigrate.sql.schema import Dependent

# What PostgreSQL says, by the kind of object that uses the column.
_REFUSAL = {
    "view": "cannot alter type of a column used by a view or rule",
    "materialized view": "cannot alter type of a column used by a view or rule",
    "generated column": "cannot alter type of a column used by a generated column",
    "policy": "cannot alter type of a column used in a policy definition",
    "trigger": "cannot alter type of a column used in a trigger definition",
}


def _first_unseen(statements: Sequence[m.Statement]) -> int:
    """The index of the file's first statement that runs code the linter cannot see into (a DO block, a
    call, a statement it could not read), which may drop any object; the file's length when none does."""
    for statement in statements:
        summary = statement.summary
        if isinstance(summary, m.Unparsed) or (
            isinstance(summary, m.Procedural) and summary.kind in ("do block", "procedure call", "function call")
        ):
            return statement.index
    return len(statements)


def _name(ctx: Context, key: tuple[str, str]) -> m.Name:
    return m.Name(key[1], None if key[0] == ctx.schema.default_schema else key[0])


def _described(ctx: Context, dependent: Dependent) -> str:
    """The object as the message names it: ``view UserInfo``, ``policy note_owner on Note``..."""
    on = _name(ctx, dependent.on).display()
    if dependent.kind == "generated column":
        return f"generated column {on}.{dependent.name}"
    if dependent.kind in ("policy", "trigger"):
        return f"{dependent.kind} {dependent.name} on {on}"
    return f"{dependent.kind} {on}"


def _drop(ctx: Context, dependent: Dependent) -> str:
    on = _name(ctx, dependent.on).sql()
    if dependent.kind == "generated column":
        return f"ALTER TABLE {on} DROP COLUMN {m.quote_ident(dependent.name)};"
    if dependent.kind in ("policy", "trigger"):
        return f"DROP {dependent.kind.upper()} {m.quote_ident(dependent.name)} ON {on};"
    return f"DROP {dependent.kind.upper()} {on};"


def _create(ctx: Context, dependent: Dependent) -> str:
    if not dependent.definition:  # renamed since: the statement that created it names what was
        shown = _name(ctx, dependent.on).sql()
        return f"/* create {_described(ctx, dependent)} again as defined now (psql: \\d+ {shown}) */"
    if dependent.kind == "generated column":
        return f"ALTER TABLE {_name(ctx, dependent.on).sql()} ADD COLUMN {dependent.definition};"
    return dependent.definition.rstrip() + ";"


def _help(ctx: Context, found: Sequence[Dependent]) -> str:
    drops = " ".join(_drop(ctx, d) for d in found)
    creates = " ".join(_create(ctx, d) for d in found)
    notes = []
    if any(d.kind == "materialized view" for d in found):
        notes.append("a materialized view is filled again by its query, and its indexes must be created again")
    if any(d.kind == "generated column" for d in found):
        notes.append("a generated column is computed again for every row, and its indexes must be created again")
    extra = f" ({'; '.join(notes)})" if notes else ""
    return (
        f"Drop what uses the column before the type change and create it again after, in the same migration"
        f"{extra}: {drops} {ctx.statement.text.rstrip()}; {creates}"
    )


def check(ctx: Context) -> Iterator[Hit]:
    alter = ctx.summary
    if not isinstance(alter, m.AlterTable) or not ctx.schema.dependents:
        return
    if ctx.per_file(_first_unseen) < ctx.statement.index:
        return  # code the linter cannot see ran first: it may have dropped the objects
    table = alter.table
    key = ctx.schema.key(table)
    # PostgreSQL drops columns before it changes types: what a DROP COLUMN of this statement takes (the
    # generated column itself, what reads a column dropped with CASCADE) is gone by then.
    dropped = {(key, a.column) for a in alter.actions if isinstance(a, m.DropColumn)}
    for action in alter.actions:
        if not isinstance(action, m.AlterColumnType):
            continue
        found = [
            d
            for d in ctx.schema.dependents_of(table, action.column)
            if not (d.kind == "generated column" and (d.on, d.name) in dropped) and not d.reads & dropped
        ]
        if not found:
            continue
        described = [_described(ctx, d) for d in found]
        objects = " and ".join(filter(None, (", ".join(described[:-1]), described[-1])))
        refusals = "; ".join(dict.fromkeys(f'"{_REFUSAL[d.kind]}"' for d in found))
        uses = "uses" if len(found) == 1 else "use"
        yield Hit(
            message=(
                f"Changing the type of {table.display()}.{action.column} fails whatever the rows hold: "
                f"{objects} {uses} the column, and PostgreSQL refuses to change its type ({refusals})."
            ),
            help=_help(ctx, found),
            object=ctx.ref(table, action.column),
            table=None,  # fails even on an empty table, one created by this deploy too
        )


RULE = Rule(
    id="SM216",
    name="type-change-dependent-object",
    category=Category.MAY_FAIL,
    severity=Severity.ERROR,
    summary=(
        "Changing the type of a column a view, materialized view, generated column, policy or trigger "
        "uses fails, whatever the data."
    ),
    alternative=(
        "Drop the view, policy, trigger or generated column before the type change and create it again "
        "after, in the same migration."
    ),
    bad=(
        'CREATE TABLE "User" ("id" SERIAL PRIMARY KEY, "email" VARCHAR(100) NOT NULL);\n'
        'CREATE VIEW "UserInfo" AS SELECT "id", "email" FROM "User";\n'
        'ALTER TABLE "User" ALTER COLUMN "email" SET DATA TYPE VARCHAR(255);'
    ),
    good=(
        'CREATE TABLE "User" ("id" SERIAL PRIMARY KEY, "email" VARCHAR(100) NOT NULL);\n'
        'CREATE VIEW "UserInfo" AS SELECT "id", "email" FROM "User";\n'
        'DROP VIEW "UserInfo";\n'
        'ALTER TABLE "User" ALTER COLUMN "email" SET DATA TYPE VARCHAR(255);\n'
        'CREATE VIEW "UserInfo" AS SELECT "id", "email" FROM "User";'
    ),
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
    references=(
        "https://www.postgresql.org/docs/current/sql-altertable.html",
        "https://www.postgresql.org/docs/current/ddl-depend.html",
    ),
)
