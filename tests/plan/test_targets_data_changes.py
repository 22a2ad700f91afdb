"""Check targets account for every row change of a statement, not only its first (WITH queries)."""

from __future__ import annotations

from pathlib import Path

from safemigrate.migrations import Migration
from safemigrate.plan import model as pm
from safemigrate.plan.targets import find_targets


def _migration(name: str, text: str) -> Migration:
    return Migration(name, Path(name), Path(name) / "migration.sql", text.encode())


def test_a_backfill_in_a_with_query_makes_the_check_skip() -> None:
    # The statement's own change is the INSERT into "Log"; the UPDATE of "User" is its second.
    migration = _migration(
        "m1",
        'WITH filled AS (UPDATE "User" SET "name" = \'\' WHERE "name" IS NULL RETURNING "id")\n'
        'INSERT INTO "Log" ("userId") SELECT "id" FROM filled;\n'
        'ALTER TABLE "User" ALTER COLUMN "name" SET NOT NULL;\n'
        'ALTER TABLE "Log" ALTER COLUMN "userId" SET NOT NULL;\n',
    )
    user, log = find_targets([migration], {"m1": "m1.sql"}, "public")
    assert (user.kind, user.live_table) == (pm.NULLS, ("public", "User"))
    assert user.skip.startswith("rows of this table are changed first by m1.sql:1")
    # The rows it inserts into "Log" are not in today's data either (one may hold NULL): skipped too.
    assert (log.kind, log.live_table) == (pm.NULLS, ("public", "Log"))
    assert log.skip.startswith("rows of this table are changed first by m1.sql:1")
