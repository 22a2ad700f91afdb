"""What the rules claim, observed on a real PostgreSQL server with each rule's own examples.

Rewrites are seen as a new relfilenode, locks in pg_locks from a second session while the
statement's transaction is open, failures as the server's error; the good example of the same rule
runs on the same data without that effect.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from safemigrate.lint.registry import rule_by_name

USER_TABLE = """
CREATE TABLE "User" ("id" INTEGER NOT NULL, "email" TEXT, "name" TEXT, "age" TEXT,
                     CONSTRAINT "User_pkey" PRIMARY KEY ("id"));
INSERT INTO "User" SELECT g, 'u' || g || '@example.com', 'n' || g, (g % 90)::text FROM generate_series(1, 200) g;
"""
POST_TABLE = """
CREATE TABLE "Post" ("id" INTEGER NOT NULL PRIMARY KEY, "title" TEXT, "authorId" INTEGER);
INSERT INTO "Post" SELECT g, 'title ' || g, 1 + g % 200 FROM generate_series(1, 300) g;
"""
EVENT_TABLE_ALONE = """
CREATE UNLOGGED TABLE "Event" ("id" INTEGER PRIMARY KEY, "createdAt" TIMESTAMP(3) NOT NULL DEFAULT now());
INSERT INTO "Event" SELECT g, now() - g * interval '1 minute' FROM generate_series(1, 300) g;
"""
EVENT_TABLE = EVENT_TABLE_ALONE + """CREATE INDEX "Event_createdAt_idx" ON "Event"("createdAt");"""

REWRITES = {
    "type-change-rewrite": (USER_TABLE, '"User"'),
    "volatile-default": (USER_TABLE, '"User"'),
    "add-serial-identity": (USER_TABLE, '"User"'),
    "set-logged-unlogged": (EVENT_TABLE, '"Event"'),
    "vacuum-full": (EVENT_TABLE, '"Event"'),
    "cluster": (EVENT_TABLE, '"Event"'),
    "narrowing-type-change": (USER_TABLE + POST_TABLE, '"Post"'),
}


def relfilenode(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute("SELECT pg_relation_filenode(%s::regclass)", (table,)).fetchone()
    assert row is not None and row[0] is not None
    return int(row[0])


def run_script(url: str, sql: str) -> None:
    """Send a whole example as one query, as Prisma sends a migration file."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.encode(), prepare=False)


@pytest.mark.parametrize("rule_name", sorted(REWRITES))
@pytest.mark.parametrize("example", ["bad", "good"])
def test_rewrite_claims(rule_name: str, example: str, database_url: str) -> None:
    setup, table = REWRITES[rule_name]
    rule = rule_by_name(rule_name)
    if rule_name == "cluster" and example == "good":
        setup = EVENT_TABLE_ALONE  # the good example builds the index the bad one clusters on
    run_script(database_url, setup)
    with psycopg.connect(database_url, autocommit=True) as conn:
        before = relfilenode(conn, table)
        for statement in filter(str.strip, (rule.bad if example == "bad" else rule.good).split(";\n")):
            conn.execute(statement.encode(), prepare=False)
        after = relfilenode(conn, table)
    assert (after != before) is (example == "bad"), f"{rule_name} {example}: {before} -> {after}"


LOCKS = {
    # rule: (setup, table whose lock is observed, lock mode the rule names)
    "create-index-non-concurrent": (USER_TABLE, "User", "ShareLock"),
    "type-change-rewrite": (USER_TABLE, "User", "AccessExclusiveLock"),
    "set-not-null-scan": (USER_TABLE, "User", "AccessExclusiveLock"),
    "constraint-validation-lock": (USER_TABLE + POST_TABLE, "Post", "ShareRowExclusiveLock"),
    "drop-index-non-concurrent": (EVENT_TABLE, "Event", "AccessExclusiveLock"),
}


