"""What a clone must never do to its target: fire the target's own triggers and rules on the copied
rows, leave raw values of masked columns in the target's table and index files, report masked what
is not, or leave partitioned tables out without a word."""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from safemigrate.errors import InputError, RestoreRefusedError, UnknownTableError
from safemigrate.staging import RULES, ColumnMask, clone_database
from safemigrate.staging.masked_load import masking_shortfall
from safemigrate.staging.masks import PHONE_DIGITS, mask_expression
from safemigrate.staging.triggers import TriggerOwnershipError
from tests.pgserver import PgServer
from tests.staging.test_cli_clone import run

SALT = {"SAFEMIGRATE_MASK_SALT": "a test secret"}
RAW_EMAILS = ("ada@example.com", "bob@example.com", "cy@example.com")

AUDIT = """
CREATE TABLE audit (id serial PRIMARY KEY, happened text, row_data jsonb);
CREATE FUNCTION audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit (happened, row_data) VALUES (TG_NAME || ' ' || TG_OP, to_jsonb(coalesce(NEW, OLD)));
    RETURN NULL;
END $$;
CREATE TRIGGER user_insert AFTER INSERT ON "User" FOR EACH ROW EXECUTE FUNCTION audit_row();
CREATE TRIGGER user_update AFTER UPDATE ON "User" FOR EACH ROW EXECUTE FUNCTION audit_row();
CREATE TRIGGER user_always AFTER INSERT OR UPDATE ON "User" FOR EACH ROW EXECUTE FUNCTION audit_row();
ALTER TABLE "User" ENABLE ALWAYS TRIGGER user_always;
CREATE TRIGGER user_off AFTER INSERT ON "User" FOR EACH ROW EXECUTE FUNCTION audit_row();
ALTER TABLE "User" DISABLE TRIGGER user_off;
CREATE TRIGGER user_truncate BEFORE TRUNCATE ON "User" FOR EACH STATEMENT EXECUTE FUNCTION audit_row();
CREATE TRIGGER post_insert AFTER INSERT ON "Post" FOR EACH ROW EXECUTE FUNCTION audit_row();
CREATE RULE user_log AS ON INSERT TO "User"
    DO ALSO INSERT INTO audit (happened, row_data) VALUES ('rule', to_jsonb(NEW.email));
"""

STATES = """
SELECT tgname::text, tgenabled::text FROM pg_trigger WHERE NOT tgisinternal
UNION ALL SELECT rulename::text, ev_enabled::text FROM pg_rewrite WHERE rulename = 'user_log'
ORDER BY 1
"""


def _execute(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement.encode())


def test_the_targets_triggers_and_rules_do_not_fire(source_url: str, target_url: str, tmp_path: Path) -> None:
    clone_database(tmp_path, to_url=target_url, database_url=source_url, environ={})
    _execute(target_url, AUDIT)
    with psycopg.connect(target_url) as conn:
        states = conn.execute(STATES).fetchall()
    assert ("user_always", "A") in states and ("user_off", "D") in states and ("user_log", "O") in states

    result = clone_database(
        tmp_path, to_url=target_url, database_url=source_url, masks={"User.email": "email"}, environ=SALT
    )
    assert [(m.column, m.values) for m in result.masked] == [("email", 3)]
    with psycopg.connect(target_url) as conn:
        assert conn.execute("SELECT happened, row_data::text FROM audit").fetchall() == []
        assert conn.execute(STATES).fetchall() == states  # each back as it was, disabled ones included
        conn.execute("""INSERT INTO "User" (email) VALUES ('new@example.com')""")  # and they fire again
        fired = {str(r[0]) for r in conn.execute("SELECT happened FROM audit").fetchall()}
    assert fired == {"user_insert INSERT", "user_always INSERT", "rule"}


def test_foreign_keys_are_still_checked(source_url: str, target_url: str, tmp_path: Path) -> None:
    """User triggers are disabled for the load, the foreign keys' own triggers are not."""
    clone_database(tmp_path, to_url=target_url, database_url=source_url, environ={})
    _execute(target_url, AUDIT)
    _execute(target_url, """ALTER TABLE "Post" ADD FOREIGN KEY ("authorEmail") REFERENCES "User" (email)""")
    _execute(
        source_url, """INSERT INTO "Post" ("authorId", "authorEmail", title) VALUES (1, 'ghost@example.com', 'x')"""
    )
    with pytest.raises(RestoreRefusedError, match=r"table 'Post' do not fit .*violates foreign key constraint"):
        clone_database(tmp_path, to_url=target_url, database_url=source_url, environ={})
    with psycopg.connect(target_url) as conn:
        assert conn.execute("""SELECT count(*) FROM "Post" """).fetchone() == (4,)  # rolled back
        assert conn.execute("SELECT count(*) FROM audit").fetchone() == (0,)


