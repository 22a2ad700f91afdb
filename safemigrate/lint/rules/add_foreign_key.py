"""Adding a validated foreign key fails when existing rows point at parents that do not exist.

Without ``NOT VALID``, PostgreSQL checks every existing row of the referencing table and stops the
migration at the first orphan ("insert or update on table ... violates foreign key constraint").
Prisma writes ``ADD CONSTRAINT ... FOREIGN KEY`` for every new or changed relation; data written
before the relation existed (or after rows were deleted by hand) often holds orphans. Adding the
constraint ``NOT VALID`` and validating it in a later migration lets you clean them up first;
``VALIDATE CONSTRAINT`` in the same migration checks the same rows in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity, column_added_empty, column_gets_values
from safemigrate.lint.rules.validate_constraint import validated_in_same_transaction
from safemigrate.sql import model as m
from safemigrate.sql.schema import KeyColumn, SchemaModel, retype_keeps_values


def _orphans_query(table: m.Name, constraint: m.ConstraintSpec, parent: m.Name) -> str:
    """Rows of ``table`` whose key has no match in ``parent`` (MATCH SIMPLE: rows with a NULL key pass)."""
    ref_columns = constraint.ref_columns or tuple("<referenced column>" for _ in constraint.columns)
    pairs = zip(constraint.columns, ref_columns, strict=False)
    join = " AND ".join(f"p.{m.quote_ident(r)} = c.{m.quote_ident(c)}" for c, r in pairs)
    not_null = " AND ".join(f"c.{m.quote_ident(c)} IS NOT NULL" for c in constraint.columns)
    first = m.quote_ident(ref_columns[0]) if ref_columns else '"<referenced column>"'
    return (
        f"SELECT c.* FROM {table.sql()} c LEFT JOIN {parent.sql()} p ON {join} WHERE {not_null} AND p.{first} IS NULL;"
    )


def _constraint(ctx: Context, table: m.Name, constraint: m.ConstraintSpec, validated_on: int | None) -> Hit:
    """``validated_on``: the line of the VALIDATE that checks a NOT VALID key in the same transaction."""
    parent = constraint.references or m.Name("<referenced table>")
    columns = ", ".join(constraint.columns)
    targets = ", ".join(constraint.ref_columns) or "its primary key"
    label = f" {constraint.name}" if constraint.name else ""
    name = constraint.name or f"{table.name}_{'_'.join(constraint.columns)}_fkey"
    unnamed = "" if constraint.name else f" (name it: ADD CONSTRAINT {m.quote_ident(name)} ...)"
    validate = f"ALTER TABLE {table.sql()} VALIDATE CONSTRAINT {m.quote_ident(name)};"
    key = f"{table.display()} ({columns}) -> {parent.display()} ({targets})"
    if validated_on is None:
        added = f"Adding foreign key{label} on {key}"
        fix = (
            f"Add NOT VALID at the end of this statement{unnamed} so only new rows are checked, fix or delete "
            f"the orphans, then validate in a later migration: {validate}"
        )
    else:
        added = (
            f"Adding foreign key{label} on {key} NOT VALID and validating it on line {validated_on} of the "
            "same migration"
        )
        fix = (
            f"Keep the NOT VALID here, fix or delete the orphans, and move the VALIDATE on line {validated_on} "
            f"to a later migration file: {validate}"
        )
    return Hit(
        message=(f"{added} fails if any row of {table.display()} references a {parent.display()} that does not exist."),
        help=f"Find the orphans: {_orphans_query(table, constraint, parent)} {fix}",
        object=ctx.ref(table, constraint.columns[0] if len(constraint.columns) == 1 else None),
        table=table,
    )


def _added_column(ctx: Context, table: m.Name, column: m.ColumnSpec, constraint: m.ConstraintSpec) -> Hit:
    parent = constraint.references or m.Name("<referenced table>")
    target = m.quote_ident(constraint.ref_columns[0]) if constraint.ref_columns else '"<referenced column>"'
    later = "add the foreign key NOT VALID, then VALIDATE CONSTRAINT in a later migration."
    if column.default is None or column.identity or column.generated:
        # identity and generated columns: a value per row, none of them known here
        return Hit(
            message=(
                f"Adding {table.display()}.{column.name} with generated values and a foreign key to "
                f"{parent.display()} fails if a value has no row in {parent.display()}: every existing row "
                "gets one and is checked."
            ),
            help=f"Add the column without the foreign key, check its values against {parent.display()}, and {later}",
            object=ctx.ref(table, column.name),
            table=table,
        )
    default = column.default.sql
    return Hit(
        message=(
            f"Adding {table.display()}.{column.name} with the default {default} and a foreign key to "
            f"{parent.display()} fails if {parent.display()} has no row with that key: every existing row "
            "gets the default."
        ),
        help=(
            f"Check the parent exists first: SELECT 1 FROM {parent.sql()} WHERE {target} = {default}; "
            f"or add the column without the default, fill it, and {later}"
        ),
        object=ctx.ref(table, column.name),
        table=table,
    )


def _re_added(ctx: Context, table: m.Name, constraint: m.ConstraintSpec, others: Sequence[m.AlterAction]) -> bool:
    """Prisma changes a key's ON DELETE / ON UPDATE, or a relation's optionality, by DROP CONSTRAINT and
    ADD CONSTRAINT of the same key, with other changes in between (SET NOT NULL of the key column,
    columns added, tables and indexes created or dropped, a widening of the key columns on both sides):
    the existing rows already satisfy it. It counts when the same validated key (columns, referenced
    table and columns) was dropped earlier in this file, not MATCH FULL (stricter than the default), and
    no statement since (nor an ``others`` action of the re-adding statement, which runs before the
    check) can change the key columns' values or the referenced rows: see ``_Keeps``. Anything else is
    reported."""
    state = ctx.schema.table(table)
    if state is None or constraint.name is None or constraint.references is None:
        return False
    if "MATCH FULL" in " ".join(ctx.statement.text.upper().split()):
        return False
    dropped = state.dropped_foreign_keys.get(constraint.name)
    if dropped is None or dropped[1] != ctx.migration:
        return False
    old = dropped[0]
    child = ctx.schema.key(table)
    parent = ctx.schema.key(constraint.references)
    if not old.validated or (old.columns, old.references, old.ref_columns) != (
        constraint.columns,
        parent,
        constraint.ref_columns,
    ):
        return False
    found = _since_drop(ctx, child, constraint.name)
    if found is None:
        return False
    dropping, drop, since = found
    keeps = _keeps(ctx, child, constraint, parent, dict(old.types_when_dropped))
    # The dropping statement: the model knows the key's types at its DROP CONSTRAINT, after the actions
    # written before it; PostgreSQL runs those after the drop (it drops first), so there any type change
    # of a key column counts, whatever its types.
    if not keeps.statement(m.AlterTable(dropping.table, dropping.actions[:drop]), retyped=False):
        return False
    between = (m.AlterTable(dropping.table, dropping.actions[drop + 1 :]), *since, m.AlterTable(table, tuple(others)))
    return all(keeps.statement(summary) for summary in between)


def _since_drop(ctx: Context, child: tuple[str, str], name: str) -> tuple[m.AlterTable, int, list[m.Summary]] | None:
    """The latest statement of this file that drops the key ``name`` of ``child``, the position of that
    action in it, and the statements since, in order; None when no statement does."""
    since: list[m.Summary] = []
    for statement in reversed(ctx.earlier()):
        summary = statement.summary
        if isinstance(summary, m.AlterTable) and ctx.schema.key(summary.table) == child:
            for i, action in enumerate(summary.actions):
                if isinstance(action, m.DropConstraint) and action.name == name:
                    return summary, i, since[::-1]
        since.append(summary)
    return None


@dataclass
class _Keeps:
    """Whether a statement keeps the values of a foreign key's columns and the rows it references: it
    writes no row anywhere (a cascade, a trigger or a rule may reach them), runs no code the linter
    cannot see into, commits nothing (other sessions would write), and neither changes (but to a type
    that keeps every value, see ``retype_keeps_values``), drops, adds nor renames those columns, nor
    renames or drops the two tables. Conservative: a statement it does not know to keep them does not.
    Fed the statements in order from the DROP CONSTRAINT, it follows the key columns' types."""

    schema: SchemaModel
    columns: Mapping[tuple[str, str], frozenset[str]]  # the referencing and referenced tables -> key columns
    whole: tuple[str, str] | None  # the referenced table when the key references its primary key (columns unknown)
    types: dict[KeyColumn, m.TypeSpec]  # the key columns' types as the statements so far left them

    def statement(self, summary: m.Summary, *, retyped: bool = True) -> bool:
        """``retyped`` False: a type change of a key column counts as a change whatever its types."""
        if m.runs_unseen_code(summary) or m.data_changes(summary):
            return False
        if isinstance(summary, m.AlterTable):
            table = self.schema.key(summary.table)
            return all(self.action(table, a, retyped) for a in summary.actions)
        if isinstance(summary, m.DropObjects):
            if summary.cascade or summary.kind not in ("table", "view", "materialized view", "sequence"):
                return False  # a type, domain, schema or extension may take columns with it
            return not any(self.schema.key(name) in self.columns for name in summary.names)
        if isinstance(summary, m.SetSetting):
            return summary.name not in ("search_path", "all")  # names could resolve to other tables
        # A new table holds only its own rows (the functions of its AS query are unseen code, above).
        return isinstance(summary, _KEEPING)

    def action(self, table: tuple[str, str], action: m.AlterAction, retyped: bool = True) -> bool:
        """An ALTER TABLE action on ``table`` that keeps the key's values and referenced rows."""
        if isinstance(action, _KEEPING_ACTIONS):
            return True  # constraints check rows, they do not change them (their functions are unseen code)
        keyed = self.columns.get(table)
        if isinstance(action, m.AlterColumnType) and keyed is not None and action.column in keyed:
            key_column = (table, action.column)
            kept = retyped and table != self.whole and retype_keeps_values(self.types.get(key_column), action)
            self.types[key_column] = action.new_type
            return kept
        if isinstance(action, (m.AddColumn, m.DropColumn, m.AlterColumnType)):
            column = action.column.name if isinstance(action, m.AddColumn) else action.column
            return keyed is None or (column not in keyed and table != self.whole)
        if isinstance(action, m.RenameColumn):
            return keyed is None
        return False  # RENAME TO, triggers switched, identity, VALIDATE: not known to keep them


