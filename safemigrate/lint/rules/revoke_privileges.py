"""Revoking privileges can lock the running app out of its own tables.

``REVOKE`` takes effect at once, for every session: if the app's database role (or ``PUBLIC``, which
every role is in) loses a privilege it uses, its queries fail with "permission denied" (42501) from
the moment the migration commits, before and after the new code is deployed, and a rollback of the
code does not bring the privilege back. The linter cannot know which role the app connects as, so
every REVOKE of a privilege on an object older than this deploy is reported; REVOKE GRANT OPTION FOR
(which keeps the privilege) and objects created earlier in this deploy (not in use yet) are not.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, ObjectRef, Rule, Severity
from safemigrate.sql import model as m

# REVOKE ... ON these kinds names objects the schema model knows; on others they are never new.
_KNOWN_KINDS = {"table": "view", "sequence": "sequence", "schema": "schema"}


def _created_by_deploy(ctx: Context, revoke: m.Revoke) -> bool:
    if revoke.on == "table":
        return all(
            ctx.schema.is_created_by_deploy(name) or ctx.schema.is_fresh_object("view", name) for name in revoke.objects
        )
    kind = _KNOWN_KINDS.get(revoke.on)
    return kind is not None and all(ctx.schema.is_fresh_object(kind, name) for name in revoke.objects)


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if not isinstance(summary, m.Harmless) or summary.revoke is None:
        return
    revoke = summary.revoke
    if revoke.grant_option_only or _created_by_deploy(ctx, revoke):
        return
    roles = ", ".join(revoke.roles)
    everyone = " (PUBLIC is every role)" if "PUBLIC" in revoke.roles else ""
    if revoke.on == "role":
        granted = ", ".join(revoke.privileges)
        what = f"REVOKE {granted} FROM {roles} takes the privileges of {granted} away from {roles}"
    else:
        target = f"{revoke.on.upper()} {', '.join(name.display() for name in revoke.objects)}"
        what = f"REVOKE {' '.join(revoke.privileges)} ON {target} FROM {roles}{everyone}"
    table = revoke.objects[0] if revoke.on == "table" and len(revoke.objects) == 1 else None
    yield Hit(
        message=(
            f"{what}: if the app connects as one of these roles, its queries that need what is revoked fail "
            "with permission denied as soon as this commits, whichever app version runs."
        ),
        help=(
            "Check which role the app's DATABASE_URL uses and that no running app version needs what is revoked; "
            "revoke in a release after the code that stopped using it, or grant the app's own role what it needs "
            "first (GRANT ... TO <app role>;) and suppress this finding with the reason."
        ),
        object=ctx.ref(table) if table is not None else ObjectRef(),
        table=table,
    )


RULE = Rule(
    id="SM408",
    name="revoke-privileges",
    category=Category.BREAKING,
    severity=Severity.WARNING,
    summary="REVOKE can make the running app's queries fail with permission denied.",
    alternative="Revoke only what no running app version uses, after the code that stopped using it is deployed.",
    bad='REVOKE INSERT, UPDATE, DELETE ON "Order" FROM app;',
    good='GRANT SELECT ON "Order" TO reporting;',
    why=__doc__ or "",
    check=check,
    on=(m.Harmless,),
)
