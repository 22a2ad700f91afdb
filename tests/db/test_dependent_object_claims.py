"""What type-change-dependent-object, replace-view-columns and the integer-to-text key changes claim,
observed on a real PostgreSQL server: each statement the rules report fails there (whatever the rows),
the fix their help pastes runs, what they leave alone runs, and keys re-added around Prisma's
``Int @id`` -> ``String @id`` hold on the rows while one changed on one side only cannot be added."""

from __future__ import annotations

import importlib

import psycopg
import pytest

from safemigrate.lint.engine import LintOptions, SourceFile, lint_sources
from safemigrate.lint.rule import Rule, Severity


def _rule(name: str) -> Rule:
    # Loaded by module, as the YAML cases do: the registry lists the rules it was told of.
    rule: Rule = importlib.import_module("safemigrate.lint.rules." + name.replace("-", "_")).RULE
    return rule


def _lint(rule_name: str, history: str, sql: str) -> list[tuple[int, str, str]]:
    """(line, message, help) of the findings one rule reports on ``sql`` after ``history``."""
    rule = _rule(rule_name)
    sources = [
        SourceFile("history.sql", "20240101000000_v1", history.encode()),
        SourceFile("migration.sql", "20240102000000_v2", sql.encode()),
    ]
    options = LintOptions(severities={rule.name: Severity.ERROR}, report=frozenset({"migration.sql"}), rules=(rule,))
    findings = lint_sources(sources, options).findings
    return [(f.line, f.message, f.help) for f in findings if f.rule == rule.name and not f.suppressed]