def test_a_trigger_that_skips_updates_cannot_keep_raw_values(source_url: str, target_url: str, tmp_path: Path) -> None:
    """Staging runs the same migrations as production: a BEFORE UPDATE trigger returning NULL for
    some rows must not leave their raw values behind while the clone reports them masked."""
    clone_database(tmp_path, to_url=target_url, database_url=source_url, environ={})
    _execute(
        target_url,
        """
        CREATE FUNCTION freeze_admins() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF OLD.role = 'ADMIN' THEN RETURN NULL; END IF; RETURN NEW; END $$;
        CREATE TRIGGER user_freeze BEFORE UPDATE ON "User" FOR EACH ROW EXECUTE FUNCTION freeze_admins();
        """,
    )
    result = clone_database(
        tmp_path, to_url=target_url, database_url=source_url, masks={"User.email": "email"}, environ=SALT
    )
    assert [(m.column, m.values) for m in result.masked] == [("email", 3)]
    with psycopg.connect(target_url) as conn:
        emails = [str(r[0]) for r in conn.execute("""SELECT email FROM "User" ORDER BY id""").fetchall()]
    assert all(e.startswith("user_") and e.endswith("@example.invalid") for e in emails), emails


def test_masking_shortfall_refuses_what_was_not_masked() -> None:
    email = ColumnMask("User", "email", "email")
    phone = ColumnMask("User", "phone", "null")
    assert masking_shortfall("User", 3, 3, 3, [(email, 3), (phone, 2)], [3, 0]) is None
    assert "2 of 3 rows" in (masking_shortfall("User", 3, 2, 3, [(email, 3)], [3]) or "")
    assert "holds 4 rows" in (masking_shortfall("User", 3, 3, 4, [(email, 3)], [3]) or "")
    assert "User.email" in (masking_shortfall("User", 3, 3, 3, [(email, 3)], [2]) or "")
    assert "User.phone" in (masking_shortfall("User", 3, 3, 3, [(email, 3), (phone, 2)], [3, 1]) or "")


def _raw_pages(conn: psycopg.Connection[tuple[object, ...]], relation: str) -> list[bytes]:
    rows = conn.execute(
        "SELECT get_raw_page(%s, 'main', b) FROM generate_series(0, pg_relation_size(%s::regclass) / 8192 - 1) b",
        [relation, relation],
    ).fetchall()
    return [bytes(r[0]) for r in rows]  # type: ignore[call-overload]