@pytest.mark.parametrize("rule_name", sorted(LOCKS))
def test_lock_claims(rule_name: str, database_url: str) -> None:
    setup, table, mode = LOCKS[rule_name]
    rule = rule_by_name(rule_name)
    assert mode.removesuffix("Lock").lower() in rule.lock.replace(" ", "").lower()
    run_script(database_url, setup)
    with psycopg.connect(database_url) as migrating, psycopg.connect(database_url, autocommit=True) as watcher:
        bad = rule.bad
        if rule_name == "drop-index-non-concurrent":
            bad = 'DROP INDEX "Event_createdAt_idx";'
        migrating.execute(bad.encode(), prepare=False)  # transaction left open: its locks are held
        pid = migrating.info.backend_pid
        modes = {
            row[0]
            for row in watcher.execute(
                "SELECT mode FROM pg_locks WHERE pid = %s AND relation = %s::regclass AND granted",
                (pid, f'"{table}"'),
            ).fetchall()
        }
        migrating.rollback()
    assert mode in modes, modes


FAILURES = {
    # rule: (setup with data that breaks the statement, SQLSTATE class of the failure)
    "add-required-column": ('CREATE TABLE "Product" ("id" INTEGER); INSERT INTO "Product" VALUES (1);', "23502"),
    "set-not-null": (USER_TABLE + """UPDATE "User" SET "name" = NULL WHERE "id" = 7;""", "23502"),
    "unique-on-existing-table": (USER_TABLE + """UPDATE "User" SET "email" = 'same' WHERE "id" < 3;""", "23505"),
    "add-foreign-key": (USER_TABLE + POST_TABLE + """UPDATE "Post" SET "authorId" = 9999 WHERE "id" = 1;""", "23503"),
    "add-check-constraint": (
        'CREATE TABLE "Product" ("id" INTEGER, "price" INTEGER); INSERT INTO "Product" VALUES (1, -5);',
        "23514",
    ),
    "add-primary-key": (
        'CREATE TABLE "Item" ("id" INTEGER, "sku" TEXT, CONSTRAINT "Item_pkey" PRIMARY KEY ("id"));'
        "INSERT INTO \"Item\" VALUES (1, 'a'), (2, 'a');",
        "23505",
    ),
    "type-cast-may-fail": (USER_TABLE + """UPDATE "User" SET "age" = 'forty' WHERE "id" = 3;""", "22P02"),
    "narrowing-type-change": (USER_TABLE + POST_TABLE + """UPDATE "Post" SET "title" = repeat('x', 60);""", "22001"),
    "enum-value-used-same-transaction": (
        'CREATE TYPE "Role" AS ENUM (\'USER\'); CREATE TABLE "User" ("id" INTEGER, "role" "Role");',
        "55P04",
    ),
    "concurrently-in-transaction": (USER_TABLE, "25001"),
    "validate-constraint": (
        USER_TABLE
        + POST_TABLE
        + """UPDATE "Post" SET "authorId" = 9999 WHERE "id" = 1;
        ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey"
            FOREIGN KEY ("authorId") REFERENCES "User"("id") NOT VALID;""",
        "23503",
    ),
}


@pytest.mark.parametrize("rule_name", sorted(FAILURES))
def test_failure_claims(rule_name: str, database_url: str) -> None:
    setup, sqlstate = FAILURES[rule_name]
    rule = rule_by_name(rule_name)
    run_script(database_url, setup)
    with pytest.raises(psycopg.Error) as failure:
        run_script(database_url, rule.bad)
    assert failure.value.sqlstate == sqlstate, failure.value


# ---- keys that cannot fail, the lock of ADD PRIMARY KEY / UNIQUE, and citext (Prisma 6.19 output) ----


def _lint(rule_name: str, history: str, sql: str) -> list[int]:
    """The lines of the findings one rule reports on ``sql`` after ``history`` (those it knows cannot
    happen are left out)."""
    from safemigrate.lint.engine import LintOptions, SourceFile, lint_sources
    from safemigrate.lint.rule import Severity

    rule = rule_by_name(rule_name)
    sources = [
        SourceFile("history.sql", "20240101000000_v1", history.encode()),
        SourceFile("migration.sql", "20240102000000_v2", sql.encode()),
    ]
    options = LintOptions(severities={rule.name: Severity.ERROR}, report=frozenset({"migration.sql"}), rules=(rule,))
    return [f.line for f in lint_sources(sources, options).findings if f.rule == rule.name and not f.suppressed]


