"""What the rules claim, observed on a real PostgreSQL server with each rule's own examples.

Rewrites are seen as a new relfilenode, locks in pg_locks from a second session while the
statement's transaction is open, failures as the server's error; the good example of the same rule
runs on the same data without that effect.
"""

from __future__ import annotations

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