@pytest.mark.parametrize("target_has_the_tables", [False, True], ids=["created", "replaced"])
def test_raw_values_never_reach_the_targets_files(
    source_url: str, target_url: str, tmp_path: Path, target_has_the_tables: bool
) -> None:
    """Every page of the masked table and of its indexes, read raw (pageinspect): no raw value, not
    even in a dead row version; and the masked table holds no dead row versions at all (an xmax that
    only locks, HEAP_XMAX_LOCK_ONLY = 128, is the foreign key check of Post's rows)."""
    if target_has_the_tables:
        clone_database(tmp_path, to_url=target_url, database_url=source_url, masks={"Post.title": "hash"}, environ=SALT)
    clone_database(
        tmp_path,
        to_url=target_url,
        database_url=source_url,
        masks={"User.email": "email", "User.phone": "phone", "Post.authorEmail": "email"},
        environ=SALT,
    )
    with psycopg.connect(target_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
        relations = ['"User"', '"User_email_key"', '"User_pkey"', '"Post"']
        pages = [page for relation in relations for page in _raw_pages(conn, relation)]
        dead = conn.execute(
            """SELECT count(*) FROM generate_series(0, pg_relation_size('"User"') / 8192 - 1) b,
                      heap_page_items(get_raw_page('"User"', b))
                WHERE lp_flags <> 1 OR (t_xmax <> 0 AND t_infomask & 128 = 0)"""
        ).fetchone()
        emails = conn.execute("""SELECT email FROM "User" """).fetchall()
    assert pages and dead == (0,)
    for raw in (*RAW_EMAILS, "+44 20 7946 0001", "+1 212 555 0143"):
        assert not any(raw.encode() in page for page in pages), raw
    assert b"Bob Marley" in b"".join(pages)  # unmasked columns are there: the pages were read
    assert len(emails) == 3


def test_identity_columns_and_generated_columns_of_a_masked_table(
    database_url: str, target_url: str, tmp_path: Path
) -> None:
    _execute(
        database_url,
        """
        CREATE TABLE account (
            id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            email text NOT NULL,
            domain text GENERATED ALWAYS AS (split_part(email, '@', 2)) STORED
        );
        INSERT INTO account (email) VALUES ('ada@example.com'), ('bob@example.org');
        """,
    )
    result = clone_database(
        tmp_path, to_url=target_url, database_url=database_url, masks={"account.email": "email"}, environ=SALT
    )
    assert [(m.column, m.values) for m in result.masked] == [("email", 2)]
    with psycopg.connect(target_url) as conn:
        rows = conn.execute("SELECT id, email, domain FROM account ORDER BY id").fetchall()
        conn.execute("INSERT INTO account (email) VALUES ('new@example.net')")
        assert conn.execute("SELECT max(id) FROM account").fetchone() == (3,)
    assert [(r[0], r[2]) for r in rows] == [(1, "example.invalid"), (2, "example.invalid")]  # computed from the fake


PARTITIONED = """
CREATE TABLE "Event" (id int, email text, at date) PARTITION BY RANGE (at);
CREATE TABLE "Event_2024" PARTITION OF "Event" FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
INSERT INTO "Event" VALUES (1, 'ada@example.com', '2024-05-01');
"""


def test_partitioned_tables_are_named_when_left_out(source_url: str, target_url: str, tmp_path: Path) -> None:
    _execute(source_url, PARTITIONED)
    result = clone_database(tmp_path, to_url=target_url, database_url=source_url, environ={})
    assert [t.name for t in result.tables] == ["Post", "User"]
    assert result.skipped_partitioned == ("Event", "Event_2024")
    for table, what in (("Event", "a partitioned table"), ("Event_2024", "a partition")):
        with pytest.raises(InputError, match=f"'{table}' is {what}") as caught:
            clone_database(
                tmp_path, to_url=target_url, database_url=source_url, masks={f"{table}.email": "email"}, environ={}
            )
        assert "does not copy" in caught.value.message and "nothing was cloned" in caught.value.message
        with pytest.raises(UnknownTableError, match=f"'{table}' is {what}"):
            clone_database(tmp_path, to_url=target_url, database_url=source_url, tables=[table], environ={})
    partial = clone_database(tmp_path, to_url=target_url, database_url=source_url, tables=["Post", "User"], environ={})
    assert partial.skipped_partitioned == ()  # named tables: nothing else was meant


def test_the_cli_names_the_partitioned_tables_left_out(source_url: str, target_url: str, tmp_path: Path) -> None:
    _execute(source_url, PARTITIONED)
    done = run("--to", target_url, "--database-url", source_url, "--yes", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "clone: left out partitioned tables (not supported yet): Event, Event_2024" in done.stderr


def test_phone_fakes_are_practically_unique(database_url: str) -> None:
    """A million distinct numbers in a unique column must not collide (they did at 11 digits, with odds of
    99%): the fakes have PHONE_DIGITS digits, and the hash really spreads over all of them."""
    fakes = sql.SQL("SELECT {} AS fake FROM (SELECT '+1 555 ' || g AS {} FROM generate_series(1, 20000) g) AS numbers")
    query = sql.SQL(
        "SELECT count(DISTINCT fake), min(length(fake)), max(length(fake)), max(substr(fake, 5)::numeric)"
        " FROM ({}) AS f"
    ).format(fakes.format(mask_expression("phone", "number", sql.Literal("a test secret")), sql.Identifier("number")))
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    distinct, shortest, longest, top = row
    assert distinct == 20000 and shortest == longest == 4 + PHONE_DIGITS == RULES["phone"].length
    assert top >= 10 ** (PHONE_DIGITS - 1)  # the leading digit varies too
    million = 10**6
    assert million * (million - 1) / 2 / 10**PHONE_DIGITS < 1e-6  # birthday bound: below one in a million


def test_triggers_the_role_cannot_disable_are_refused(
    pg_server: PgServer, source_url: str, target_url: str, tmp_path: Path
) -> None:
    """A role that does not own a copied table with triggers cannot silence them: refused, unchanged."""
    clone_database(tmp_path, to_url=target_url, database_url=source_url, environ={})
    _execute(target_url, AUDIT)
    role = "stager_" + uuid.uuid4().hex[:8]
    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'stager-pw'").format(sql.Identifier(role)))
    try:
        parts = urlsplit(target_url)
        as_stager = urlunsplit(parts._replace(netloc=f"{role}:stager-pw@{parts.hostname}:{parts.port}"))
        with pytest.raises(
            TriggerOwnershipError, match="'Post' of the target has trigger 'post_insert', which would fire"
        ):
            clone_database(tmp_path, to_url=as_stager, database_url=source_url, environ={})
    finally:
        with psycopg.connect(pg_server.url(), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    with psycopg.connect(target_url) as conn:
        assert conn.execute("SELECT count(*) FROM audit").fetchone() == (0,)