KEYS_V1 = """
CREATE TABLE "Product" ("id" SERIAL NOT NULL, "code" TEXT NOT NULL, CONSTRAINT "Product_pkey" PRIMARY KEY ("id"));
CREATE UNIQUE INDEX "Product_code_key" ON "Product"("code");
CREATE TABLE "Seat" ("roomId" INTEGER NOT NULL, "num" INTEGER NOT NULL,
                     CONSTRAINT "Seat_pkey" PRIMARY KEY ("roomId","num"));
CREATE TABLE "Member" ("orgId" INTEGER NOT NULL, "userId" INTEGER NOT NULL, "role" TEXT NOT NULL,
                       CONSTRAINT "Member_pkey" PRIMARY KEY ("orgId","userId"));
CREATE TABLE "Person" ("id" SERIAL NOT NULL, "first" TEXT NOT NULL, "last" TEXT NOT NULL, "city" TEXT NOT NULL,
                       CONSTRAINT "Person_pkey" PRIMARY KEY ("id"));
CREATE UNIQUE INDEX "Person_first_last_key" ON "Person"("first", "last");
"""
# Rows valid under the old keys, repeating values in every part of them.
KEYS_ROWS = """
INSERT INTO "Product" ("code") VALUES ('a'), ('b'), ('c');
INSERT INTO "Seat" VALUES (1, 1), (1, 2), (2, 1);
INSERT INTO "Member" VALUES (1, 1, 'admin'), (1, 2, 'admin'), (2, 1, 'user');
INSERT INTO "Person" ("first", "last", "city")
VALUES ('Ann', 'Lee', 'Oslo'), ('Ann', 'Kim', 'Oslo'), ('Bo', 'Lee', 'Oslo');
"""
KEYS_V2 = """-- DropIndex
DROP INDEX "Product_code_key";

-- DropIndex
DROP INDEX "Person_first_last_key";

-- AlterTable
ALTER TABLE "Product" DROP CONSTRAINT "Product_pkey",
ALTER COLUMN "id" DROP DEFAULT,
ADD CONSTRAINT "Product_pkey" PRIMARY KEY ("code");

-- AlterTable
ALTER TABLE "Seat" DROP CONSTRAINT "Seat_pkey",
ADD CONSTRAINT "Seat_pkey" PRIMARY KEY ("num", "roomId");

-- AlterTable
ALTER TABLE "Member" DROP CONSTRAINT "Member_pkey",
ADD CONSTRAINT "Member_pkey" PRIMARY KEY ("orgId", "userId", "role");

-- CreateIndex
CREATE UNIQUE INDEX "Person_first_last_city_key" ON "Person"("first", "last", "city");
"""


def test_keys_over_a_superset_of_a_key_that_held_cannot_fail(database_url: str) -> None:
    """The rows a key dropped earlier in the same file kept unique stay unique on any superset of its
    columns: Prisma's key changes run on such rows, and neither rule reports them; a key on other columns
    (Person (city, last)) fails on the same rows, and is reported."""
    assert _lint("add-primary-key", KEYS_V1, KEYS_V2) == []
    assert _lint("unique-on-existing-table", KEYS_V1, KEYS_V2) == []
    run_script(database_url, KEYS_V1 + KEYS_ROWS)
    run_script(database_url, KEYS_V2)
    other = 'CREATE UNIQUE INDEX "Person_city_last_key" ON "Person"("city", "last");'
    assert _lint("unique-on-existing-table", KEYS_V1, KEYS_V2 + other) == [KEYS_V2.count("\n") + 1]
    with pytest.raises(psycopg.errors.UniqueViolation):
        run_script(database_url, other)


def test_a_key_extended_by_a_nullable_column_fails_on_its_nulls(database_url: str) -> None:
    history = KEYS_V1.replace('"role" TEXT NOT NULL', '"role" TEXT')
    sql = (
        'ALTER TABLE "Member" DROP CONSTRAINT "Member_pkey", '
        'ADD CONSTRAINT "Member_pkey" PRIMARY KEY ("orgId", "userId", "role");'
    )
    assert _lint("add-primary-key", history, sql) == [1]
    run_script(database_url, history + """INSERT INTO "Member" VALUES (1, 1, NULL);""")
    with pytest.raises(psycopg.errors.NotNullViolation):
        run_script(database_url, sql)


