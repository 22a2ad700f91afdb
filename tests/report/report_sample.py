"""The sample migrations the report tests lint (shared by conftest.py and the tests)."""

from __future__ import annotations

from safemigrate.lint.engine import LintOptions, SourceFile, lint_sources
from safemigrate.lint.findings import LintResult
from safemigrate.lint.registry import rule_by_name

DROP_NICKNAME = "prisma/migrations/20240102000000_drop_nickname/migration.sql"
ADD_POST = "prisma/migrations/20240103000000_add_post/migration.sql"

DROP_NICKNAME_SQL = """\
/*
  Warnings:

  - You are about to drop the column `nickname` on the `User` table. All the data in the column will be lost.

*/
-- AlterTable
ALTER TABLE "User" DROP COLUMN "nickname",
ADD COLUMN     "bio" TEXT;

-- safemigrate: ignore drop-table reason: Legacy was archived to S3 in OPS-12
DROP TABLE "Legacy";

IMPORT FOREIGN SCHEMA "legacy" FROM SERVER "old_db" INTO "public";
"""

ADD_POST_SQL = """\
-- CreateTable
CREATE TABLE "Post" (
    "id" SERIAL NOT NULL,
    "title" TEXT NOT NULL,
    "authorId" INTEGER NOT NULL,

    CONSTRAINT "Post_pkey" PRIMARY KEY ("id")
);
"""


# The catalog grows; the sample runs a fixed set of rules so the snapshots change only with the renderers.
SAMPLE_RULES = ("drop-table", "drop-column", "unparsed-statement")


def lint_sample(drop_nickname_sql: str = DROP_NICKNAME_SQL) -> LintResult:
    return lint_sources(
        [
            SourceFile(DROP_NICKNAME, "20240102000000_drop_nickname", drop_nickname_sql.encode()),
            SourceFile(ADD_POST, "20240103000000_add_post", ADD_POST_SQL.encode()),
        ],
        LintOptions(rules=tuple(rule_by_name(name) for name in SAMPLE_RULES)),
    )