_KEEPING = (
    m.CreateTable,
    m.CreateIndex,
    m.DropIndex,
    m.RenameIndex,
    m.Reindex,
    m.CreateEnum,
    m.AlterEnumAddValue,
    m.RenameType,
    m.CreateExtension,
    m.CreateObject,
    m.Harmless,
    m.Vacuum,
    m.ResetSequence,
)
_KEEPING_ACTIONS = (
    m.DropConstraint,
    m.AddConstraint,
    m.SetNotNull,
    m.DropNotNull,
    m.SetDefault,
    m.DropDefault,
    m.RenameConstraint,
    m.SetLogged,
    m.OtherTableAction,
)


def _keeps(
    ctx: Context,
    child: tuple[str, str],
    constraint: m.ConstraintSpec,
    parent: tuple[str, str],
    types: dict[KeyColumn, m.TypeSpec],
) -> _Keeps:
    columns = {child: frozenset(constraint.columns), parent: frozenset(constraint.ref_columns)}
    if child == parent:
        columns = {child: frozenset(constraint.columns) | frozenset(constraint.ref_columns)}
    return _Keeps(ctx.schema, columns, None if constraint.ref_columns else parent, types)


def check(ctx: Context) -> Iterator[Hit]:
    alter = ctx.summary
    if not isinstance(alter, m.AlterTable):
        return
    table = alter.table
    for i, action in enumerate(alter.actions):
        if isinstance(action, m.AddConstraint):
            constraint = action.constraint
            if constraint.kind != "foreign key":
                continue
            validation = validated_in_same_transaction(ctx, table, constraint, alter.actions[i + 1 :])
            if constraint.not_valid and validation is None:
                continue  # only new rows are checked; a VALIDATE after commit is validate-constraint's
            # A key column added in this file holds NULL everywhere, and a NULL key references nothing.
            if not any(column_added_empty(ctx, table, c, alter.actions[:i]) for c in constraint.columns):
                hit = _constraint(ctx, table, constraint, validation.line if validation else None)
                others = alter.actions[:i] + alter.actions[i + 1 :]
                if validation is None and _re_added(ctx, table, constraint, others):
                    hit = replace(hit, explained="the same key was dropped just before: the rows satisfy it")
                yield hit
        elif isinstance(action, m.AddColumn):
            column = action.column
            if not column_gets_values(column):
                continue  # existing rows get NULL, which a foreign key accepts
            for constraint in column.constraints:
                if constraint.kind == "foreign key":
                    yield _added_column(ctx, table, column, constraint)


RULE = Rule(
    id="SM204",
    name="add-foreign-key",
    category=Category.MAY_FAIL,
    severity=Severity.ERROR,
    summary="A validated foreign key fails when existing rows reference parents that do not exist.",
    alternative=("ADD CONSTRAINT ... NOT VALID, clean the orphans, then VALIDATE CONSTRAINT in a later migration."),
    bad=(
        'ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") '
        'REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;'
    ),
    good=(
        'ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") '
        'REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;'
    ),
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
)