FK_V1 = """
CREATE TABLE "User" ("id" SERIAL NOT NULL, CONSTRAINT "User_pkey" PRIMARY KEY ("id"));
CREATE TABLE "Post" ("id" SERIAL NOT NULL, "authorId" INTEGER, CONSTRAINT "Post_pkey" PRIMARY KEY ("id"));
ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id")
ON DELETE SET NULL ON UPDATE CASCADE;
"""
FK_V2 = """-- DropForeignKey
ALTER TABLE "Post" DROP CONSTRAINT "Post_authorId_fkey";

-- AlterTable
ALTER TABLE "Post" ADD COLUMN     "token" UUID NOT NULL DEFAULT gen_random_uuid(),
ALTER COLUMN "authorId" SET NOT NULL;

-- AddForeignKey
ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id")
ON DELETE RESTRICT ON UPDATE CASCADE;
"""


def test_a_relation_made_required_re_adds_a_key_its_rows_satisfy(database_url: str) -> None:
    """SET NOT NULL between the drop and the re-add changes no value: the re-added key checks rows the
    dropped one kept valid. Changing the values in the re-adding statement itself is checked after
    the change (ALTER TABLE validates new foreign keys last), and is reported."""
    assert _lint("add-foreign-key", FK_V1, FK_V2) == []
    run_script(
        database_url,
        FK_V1
        + """INSERT INTO "User" SELECT FROM generate_series(1, 3);
        INSERT INTO "Post" ("authorId") VALUES (1), (2), (3);""",
    )
    run_script(database_url, FK_V2)
    changed = (
        'ALTER TABLE "Post" DROP CONSTRAINT "Post_authorId_fkey";\n'
        'ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id"), '
        'ALTER COLUMN "authorId" TYPE BIGINT USING "authorId" + 1000;'
    )
    assert _lint("add-foreign-key", FK_V1 + FK_V2, changed) == [2]
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        run_script(database_url, changed)


JOIN_TABLE = """
CREATE TABLE "_PostToTag" ("A" INTEGER NOT NULL, "B" INTEGER NOT NULL);
CREATE UNIQUE INDEX "_PostToTag_AB_unique" ON "_PostToTag"("A", "B");
INSERT INTO "_PostToTag" SELECT g, g % 7 FROM generate_series(1, 300) g;
"""


@pytest.mark.parametrize(
    "statement",
    [
        'ALTER TABLE "_PostToTag" ADD CONSTRAINT "_PostToTag_AB_pkey" PRIMARY KEY ("A", "B")',
        'ALTER TABLE "_PostToTag" ADD CONSTRAINT "_PostToTag_B_A_key" UNIQUE ("B", "A")',
    ],
)
def test_adding_a_primary_key_or_unique_constraint_builds_under_access_exclusive(
    statement: str, database_url: str
) -> None:
    """Prisma 6's implicit m:n key: the index is built while ACCESS EXCLUSIVE is held (reads wait too)."""
    assert "access exclusive" in rule_by_name("create-index-non-concurrent").lock.lower()
    run_script(database_url, JOIN_TABLE)
    with psycopg.connect(database_url) as migrating, psycopg.connect(database_url, autocommit=True) as watcher:
        migrating.execute(statement.encode(), prepare=False)  # transaction left open: its locks are held
        modes = {
            row[0]
            for row in watcher.execute(
                "SELECT mode FROM pg_locks WHERE pid = %s AND relation = '\"_PostToTag\"'::regclass AND granted",
                (migrating.info.backend_pid,),
            ).fetchall()
        }
        migrating.rollback()
    assert "AccessExclusiveLock" in modes, modes


def test_a_unique_index_already_there_becomes_the_primary_key_without_a_build(database_url: str) -> None:
    """The alternative create-index-non-concurrent gives for Prisma 6's m:n key: USING INDEX takes the
    existing index (same relation, renamed to the key's name), so the DROP INDEX after it must go."""
    run_script(database_url, JOIN_TABLE)
    with psycopg.connect(database_url, autocommit=True) as conn:
        index = conn.execute("""SELECT '"_PostToTag_AB_unique"'::regclass::oid""").fetchone()
        conn.execute(
            'ALTER TABLE "_PostToTag" ADD CONSTRAINT "_PostToTag_AB_pkey" '
            'PRIMARY KEY USING INDEX "_PostToTag_AB_unique"'
        )
        assert conn.execute("""SELECT '"_PostToTag_AB_pkey"'::regclass::oid""").fetchone() == index
        with pytest.raises(psycopg.errors.UndefinedObject):
            conn.execute('DROP INDEX "_PostToTag_AB_unique"')


