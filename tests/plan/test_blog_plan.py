"""`safemigrate plan` on the blog fixture: the real Prisma history meets production-like data."""

from __future__ import annotations

import shutil
from pathlib import Path

from safemigrate.plan import model as pm
from safemigrate.plan.build import plan_migrations
from tests.plan.conftest import apply_first, run_sql

BLOG = Path(__file__).parents[2] / "fixtures" / "blog"


def test_blog_history_predicts_each_failure(tmp_path: Path, database_url: str) -> None:
    project = tmp_path / "blog"
    shutil.copytree(BLOG, project)
    apply_first(project, database_url)
    run_sql(
        database_url,
        """INSERT INTO "User" ("id", "email", "role") VALUES
             (1, 'ann@example.com', 'USER'), (2, 'ann@example.com', 'MODERATOR'), (3, 'bob@example.com', 'ADMIN');
           INSERT INTO "Post" ("id", "title", "updatedAt", "authorId") VALUES
             (10, 'short', now(), 1), (11, repeat('x', 80), now(), 3);""",
    )
    plan = plan_migrations(project, database_url=database_url)
    by_kind = {c.kind: c for c in plan.checks}
    assert plan.predicts_failure

    duplicates = by_kind[pm.DUPLICATES]
    assert duplicates.outcome == pm.FAILED and duplicates.count == 1
    assert duplicates.samples == ("ann@example.com (×2)",)
    assert duplicates.file.endswith("20240115093000_drop_user_bio_unique_email/migration.sql")
    assert duplicates.line == 5

    enum = by_kind[pm.ENUM_VALUES]
    assert enum.outcome == pm.FAILED and enum.count == 1 and enum.samples == ("MODERATOR",)
    assert enum.line == 5

    too_long = by_kind[pm.TOO_LONG]
    assert too_long.outcome == pm.FAILED and too_long.count == 1 and too_long.samples == ("11",)
    assert too_long.sample_label == "id"

    required = by_kind[pm.REQUIRED_COLUMN]
    assert required.outcome == pm.FAILED and required.count == 2 and required.samples == ("10", "11")

    # The comments table is created by this deploy: its foreign keys have nothing to check.
    fresh = [c for c in plan.checks if c.table == "comments"]
    assert fresh and all(c.outcome == pm.SKIPPED and "created by this deploy" in c.detail for c in fresh)
    assert len(plan.migrations) == 6 and plan.migrations[0].name == "20240115093000_drop_user_bio_unique_email"
    assert plan.backup_scope is not None and "User" in plan.backup_scope.tables
    assert plan.clone == "database"
