"""`safemigrate rules`: the rule catalog; `rules explain ID` prints one rule's page."""

from __future__ import annotations

from typing import Annotated

import typer

from safemigrate.errors import InputError
from safemigrate.lint.registry import RULES, rule_by_name

app = typer.Typer(help="List the lint rules, or explain one.", invoke_without_command=True)


@app.callback()
def list_rules(ctx: typer.Context) -> None:
    """List every rule: id, name, category, default severity, summary."""
    if ctx.invoked_subcommand is not None:
        return
    width = max(len(r.name) for r in RULES)
    for rule in RULES:
        typer.echo(
            f"{rule.id}  {rule.name:<{width}}  {rule.category.value:<10}  {rule.severity.value:<7}  {rule.summary}"
        )


@app.command("explain")
def explain(rule_id: Annotated[str, typer.Argument(help="A rule id (SM102) or name (drop-column).")]) -> None:
    """Print a rule's documentation page."""
    from safemigrate.report.rule_page import render_rule_page

    try:
        rule = rule_by_name(rule_id) if rule_id in {r.id for r in RULES} else rule_by_name(rule_id.lower())
    except KeyError as err:
        raise InputError(f"There is no rule {rule_id!r}.", "Run `safemigrate rules` to list them.") from err
    typer.echo(render_rule_page(rule))