@pytest.mark.parametrize(
    ("values", "statement"),
    [
        ("('Ann@x.com'), ('ann@x.com')", 'ALTER TABLE "User" ALTER COLUMN "email" SET DATA TYPE CITEXT'),
        ("('a'), ('a ')", 'ALTER TABLE "User" ALTER COLUMN "email" SET DATA TYPE CHAR(20)'),
    ],
)
def test_a_unique_column_made_citext_or_char_fails_on_values_equal_under_the_new_type(
    values: str, statement: str, database_url: str
) -> None:
    """PostgreSQL rebuilds the column's unique index with the new type's equality (case-insensitive for
    citext, trailing spaces ignored for char): values distinct before are duplicates now."""
    history = """CREATE EXTENSION IF NOT EXISTS "citext";
        CREATE TABLE "User" ("id" SERIAL NOT NULL, "email" TEXT NOT NULL, CONSTRAINT "User_pkey" PRIMARY KEY ("id"));
        CREATE UNIQUE INDEX "User_email_key" ON "User"("email");
    """
    assert _lint("unique-on-existing-table", history, statement + ";") == [1]
    run_script(database_url, history + f'INSERT INTO "User" ("email") VALUES {values};')
    with pytest.raises(psycopg.errors.UniqueViolation) as failure:
        run_script(database_url, statement)
    assert "User_email_key" in str(failure.value)


# ---- keys re-added around a widening, an enum value used after the file's COMMIT (Prisma 6.19 output) ----

WIDEN_V1 = """
CREATE TABLE "P" ("id" INTEGER NOT NULL, "code" VARCHAR(10) NOT NULL, CONSTRAINT "P_pkey" PRIMARY KEY ("id"));
CREATE TABLE "C" ("id" INTEGER NOT NULL, "pId" INTEGER NOT NULL, CONSTRAINT "C_pkey" PRIMARY KEY ("id"));
CREATE TABLE "D" ("id" INTEGER NOT NULL, "pCode" VARCHAR(10) NOT NULL, CONSTRAINT "D_pkey" PRIMARY KEY ("id"));
CREATE TABLE "Q" ("code" VARCHAR(10) NOT NULL, CONSTRAINT "Q_pkey" PRIMARY KEY ("code"));
CREATE TABLE "E" ("id" INTEGER NOT NULL, "qCode" VARCHAR(10) NOT NULL, CONSTRAINT "E_pkey" PRIMARY KEY ("id"));
CREATE UNIQUE INDEX "P_code_key" ON "P"("code");
ALTER TABLE "C" ADD CONSTRAINT "C_pId_fkey" FOREIGN KEY ("pId") REFERENCES "P"("id")
    ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "D" ADD CONSTRAINT "D_pCode_fkey" FOREIGN KEY ("pCode") REFERENCES "P"("code")
    ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "E" ADD CONSTRAINT "E_qCode_fkey" FOREIGN KEY ("qCode") REFERENCES "Q"("code")
    ON DELETE RESTRICT ON UPDATE CASCADE;
"""
# 1,000 rows per table, keys with trailing spaces and case variants among them.
WIDEN_ROWS = """
INSERT INTO "P" SELECT g, 'k' || g || repeat(' ', g % 3) FROM generate_series(1, 1000) g;
INSERT INTO "C" SELECT g, 1 + (g * 7) % 1000 FROM generate_series(1, 1000) g;
INSERT INTO "D" SELECT g, 'k' || (1 + (g * 7) % 1000) || repeat(' ', (1 + (g * 7) % 1000) % 3)
    FROM generate_series(1, 1000) g;
INSERT INTO "Q" SELECT CASE WHEN g % 2 = 0 THEN 'q' ELSE 'Q' END || g || repeat(' ', g % 3)
    FROM generate_series(1, 1000) g;
INSERT INTO "E" SELECT g, code FROM (SELECT row_number() OVER () AS g, "code" AS code FROM "Q") q;
"""
WIDEN_V2 = """-- DropForeignKey
ALTER TABLE "C" DROP CONSTRAINT "C_pId_fkey";

-- DropForeignKey
ALTER TABLE "D" DROP CONSTRAINT "D_pCode_fkey";

-- DropForeignKey
ALTER TABLE "E" DROP CONSTRAINT "E_qCode_fkey";

-- AlterTable
ALTER TABLE "P" DROP CONSTRAINT "P_pkey",
ALTER COLUMN "id" SET DATA TYPE BIGINT,
ALTER COLUMN "code" SET DATA TYPE VARCHAR(20),
ADD CONSTRAINT "P_pkey" PRIMARY KEY ("id");

-- AlterTable
ALTER TABLE "Q" DROP CONSTRAINT "Q_pkey",
ALTER COLUMN "code" SET DATA TYPE VARCHAR(20),
ADD CONSTRAINT "Q_pkey" PRIMARY KEY ("code");

-- AlterTable
ALTER TABLE "C" ALTER COLUMN "pId" SET DATA TYPE BIGINT;

-- AlterTable
ALTER TABLE "D" ALTER COLUMN "pCode" SET DATA TYPE VARCHAR(20);

-- AlterTable
ALTER TABLE "E" ALTER COLUMN "qCode" SET DATA TYPE VARCHAR(20);

-- AddForeignKey
ALTER TABLE "C" ADD CONSTRAINT "C_pId_fkey" FOREIGN KEY ("pId") REFERENCES "P"("id")
    ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "D" ADD CONSTRAINT "D_pCode_fkey" FOREIGN KEY ("pCode") REFERENCES "P"("code")
    ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "E" ADD CONSTRAINT "E_qCode_fkey" FOREIGN KEY ("qCode") REFERENCES "Q"("code")
    ON DELETE RESTRICT ON UPDATE CASCADE;
"""


