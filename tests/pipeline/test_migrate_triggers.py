"""A deploy whose statement fires a trigger (an audit log written on each update) changes a table no
statement names. The lint reports it as code it cannot see into, and the verification then lets rows
be added to any table: the good migration is applied, not rolled back as "its data changed, but no
pending statement touches it". Rows removed from such a table still roll the run back."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg

from safemigrate.migrations import list_migrations
from safemigrate.pipeline.apply import apply_migrations
from safemigrate.pipeline.migrate import migrate

PATTERNS = Path(__file__).parents[2] / "fixtures" / "patterns"
AUDIT = """
CREATE TABLE "AuditLog" ("id" SERIAL PRIMARY KEY, "what" TEXT NOT NULL);
CREATE FUNCTION audit_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO "AuditLog" ("what") VALUES ('user ' || NEW."id"); RETURN NEW; END $$;
CREATE TRIGGER "User_audit" AFTER UPDATE ON "User" FOR EACH ROW EXECUTE FUNCTION audit_user();
"""


def test_an_update_that_fires_an_audit_trigger_is_applied(tmp_path: Path, database_url: str) -> None:
    project = tmp_path / "project"
    shutil.copytree(PATTERNS / "drop_column", project)
    (project / "safemigrate.toml").write_text(f'[backup]\nstore = "{tmp_path / "backups"}"\n')
    first, second = list_migrations(project / "prisma" / "migrations")
    first.sql_path.write_text(first.sql_path.read_text() + AUDIT)  # the trigger is in the history
    second.sql_path.write_text('UPDATE "User" SET "nickname" = upper("nickname");\n')
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
        conn.execute("""INSERT INTO "User" (email, nickname) VALUES ('a@example.com', 'a'), ('b@example.com', 'b')""")

    run = migrate(project, database_url=database_url, allow=("data-loss", "unchecked"))

    assert run.verdict == "applied", run.message
    assert any(f.rule == "procedural-code" and "User_audit" in f.message for f in run.findings)
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute('SELECT count(*) FROM "AuditLog"').fetchone() == (2,)
        assert conn.execute('SELECT nickname FROM "User" ORDER BY id').fetchall() == [("A",), ("B",)]


def test_an_update_whose_trigger_deletes_rows_elsewhere_is_rolled_back(tmp_path: Path, database_url: str) -> None:
    project = tmp_path / "project"
    shutil.copytree(PATTERNS / "drop_column", project)
    (project / "safemigrate.toml").write_text(f'[backup]\nstore = "{tmp_path / "backups"}"\n')
    first, second = list_migrations(project / "prisma" / "migrations")
    first.sql_path.write_text(
        first.sql_path.read_text()
        + AUDIT.replace("""INSERT INTO "AuditLog" ("what") VALUES ('user ' || NEW."id")""", 'DELETE FROM "AuditLog"')
    )
    second.sql_path.write_text('UPDATE "User" SET "nickname" = upper("nickname");\n')
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
        conn.execute("""INSERT INTO "User" (email, nickname) VALUES ('a@example.com', 'a')""")
        conn.execute("""INSERT INTO "AuditLog" ("what") VALUES ('kept')""")

    run = migrate(project, database_url=database_url, allow=("data-loss", "unchecked"))

    assert run.verdict == "rolled back", run.message
    assert [(p.subject, p.detail) for p in run.problems] == [
        ("AuditLog", "1 row(s) disappeared; no statement deletes rows")
    ]
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute('SELECT what FROM "AuditLog"').fetchall() == [("kept",)]
        assert conn.execute('SELECT nickname FROM "User"').fetchall() == [("a",)]
