"""Revoking privileges can lock the running app out of its own tables.

``REVOKE`` takes effect at once, for every session: if the app's database role (or ``PUBLIC``, which
every role is in) loses a privilege it uses, its queries fail with "permission denied" (42501) from
the moment the migration commits, before and after the new code is deployed, and a rollback of the
code does not bring the privilege back. The linter cannot know which role the app connects as, so
every REVOKE of a privilege on an object older than this deploy, and of a role's membership, is
reported. Not reported: objects created earlier in this deploy, not in use yet (tables, views,
sequences, schemas, enums, and functions created without OR REPLACE, which keeps an older function's
privileges), and REVOKE GRANT OPTION FOR without CASCADE (the privilege itself stays; with CASCADE,
the roles it was granted on to lose it). ``ALTER DEFAULT PRIVILEGES ... REVOKE`` changes no existing object,
but the tables (sequences, functions...) created from then on lack the privileges: the app's queries on
what a later migration creates fail, so it is reported too.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, ObjectRef, Rule, Severity
from safemigrate.sql import model as m


def _is_new(ctx: Context, on: str, name: m.Name) -> bool:
    """Whether the object was created by this deploy (so no app version uses it yet)."""
    schema = ctx.schema
    if on == "table":  # also views, materialized views, sequences, foreign tables
        return (
            schema.is_created_by_deploy(name)
            or schema.is_fresh_object("view", name)
            or schema.is_fresh_object("materialized view", name)
            or schema.is_fresh_object("sequence", name)
        )
    if on == "sequence":
        return schema.is_fresh_object("sequence", name)
    if on in ("function", "procedure", "routine"):
        return schema.is_fresh_object("function", name)
    if on in ("type", "domain"):
        return schema.is_fresh_enum(name)
    if on == "schema" or on.endswith(" in schema"):
        return schema.is_fresh_object("schema", m.Name(name.name))
    return False  # databases, languages, large objects... are never made by a migration of the deploy


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if not isinstance(summary, m.Harmless) or summary.revoke is None:
        return
    revoke = summary.revoke
    if (revoke.grant_option_only and not revoke.cascade) or (
        revoke.objects and all(_is_new(ctx, revoke.on, o) for o in revoke.objects)
    ):
        return
    roles = ", ".join(revoke.roles)
    everyone = " (PUBLIC is every role)" if "PUBLIC" in revoke.roles else ""
    if revoke.on.startswith("future "):
        yield _future_hit(revoke, roles, everyone)
        return
    if revoke.on == "role":
        granted = ", ".join(revoke.privileges)
        what = f"REVOKE {granted} FROM {roles} takes the privileges of {granted} away from {roles}"
    else:
        target = f"{revoke.on.upper()} {', '.join(name.display() for name in revoke.objects)}"
        what = f"REVOKE {' '.join(revoke.privileges)} ON {target} FROM {roles}{everyone}"
        if revoke.grant_option_only:  # with CASCADE
            what = (
                f"REVOKE GRANT OPTION FOR {' '.join(revoke.privileges)} ON {target} FROM {roles} CASCADE also takes "
                "the privileges away from every role these roles granted them to"
            )
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


def _future_hit(revoke: m.Revoke, roles: str, everyone: str) -> Hit:
    """ALTER DEFAULT PRIVILEGES ... REVOKE: nothing changes now; the objects created later lack them."""
    kind = revoke.on.removeprefix("future ")
    creators = ", ".join(revoke.creators) or "the role that runs the migrations"
    where = f" in schema {', '.join(name.name for name in revoke.objects)}" if revoke.objects else ""
    privileges = " ".join(revoke.privileges)
    # A per-schema entry only adds to the global defaults: its REVOKE takes away what a per-schema GRANT gave.
    gave = (
        "an earlier ALTER DEFAULT PRIVILEGES ... IN SCHEMA ... GRANT gave them"
        if revoke.objects
        else "an earlier ALTER DEFAULT PRIVILEGES ... GRANT (or PostgreSQL's own defaults) gave them"
    )
    return Hit(
        message=(
            f"ALTER DEFAULT PRIVILEGES ... REVOKE {privileges} ON {kind.upper()} FROM {roles}{everyone}: if {gave}, "
            f"the {kind} {creators} creates from now on{where} no longer give {roles} these privileges, so if the app "
            f"connects as one of these roles, its queries on the {kind} a later migration creates fail with "
            "permission denied."
        ),
        help=(
            "Check which role the app's DATABASE_URL uses; if it needs them, grant them in each migration that "
            f"creates {kind} (GRANT ... TO <app role>;), or keep the default privileges, and suppress this finding "
            "with the reason."
        ),
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