def test_keys_re_added_around_a_widening_of_both_sides_hold(database_url: str) -> None:
    """Prisma's Int -> BigInt of a referenced @id and VarChar(10) -> VarChar(20) of referenced keys:
    every value is kept and compares as before, so the keys re-added hold on any rows; neither rule
    reports them."""
    assert _lint("add-primary-key", WIDEN_V1, WIDEN_V2) == []
    assert _lint("add-foreign-key", WIDEN_V1, WIDEN_V2) == []
    run_script(database_url, WIDEN_V1 + WIDEN_ROWS)
    run_script(database_url, WIDEN_V2)
    with psycopg.connect(database_url, autocommit=True) as conn:
        counts = conn.execute(
            """SELECT (SELECT count(*) FROM "P"), (SELECT count(*) FROM "D" JOIN "P" ON "P"."code" = "D"."pCode"),
                      (SELECT count(*) FROM "E" JOIN "Q" ON "Q"."code" = "E"."qCode")"""
        ).fetchone()
    assert counts == (1000, 1000, 1000)


SHORTER_V1 = """
CREATE TABLE "P" ("code" VARCHAR(20) NOT NULL, CONSTRAINT "P_pkey" PRIMARY KEY ("code"));
CREATE TABLE "D" ("id" INTEGER NOT NULL, "pCode" VARCHAR(20) NOT NULL, CONSTRAINT "D_pkey" PRIMARY KEY ("id"));
ALTER TABLE "D" ADD CONSTRAINT "D_pCode_fkey" FOREIGN KEY ("pCode") REFERENCES "P"("code");
INSERT INTO "P" VALUES ('ab'), ('ab  '), ('ab   ');
INSERT INTO "D" VALUES (1, 'ab  ');
"""


@pytest.mark.parametrize(
    ("rule_name", "sql", "failure"),
    [
        (
            "add-foreign-key",
            'ALTER TABLE "D" DROP CONSTRAINT "D_pCode_fkey";\n'
            'ALTER TABLE "D" ALTER COLUMN "pCode" SET DATA TYPE VARCHAR(3);\n'
            'ALTER TABLE "D" ADD CONSTRAINT "D_pCode_fkey" FOREIGN KEY ("pCode") REFERENCES "P"("code");',
            psycopg.errors.ForeignKeyViolation,
        ),
        (
            "add-primary-key",
            'ALTER TABLE "D" DROP CONSTRAINT "D_pCode_fkey";\n'
            'ALTER TABLE "P" DROP CONSTRAINT "P_pkey", ALTER COLUMN "code" SET DATA TYPE VARCHAR(3), '
            'ADD CONSTRAINT "P_pkey" PRIMARY KEY ("code");',
            psycopg.errors.UniqueViolation,
        ),
    ],
)
def test_keys_re_added_around_a_shorter_varchar_fail_on_values_it_cut(
    rule_name: str, sql: str, failure: type[psycopg.Error], database_url: str
) -> None:
    """A shorter varchar silently cuts trailing spaces beyond its length ('ab  ' and 'ab   ' become 'ab '):
    values change, a referencing one no longer matches, distinct keys become equal. Reported."""
    assert _lint(rule_name, SHORTER_V1, sql) == [sql.count("\n") + 1]
    run_script(database_url, SHORTER_V1)
    with pytest.raises(failure):
        run_script(database_url, sql)