def run_script(url: str, sql: str) -> None:
    """Send a whole script as one query, as Prisma sends a migration file (one transaction)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.encode(), prepare=False)


def _pasted_fix(help_text: str) -> str:
    """The SQL the help gives: what follows "in the same migration ...: "."""
    return help_text.split(" in the same migration", 1)[1].split(": ", 1)[1]


HISTORY = """
CREATE TABLE "User" (
    "id" SERIAL NOT NULL,
    "email" VARCHAR(100) NOT NULL,
    "age" INTEGER NOT NULL,
    "score" INTEGER NOT NULL,
    "nick" TEXT,
    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "Post" (
    "id" SERIAL NOT NULL,
    "title" VARCHAR(100) NOT NULL,
    "authorId" INTEGER NOT NULL,
    "search" tsvector GENERATED ALWAYS AS (to_tsvector('english', "title")) STORED,
    CONSTRAINT "Post_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "Post_search_idx" ON "Post" USING GIN ("search");
CREATE TABLE "Note" ("id" SERIAL PRIMARY KEY, "userId" INTEGER NOT NULL, "body" VARCHAR(100) NOT NULL);
ALTER TABLE "Note" ENABLE ROW LEVEL SECURITY;
CREATE POLICY note_owner ON "Note" USING ("userId" = current_setting('app.user_id', true)::int);
CREATE VIEW "UserInfo" AS SELECT "id", "email" FROM "User";
CREATE MATERIALIZED VIEW "Leaderboard" AS SELECT "id", "score" FROM "User";
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER "User_nick" BEFORE UPDATE OF "nick" ON "User" FOR EACH ROW EXECUTE FUNCTION touch();
CREATE TRIGGER "User_age" BEFORE UPDATE ON "User" FOR EACH ROW
    WHEN (OLD."age" IS DISTINCT FROM NEW."age") EXECUTE FUNCTION touch();
"""
ROWS = """
INSERT INTO "User" ("email", "age", "score") SELECT 'u' || g || '@example.com', g, g FROM generate_series(1, 50) g;
INSERT INTO "Post" ("title", "authorId") SELECT 'title ' || g, 1 + g % 50 FROM generate_series(1, 80) g;
INSERT INTO "Note" ("userId", "body") SELECT 1 + g % 50, 'note' FROM generate_series(1, 30) g;
"""


@pytest.mark.parametrize(
    ("sql", "used_by", "refusal"),
    [
        ('ALTER TABLE "User" ALTER COLUMN "email" SET DATA TYPE VARCHAR(255);', "view UserInfo", "view or rule"),
        ('ALTER TABLE "User" ALTER COLUMN "score" SET DATA TYPE BIGINT;', "materialized view Leaderboard", "view"),
        ('ALTER TABLE "Post" ALTER COLUMN "title" SET DATA TYPE VARCHAR(200);', "generated column", "generated"),
        ('ALTER TABLE "Note" ALTER COLUMN "userId" SET DATA TYPE BIGINT;', "policy note_owner", "policy"),
        ('ALTER TABLE "User" ALTER COLUMN "nick" SET DATA TYPE VARCHAR(40);', "trigger User_nick", "trigger"),
        ('ALTER TABLE "User" ALTER COLUMN "age" SET DATA TYPE BIGINT;', "trigger User_age", "trigger"),
        ('ALTER TABLE "User" ALTER COLUMN "email" TYPE VARCHAR(100);', "view UserInfo", "view or rule"),
    ],
)
@pytest.mark.parametrize("rows", [False, True], ids=["empty", "with-rows"])
def test_a_type_change_of_a_used_column_fails_whatever_the_rows_and_the_pasted_fix_runs(
    sql: str, used_by: str, refusal: str, rows: bool, database_url: str
) -> None:
    """Widening, or the same type: PostgreSQL refuses it (0A000) on an empty table as on a full one,
    and says which kind of object uses the column; the help's drop, change and create runs."""
    found = _lint("type-change-dependent-object", HISTORY, sql)
    assert len(found) == 1 and used_by in found[0][1], found
    run_script(database_url, HISTORY + (ROWS if rows else ""))
    with pytest.raises(psycopg.errors.FeatureNotSupported) as refused:
        run_script(database_url, sql)
    assert refusal in str(refused.value) and refusal in found[0][1]
    run_script(database_url, _pasted_fix(found[0][2]))
    with psycopg.connect(database_url, autocommit=True) as conn:
        objects = conn.execute(
            """SELECT (SELECT count(*) FROM pg_views WHERE viewname = 'UserInfo'),
                      (SELECT count(*) FROM pg_matviews WHERE matviewname = 'Leaderboard'),
                      (SELECT count(*) FROM pg_policies WHERE policyname = 'note_owner'),
                      (SELECT count(*) FROM pg_trigger WHERE tgname IN ('User_nick', 'User_age')),
                      (SELECT count(*) FROM information_schema.columns
                       WHERE table_name = 'Post' AND column_name = 'search' AND is_generated = 'ALWAYS')"""
        ).fetchone()
    assert objects == (1, 1, 1, 2, 1)  # every object is there again


def test_the_rule_s_own_examples(database_url: str) -> None:
    rule = _rule("type-change-dependent-object")
    with pytest.raises(psycopg.errors.FeatureNotSupported):
        run_script(database_url, rule.bad)
    run_script(database_url, rule.good)


def test_what_the_linter_leaves_alone_runs(database_url: str) -> None:
    """A column a view's * did not spell out (added later), a column no object uses, an output column
    named like a table column in ORDER BY, objects dropped earlier (in the history, in the same file):
    PostgreSQL changes their types, and the rule does not report them."""
    history = HISTORY + (
        'CREATE TABLE "Tag" ("id" INTEGER PRIMARY KEY, "label" VARCHAR(20));\n'
        'CREATE VIEW "AllTags" AS SELECT * FROM "Tag";\n'
        'ALTER TABLE "Tag" ADD COLUMN "color" VARCHAR(20);\n'
        'CREATE VIEW "Ordered" AS SELECT "body" AS "userId" FROM "Note" ORDER BY "userId";\n'
        'DROP POLICY note_owner ON "Note";\n'
    )
    sql = (
        'ALTER TABLE "Tag" ALTER COLUMN "color" TYPE TEXT;\n'
        'ALTER TABLE "Note" ALTER COLUMN "userId" TYPE BIGINT;\n'
        'DROP VIEW "UserInfo";\n'
        'ALTER TABLE "User" ALTER COLUMN "email" TYPE VARCHAR(255);\n'
        'CREATE VIEW "UserInfo" AS SELECT "id", "email" FROM "User";\n'
    )
    assert _lint("type-change-dependent-object", history, sql) == []
    run_script(database_url, history + ROWS)
    run_script(database_url, sql)
    # The * spelled out the columns "Tag" had then: those are used, and reported.
    label = 'ALTER TABLE "Tag" ALTER COLUMN "label" TYPE TEXT;'
    assert [line for line, _, _ in _lint("type-change-dependent-object", history + sql, label)] == [1]
    with pytest.raises(psycopg.errors.FeatureNotSupported):
        run_script(database_url, label)


VIEW_V1 = """
CREATE TABLE "User" ("id" SERIAL PRIMARY KEY, "email" VARCHAR(100) NOT NULL, "age" INTEGER NOT NULL, "name" TEXT);
CREATE VIEW "UserInfo" AS SELECT "id", "email", "age" FROM "User";
"""


@pytest.mark.parametrize(
    ("sql", "refused"),
    [
        ('CREATE OR REPLACE VIEW "UserInfo" AS SELECT "id", "email" FROM "User";', "cannot drop columns from view"),
        ('CREATE OR REPLACE VIEW "UserInfo" AS SELECT "id", "age", "email" FROM "User";', "cannot change name"),
        ('CREATE OR REPLACE VIEW "UserInfo" AS SELECT "id", "email" AS "mail", "age" FROM "User";', "change name"),
        ('CREATE OR REPLACE VIEW "UserInfo" AS SELECT * FROM "User";', None),
        ('CREATE OR REPLACE VIEW "UserInfo" AS SELECT "id", "email", "age" FROM "User" WHERE "age" > 0;', None),
    ],
)
def test_a_replaced_view_keeps_its_columns_first(sql: str, refused: str | None, database_url: str) -> None:
    """Leaving out, renaming or reordering columns fails (42P16) whatever the data, and is reported;
    keeping them first (new ones after) runs, and is not."""
    found = _lint("replace-view-columns", VIEW_V1, sql)
    run_script(database_url, VIEW_V1)
    if refused is None:
        assert found == []
        run_script(database_url, sql)
        return
    assert len(found) == 1 and refused in found[0][1], found
    with pytest.raises(psycopg.errors.InvalidTableDefinition) as failure:
        run_script(database_url, sql)
    assert refused in str(failure.value)
    run_script(database_url, found[0][2].rsplit(": ", 1)[1])  # the help's DROP VIEW + the statement


def test_a_replaced_view_column_of_another_type_fails_and_is_not_judged(database_url: str) -> None:
    """What the rule's docstring says it leaves out: the columns' types (the linter does not know them)."""
    sql = 'CREATE OR REPLACE VIEW "UserInfo" AS SELECT "id", "email"::varchar(255) AS "email", "age" FROM "User";'
    assert _lint("replace-view-columns", VIEW_V1, sql) == []
    run_script(database_url, VIEW_V1)
    with pytest.raises(psycopg.errors.InvalidTableDefinition, match="cannot change data type of view column"):
        run_script(database_url, sql)


def test_replace_view_columns_examples(database_url: str) -> None:
    rule = _rule("replace-view-columns")
    with pytest.raises(psycopg.errors.InvalidTableDefinition):
        run_script(database_url, rule.bad)
    run_script(database_url, rule.good)


# ---- integer keys made text (Prisma 6.19: `Int @id @default(autoincrement())` -> `String @id @default(cuid())`)

CUID_V1 = """
CREATE TABLE "User" ("id" SERIAL NOT NULL, CONSTRAINT "User_pkey" PRIMARY KEY ("id"));
CREATE TABLE "Post" ("id" SERIAL NOT NULL, "authorId" INTEGER NOT NULL, CONSTRAINT "Post_pkey" PRIMARY KEY ("id"));
ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id")
    ON DELETE CASCADE ON UPDATE CASCADE;
"""
CUID_ROWS = """
INSERT INTO "User" ("id") SELECT g FROM generate_series(1, 300) g;
INSERT INTO "User" ("id") VALUES (-2147483648), (2147483647), (-1), (0), (1000);
INSERT INTO "Post" ("authorId") SELECT 1 + g % 300 FROM generate_series(1, 900) g;
INSERT INTO "Post" ("authorId") VALUES (-2147483648), (2147483647), (-1);
"""
CUID_V2 = """-- DropForeignKey
ALTER TABLE "Post" DROP CONSTRAINT "Post_authorId_fkey";

-- AlterTable
ALTER TABLE "User" DROP CONSTRAINT "User_pkey",
ALTER COLUMN "id" DROP DEFAULT,
ALTER COLUMN "id" SET DATA TYPE TEXT,
ADD CONSTRAINT "User_pkey" PRIMARY KEY ("id");
DROP SEQUENCE "User_id_seq";

-- AlterTable
ALTER TABLE "Post" DROP CONSTRAINT "Post_pkey",
ALTER COLUMN "id" DROP DEFAULT,
ALTER COLUMN "id" SET DATA TYPE TEXT,
ALTER COLUMN "authorId" SET DATA TYPE TEXT,
ADD CONSTRAINT "Post_pkey" PRIMARY KEY ("id");
DROP SEQUENCE "Post_id_seq";

-- AddForeignKey
ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id")
    ON DELETE CASCADE ON UPDATE CASCADE;
"""


def test_integer_keys_made_text_on_both_sides_hold_on_any_rows(database_url: str) -> None:
    """Each integer becomes its one decimal spelling: distinct ids stay distinct, a reference still
    matches its parent. Neither rule reports the keys re-added; the rows satisfy them."""
    assert _lint("add-primary-key", CUID_V1, CUID_V2) == []
    assert _lint("add-foreign-key", CUID_V1, CUID_V2) == []
    run_script(database_url, CUID_V1 + CUID_ROWS)
    run_script(database_url, CUID_V2)
    with psycopg.connect(database_url, autocommit=True) as conn:
        counts = conn.execute(
            """SELECT (SELECT count(*) FROM "User"),
                      (SELECT count(*) FROM "Post" p JOIN "User" u ON u."id" = p."authorId"),
                      (SELECT count(*) FROM "User" WHERE "id" = '-2147483648')"""
        ).fetchone()
    assert counts == (305, 903, 1)


INT_KEYS_V1 = """
CREATE TABLE "P" ("id" INTEGER NOT NULL, CONSTRAINT "P_pkey" PRIMARY KEY ("id"));
CREATE TABLE "C" ("id" INTEGER NOT NULL, "pId" INTEGER NOT NULL, CONSTRAINT "C_pkey" PRIMARY KEY ("id"));
ALTER TABLE "C" ADD CONSTRAINT "C_pId_fkey" FOREIGN KEY ("pId") REFERENCES "P"("id");
INSERT INTO "P" VALUES (-2147483648), (2147483647), (7);
INSERT INTO "C" VALUES (1, -2147483648), (2, 2147483647), (3, 7);
"""


@pytest.mark.parametrize(
    ("rule_name", "sql", "failure"),
    [
        (  # long enough for every integer: the keys hold
            "add-primary-key",
            'ALTER TABLE "C" DROP CONSTRAINT "C_pId_fkey";\n'
            'ALTER TABLE "P" DROP CONSTRAINT "P_pkey", ALTER COLUMN "id" SET DATA TYPE VARCHAR(11), '
            'ADD CONSTRAINT "P_pkey" PRIMARY KEY ("id");\n'
            'ALTER TABLE "C" ALTER COLUMN "pId" SET DATA TYPE VARCHAR(11);\n'
            'ALTER TABLE "C" ADD CONSTRAINT "C_pId_fkey" FOREIGN KEY ("pId") REFERENCES "P"("id");',
            None,
        ),
        (  # too short for -2147483648: the conversion fails (22001), the key is checked
            "add-primary-key",
            'ALTER TABLE "C" DROP CONSTRAINT "C_pId_fkey";\n'
            'ALTER TABLE "P" DROP CONSTRAINT "P_pkey", ALTER COLUMN "id" SET DATA TYPE VARCHAR(10), '
            'ADD CONSTRAINT "P_pkey" PRIMARY KEY ("id");',
            psycopg.errors.StringDataRightTruncation,
        ),
        (  # one side only: a text cannot reference an integer (42804), whatever the rows
            "add-foreign-key",
            'ALTER TABLE "C" DROP CONSTRAINT "C_pId_fkey";\n'
            'ALTER TABLE "C" ALTER COLUMN "pId" SET DATA TYPE TEXT;\n'
            'ALTER TABLE "C" ADD CONSTRAINT "C_pId_fkey" FOREIGN KEY ("pId") REFERENCES "P"("id");',
            psycopg.errors.DatatypeMismatch,
        ),
    ],
)
def test_integer_keys_made_strings(
    rule_name: str, sql: str, failure: type[psycopg.Error] | None, database_url: str
) -> None:
    found = _lint(rule_name, INT_KEYS_V1, sql)
    run_script(database_url, INT_KEYS_V1)
    if failure is None:
        assert found == [] and _lint("add-foreign-key", INT_KEYS_V1, sql) == []
        run_script(database_url, sql)
        return
    assert [line for line, _, _ in found] == [sql.count("\n") + 1], found
    with pytest.raises(failure):
        run_script(database_url, sql)
