"""`rollback` drops the backed-up tables without CASCADE: what depends on them is taken off and put
back whole (views on views, their options, owner, grants, triggers, defaults and comments, a
materialized view's indexes, another table's default on the table's sequence), and anything it
cannot put back refuses the rollback with nothing changed (CASCADE dropped all of these silently)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from safemigrate.errors import RestoreRefusedError
from safemigrate.migrations import list_migrations
from safemigrate.pipeline.apply import apply_migrations
from safemigrate.pipeline.migrate import migrate
from safemigrate.pipeline.rollback import rollback
from tests.pgserver import PgServer, throwaway_roles

PATTERNS = Path(__file__).parents[2] / "fixtures" / "patterns"

DEPENDENTS = """
INSERT INTO "User" (email, nickname) SELECT 'u' || i || '@example.com', 'n' || i FROM generate_series(1, 12) i;
CREATE VIEW user_emails WITH (security_barrier = true) AS SELECT id, email FROM "User" WHERE id > 0
  WITH LOCAL CHECK OPTION;
CREATE VIEW first_emails AS SELECT email FROM user_emails WHERE id < 5;
CREATE SCHEMA reports;
CREATE MATERIALIZED VIEW reports.email_count AS SELECT count(*) AS n FROM first_emails;
CREATE UNIQUE INDEX email_count_n ON reports.email_count (n);
CREATE MATERIALIZED VIEW reports.later AS SELECT id FROM "User" WITH NO DATA;
ALTER VIEW user_emails ALTER COLUMN email SET DEFAULT 'nobody@example.com';
ALTER VIEW user_emails ALTER COLUMN id SET DEFAULT nextval('"User_id_seq"');
CREATE FUNCTION user_emails_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO "User" (email) VALUES (NEW.email); RETURN NEW; END $$;
CREATE TRIGGER user_emails_insert INSTEAD OF INSERT ON first_emails FOR EACH ROW EXECUTE FUNCTION user_emails_insert();
COMMENT ON VIEW user_emails IS 'emails only';
COMMENT ON COLUMN user_emails.email IS 'the address';
COMMENT ON MATERIALIZED VIEW reports.email_count IS 'how many';
GRANT SELECT ON user_emails TO {reader}, {owner};
GRANT SELECT ON reports.email_count TO {reader};
ALTER VIEW first_emails OWNER TO {owner};
CREATE TABLE ticket (id int NOT NULL DEFAULT nextval('"User_id_seq"'), what text);
"""

# Everything about the dependents that the rollback must give back, as one comparable value.
DESCRIBE = """
SELECT c.relnamespace::regnamespace::text, c.relname::text, c.relkind::text,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END,
       c.reloptions, pg_get_userbyid(c.relowner)::text, c.relacl::text, c.relispopulated,
       obj_description(c.oid, 'pg_class'),
       ARRAY(SELECT a.attname || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') || ' '
                    || coalesce(col_description(c.oid, a.attnum), '')
               FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum),
       ARRAY(SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t WHERE t.tgrelid = c.oid ORDER BY t.tgname),
       ARRAY(SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = c.oid ORDER BY 1)
  FROM pg_class c
 WHERE c.relnamespace IN ('public'::regnamespace, 'reports'::regnamespace)
   AND c.relname IN ('user_emails', 'first_emails', 'email_count', 'later', 'ticket')
 ORDER BY 1, 2
"""


@pytest.fixture
def roles(pg_server: PgServer, database_url: str) -> Iterator[tuple[str, str]]:
    """A reader and a view owner with unique names (roles are cluster-wide), dropped at the end."""
    with throwaway_roles(pg_server, database_url, "reader", "owner") as (first, second):
        yield first, second


def _deployed(tmp_path: Path, database_url: str, extra_sql: sql.Composable | str) -> Path:
    """The drop_column pattern with its first migration applied, then ``extra_sql``."""
    project = tmp_path / "project"
    shutil.copytree(PATTERNS / "drop_column", project)
    (project / "safemigrate.toml").write_text(f'[backup]\nstore = "{tmp_path / "backups"}"\n')
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
        conn.execute(extra_sql)
    return project


def _describe(url: str) -> list[Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(DESCRIBE).fetchall()


def _state(url: str) -> tuple[Any, ...]:
    """The User table's columns and rows, and the functions and views of the database."""
    with psycopg.connect(url, autocommit=True) as conn:
        columns = conn.execute(
            "SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute"
            " WHERE attrelid = '\"User\"'::regclass AND attnum > 0 AND NOT attisdropped"
        ).fetchone()
        rows = conn.execute("""SELECT count(*), sum(hashtext(u::text)) FROM "User" u""").fetchone()
        objects = conn.execute(
            "SELECT array_agg(proname::text ORDER BY proname) FROM pg_proc WHERE pronamespace = 'public'::regnamespace"
        ).fetchone()
        views = conn.execute(
            "SELECT array_agg(relname::text ORDER BY relname) FROM pg_class WHERE relkind IN ('v', 'm')"
            " AND relnamespace = 'public'::regnamespace"
        ).fetchone()
    return columns, rows, objects, views