ENUM_V1 = """CREATE SCHEMA IF NOT EXISTS "auth";
CREATE TYPE "auth"."Role" AS ENUM ('A', 'B');
CREATE TYPE "auth"."Kind" AS ENUM ('X', 'Y', 'Z');
CREATE TABLE "User" (
    "id" INTEGER NOT NULL,
    "role" "auth"."Role" NOT NULL,
    "kind" "auth"."Kind" NOT NULL DEFAULT 'X',
    "tags" "auth"."Kind"[],
    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);
"""
ENUM_V2 = """-- AlterEnum
ALTER TYPE "auth"."Role" ADD VALUE 'C';

-- AlterEnum
BEGIN;
CREATE TYPE "auth"."Kind_new" AS ENUM ('X', 'Y');
ALTER TABLE "User" ALTER COLUMN "kind" DROP DEFAULT;
ALTER TABLE "User" ALTER COLUMN "kind" TYPE "auth"."Kind_new" USING ("kind"::text::"auth"."Kind_new");
ALTER TABLE "User" ALTER COLUMN "tags" TYPE "auth"."Kind_new"[] USING ("tags"::text::"auth"."Kind_new"[]);
ALTER TYPE "auth"."Kind" RENAME TO "Kind_old";
ALTER TYPE "auth"."Kind_new" RENAME TO "Kind";
DROP TYPE "auth"."Kind_old";
ALTER TABLE "User" ALTER COLUMN "kind" SET DEFAULT 'X';
COMMIT;

-- AlterTable
ALTER TABLE "User" ALTER COLUMN "role" SET DEFAULT 'C';
"""


def test_an_enum_value_committed_by_the_file_fails_in_safemigrate_s_single_transaction(
    database_url: str, tmp_path: Path
) -> None:
    """Sent as one query (`prisma migrate deploy`), the file's COMMIT commits the new value before the
    default uses it; safemigrate's engine leaves BEGIN/COMMIT out and runs the file in one transaction:
    55P04, rolled back. The rule reports the use, naming `safemigrate migrate`."""
    from safemigrate.lint.engine import LintOptions, SourceFile, lint_sources
    from safemigrate.lint.rule import Severity
    from safemigrate.migrations import list_migrations
    from safemigrate.pipeline.apply import apply_migrations

    rule = rule_by_name("enum-value-used-same-transaction")
    sources = [SourceFile("v1.sql", "v1", ENUM_V1.encode()), SourceFile("v2.sql", "v2", ENUM_V2.encode())]
    options = LintOptions(severities={rule.name: Severity.ERROR}, report=frozenset({"v2.sql"}), rules=(rule,))
    found = [(f.line, f.message) for f in lint_sources(sources, options).findings if f.rule == rule.name]
    assert [line for line, _ in found] == [ENUM_V2.count("\n")]
    assert "`safemigrate migrate` leaves the file's BEGIN and COMMIT out" in found[0][1]

    for name, sql in (("20240101000000_init", ENUM_V1), ("20240202000000_change", ENUM_V2)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "migration.sql").write_text(sql)
    init, change = list_migrations(tmp_path)
    labels = 'SELECT enum_range(NULL::auth."Role")::text, enum_range(NULL::auth."Kind")::text'
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert apply_migrations(conn, "public", [init]).committed
        result = apply_migrations(conn, "public", [change])
        assert not result.committed and result.failed is not None and result.failed.error is not None
        assert result.failed.error.sqlstate == "55P04", result.failed.error
        assert conn.execute(labels).fetchone() == ("{A,B}", "{X,Y,Z}")  # rolled back whole
    run_script(database_url, ENUM_V2)  # as Prisma sends it
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute(labels).fetchone() == ("{A,B,C}", "{X,Y}")
