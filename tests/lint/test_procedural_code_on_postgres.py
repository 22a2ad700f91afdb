"""procedural-code's claims proven on PostgreSQL: each migration below empties a table through code the
linter cannot see into (a default, a CHECK, a trigger), and the linter reports the statement that runs it."""

from __future__ import annotations

import psycopg
import pytest

from safemigrate.lint.engine import LintOptions, SourceFile, lint_sources

SETUP = """
CREATE TABLE "Setting" ("key" TEXT, "value" TEXT);
INSERT INTO "Setting" VALUES ('a', 'b');
CREATE TABLE "Post" ("id" INT, "views" INT);
INSERT INTO "Post" VALUES (1, 1), (2, 2);
CREATE TABLE "Audit" ("msg" TEXT);
CREATE FUNCTION purge() RETURNS text LANGUAGE plpgsql AS $$ BEGIN DELETE FROM "Setting"; RETURN 'x'; END $$;
CREATE FUNCTION ok(int) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN DELETE FROM "Setting"; RETURN true; END $$;
CREATE FUNCTION purge_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN DELETE FROM "Setting"; RETURN NULL; END $$;
"""

CASES = {
    # Prisma writes DEFAULT nanoid() for @default(dbgenerated("nanoid()")).
    "default-of-a-new-column": ('ALTER TABLE "Post" ADD COLUMN "publicId" TEXT NOT NULL DEFAULT purge();', 1),
    "validated-check": ('ALTER TABLE "Post" ADD CONSTRAINT "c" CHECK (ok("views"));', 1),
    "insert-filling-a-default": ('CREATE TABLE "T9" ("id" TEXT DEFAULT purge());\nINSERT INTO "T9" DEFAULT VALUES;', 2),
    "trigger": (
        'CREATE TRIGGER t2 AFTER INSERT ON "Audit" FOR EACH ROW EXECUTE FUNCTION purge_trigger();\n'
        'INSERT INTO "Audit" ("msg") VALUES (\'x\');',
        2,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_code_that_empties_a_table_is_reported(database_url: str, case: str) -> None:
    migration, line = CASES[case]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(SETUP)
        conn.execute(migration)
        row = conn.execute('SELECT count(*) FROM "Setting"').fetchone()
    assert row == (0,)  # PostgreSQL ran the code: "Setting" is empty

    sources = [SourceFile("m.sql", "20990101000000_case", migration.encode())]
    findings = lint_sources(sources, LintOptions()).findings
    assert [(f.rule, f.line) for f in findings if f.rule == "procedural-code" and f.active] == [
        ("procedural-code", line)
    ]