def test_views_on_views_and_a_default_on_the_tables_sequence_come_back_whole(
    tmp_path: Path, database_url: str, roles: tuple[str, str]
) -> None:
    reader, owner = roles
    extras = sql.SQL(DEPENDENTS).format(reader=sql.Identifier(reader), owner=sql.Identifier(owner))
    project = _deployed(tmp_path, database_url, extras)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("REFRESH MATERIALIZED VIEW reports.email_count")
    before = _describe(database_url)
    assert len(before) == 5
    run = migrate(project, database_url=database_url, allow=("data-loss",))
    assert run.verdict == "applied", run.message

    result = rollback(project, database_url=database_url, confirm=lambda preview: True)
    assert result.restored == ("User",)
    assert _describe(database_url) == before, "every view, its extras, and the ticket table's default are back"
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute("SELECT n FROM reports.email_count").fetchall() == [(4,)], "populated again"
        conn.execute("INSERT INTO first_emails (email) VALUES ('through@example.com')")  # the INSTEAD OF trigger
        assert conn.execute("""SELECT count(*) FROM "User" """).fetchone() == (13,)
        ticket = conn.execute("INSERT INTO ticket (what) VALUES ('x') RETURNING id").fetchone()
        user = conn.execute("""INSERT INTO "User" (email) VALUES ('next@example.com') RETURNING id""").fetchone()
        assert ticket is not None and user is not None and user[0] == ticket[0] + 1, "one sequence, shared again"


@pytest.mark.parametrize(
    ("function", "refusal"),
    [
        ("""CREATE FUNCTION all_users() RETURNS SETOF "User" LANGUAGE sql AS 'SELECT * FROM "User"'""", '"User"'),
        ("CREATE FUNCTION all_ids() RETURNS SETOF user_ids LANGUAGE sql AS 'SELECT * FROM user_ids'", "user_ids"),
    ],
    ids=["table-row-type", "view-row-type"],
)
def test_a_function_of_a_row_type_refuses_the_rollback_with_nothing_changed(
    tmp_path: Path, database_url: str, function: str, refusal: str
) -> None:
    project = _deployed(
        tmp_path,
        database_url,
        """INSERT INTO "User" (email) VALUES ('a@example.com'), ('b@example.com');
           CREATE VIEW user_ids AS SELECT id FROM "User";""",
    )
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(function)
    run = migrate(project, database_url=database_url, allow=("data-loss",))
    assert run.verdict == "applied", run.message
    after_run = _state(database_url)

    with pytest.raises(RestoreRefusedError, match=rf"function all_\w+\(\) depends on type {refusal}"):
        rollback(project, database_url=database_url, confirm=lambda preview: True)
    assert _state(database_url) == after_run, "the table, its rows, the function and the view are as they were"


def test_a_view_on_a_column_the_run_added_refuses_the_rollback_with_nothing_changed(
    tmp_path: Path, database_url: str
) -> None:
    project = _deployed(tmp_path, database_url, """INSERT INTO "User" (email) VALUES ('a@example.com');""")
    pending = list_migrations(project / "prisma" / "migrations")[1].sql_path
    pending.write_text(
        pending.read_text() + 'ALTER TABLE "User" ADD COLUMN "age" INTEGER;\nUPDATE "User" SET "age" = 1;\n'
    )
    run = migrate(project, database_url=database_url, allow=("data-loss",))
    assert run.verdict == "applied", run.message
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("""CREATE VIEW ages AS SELECT "age" FROM "User" """)
    after_run = _state(database_url)

    with pytest.raises(
        RestoreRefusedError, match=r'The view "public"."ages" cannot be put back .*column User.age does not exist'
    ):
        rollback(project, database_url=database_url, confirm=lambda preview: True)
    assert _state(database_url) == after_run


def test_a_view_made_since_on_a_table_the_run_created_refuses_until_it_is_dropped(
    tmp_path: Path, database_url: str
) -> None:
    project = _deployed(tmp_path, database_url, """INSERT INTO "User" (email) VALUES ('a@example.com');""")
    pending = list_migrations(project / "prisma" / "migrations")[1].sql_path
    pending.write_text(
        pending.read_text()
        + 'CREATE TABLE "Team" ("id" SERIAL NOT NULL, CONSTRAINT "Team_pkey" PRIMARY KEY ("id"));\n'
        + 'ALTER TABLE "User" ADD COLUMN "teamId" INTEGER;\n'
        + 'ALTER TABLE "User" ADD CONSTRAINT "User_teamId_fkey" FOREIGN KEY ("teamId") REFERENCES "Team"("id");\n'
    )
    run = migrate(project, database_url=database_url, allow=("data-loss",))
    assert run.verdict == "applied", run.message
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("""CREATE VIEW team_ids AS SELECT id FROM "Team" """)
    after_run = _state(database_url)

    with pytest.raises(RestoreRefusedError, match=r"view team_ids depends on table \"?Team\"?"):
        rollback(project, database_url=database_url, confirm=lambda preview: True)
    assert _state(database_url) == after_run, "the view was not dropped with the table"

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP VIEW team_ids")
    result = rollback(project, database_url=database_url, confirm=lambda preview: True)
    assert "table Team" in result.dropped
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute("""SELECT to_regclass('"Team"') IS NULL""").fetchone() == (True,)


def test_a_view_whose_owner_the_rolling_back_role_may_not_restore_refuses(
    pg_server: PgServer, database_url: str, roles: tuple[str, str]
) -> None:
    """Recreated under the rolling-back role, the view would read its tables with that role's
    privileges (row-level security included): a role that cannot give it back refuses instead."""
    from safemigrate.pipeline.dependents import DependentView, _give_back

    reader, owner = roles
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD 'pw'").format(sql.Identifier(reader)))
        conn.execute(sql.SQL("GRANT CREATE ON SCHEMA public TO {}").format(sql.Identifier(reader)))
    as_reader = database_url.replace("postgres:", f"{reader}:", 1).split("@")[1]
    url = f"postgresql://{reader}:pw@{as_reader}"
    view = DependentView("public", "v", False, "SELECT 1 AS one", 1, (), owner, None, True, (), (), (), (), ())
    with psycopg.connect(url) as conn:
        conn.execute("CREATE VIEW v AS SELECT 1 AS one")
        with pytest.raises(RestoreRefusedError, match=rf"belongs to role '{owner}', and the rollback cannot give it"):
            _give_back(conn, view)
