"""Restoring into tables that are there: their user triggers do not fire for the restored rows (an
audit or counter trigger would write to other tables once per row, and commit it; a BEFORE trigger
would rewrite the rows), and non-deferrable foreign keys in a cycle (Prisma writes them so) load
all the same. The triggers and keys are as they were afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from safemigrate.backup import restore_backup, take_backup
from safemigrate.db.url import parse_database_url
from safemigrate.errors import RestoreRefusedError
from tests.pgserver import PgServer

TRIGGERS = """
CREATE TABLE audit_log (id serial PRIMARY KEY, what text NOT NULL);
CREATE TABLE totals (name text PRIMARY KEY, amount bigint NOT NULL);
INSERT INTO totals VALUES ('balance', 0);
CREATE TABLE account (id int PRIMARY KEY, balance bigint NOT NULL, note text);
CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO audit_log (what) VALUES (TG_NAME || ' ' || TG_OP); RETURN NULL; END $$;
CREATE FUNCTION add_total() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN UPDATE totals SET amount = amount + NEW.balance WHERE name = 'balance'; RETURN NULL; END $$;
CREATE FUNCTION shout() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.note := upper(NEW.note); RETURN NEW; END $$;
CREATE TRIGGER account_audit AFTER INSERT ON account FOR EACH ROW EXECUTE FUNCTION audit();
CREATE TRIGGER account_total AFTER INSERT ON account FOR EACH ROW EXECUTE FUNCTION add_total();
CREATE TRIGGER account_shout BEFORE INSERT ON account FOR EACH ROW EXECUTE FUNCTION shout();
CREATE TRIGGER account_truncated AFTER TRUNCATE ON account FOR EACH STATEMENT EXECUTE FUNCTION audit();
CREATE TRIGGER account_always AFTER INSERT ON account FOR EACH ROW EXECUTE FUNCTION audit();
ALTER TABLE account ENABLE ALWAYS TRIGGER account_always;
CREATE TRIGGER account_off AFTER INSERT ON account FOR EACH ROW EXECUTE FUNCTION audit();
ALTER TABLE account DISABLE TRIGGER account_off;
"""

# What the triggers did, and what they are.
STATE = """
SELECT (SELECT count(*) FROM audit_log), (SELECT amount FROM totals),
       ARRAY(SELECT tgname || ' ' || tgenabled::text FROM pg_trigger
              WHERE tgrelid = 'account'::regclass AND NOT tgisinternal ORDER BY tgname)
"""


def _execute(url: str, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement.encode(), params)
        return cur.fetchall() if cur.description else []


@pytest.fixture
def accounts(database_url: str) -> str:
    _execute(database_url, TRIGGERS)
    # The rows as the triggers made them (shouted notes): what the backup holds.
    _execute(database_url, "INSERT INTO account SELECT i, i * 10, 'note ' || i FROM generate_series(1, 50) i")
    return database_url


def test_an_in_place_restore_fires_no_user_trigger(accounts: str, tmp_path: Path) -> None:
    store = tmp_path / "store"
    take_backup(parse_database_url(accounts), store, tables=["account"])
    backed_up = _execute(accounts, "SELECT * FROM account ORDER BY id")
    _execute(accounts, "UPDATE account SET balance = balance + 1, note = 'changed'")
    before = _execute(accounts, STATE)

    result = restore_backup(parse_database_url(accounts, source="--to-url"), store, tables=["account"])

    assert [t.recreated for t in result.tables] == [False]
    assert _execute(accounts, STATE) == before, "no audit row, no total added, no trigger state changed"
    assert _execute(accounts, "SELECT * FROM account ORDER BY id") == backed_up, "rows as backed up, not re-shouted"
    _execute(accounts, "INSERT INTO account VALUES (51, 5, 'after')")
    audit_rows, total, _ = _execute(accounts, STATE)[0]
    assert (audit_rows, total) == (before[0][0] + 2, before[0][1] + 5), "the enabled triggers fire again"
    assert _execute(accounts, "SELECT note FROM account WHERE id = 51") == [("AFTER",)]


@pytest.fixture
def restorer(pg_server: PgServer, accounts: str) -> Iterator[str]:
    """A role that may empty and fill ``account`` but does not own it."""
    name = f"restorer_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'pw'").format(sql.Identifier(name)))
    _execute(accounts, f'GRANT SELECT, INSERT, TRUNCATE ON account TO "{name}"')
    _execute(accounts, f'GRANT USAGE, CREATE ON SCHEMA public TO "{name}"')
    try:
        yield _as_url(accounts, name)
    finally:
        _execute(accounts, f'DROP OWNED BY "{name}"')
        with psycopg.connect(pg_server.url(), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def _as_url(url: str, user: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:pw@{host}"))


def test_a_role_that_may_not_switch_triggers_off_is_refused(accounts: str, restorer: str, tmp_path: Path) -> None:
    store = tmp_path / "store"
    take_backup(parse_database_url(accounts), store, tables=["account"])
    _execute(accounts, "UPDATE account SET note = 'changed'")
    before = (_execute(accounts, STATE), _execute(accounts, "SELECT * FROM account ORDER BY id"))
    with pytest.raises(RestoreRefusedError) as refused:
        restore_backup(parse_database_url(restorer, source="--to-url"), store, tables=["account"])
    assert refused.value.message == (
        "Table 'account' has trigger(s) 'account_always', 'account_audit', 'account_shout', 'account_total', "
        "'account_truncated' that would fire for every restored row, and only its owner may switch them off for "
        "the load; nothing was restored."
    )
    assert (_execute(accounts, STATE), _execute(accounts, "SELECT * FROM account ORDER BY id")) == before


# Prisma writes both keys of a 1:n plus an optional 1:1 back as plain (non-deferrable) foreign keys.
CYCLE = """
CREATE TABLE "User" (id int PRIMARY KEY, "favoritePostId" int);
CREATE TABLE "Post" (id int PRIMARY KEY, "authorId" int NOT NULL);
ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"(id)
    ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "User" ADD CONSTRAINT "User_favoritePostId_fkey" FOREIGN KEY ("favoritePostId") REFERENCES "Post"(id)
    ON DELETE SET NULL ON UPDATE CASCADE;
INSERT INTO "User" SELECT i, NULL FROM generate_series(1, 20) i;
INSERT INTO "Post" SELECT i, (i % 20) + 1 FROM generate_series(1, 40) i;
UPDATE "User" SET "favoritePostId" = id * 2;
"""

KEYS = """
SELECT conname, condeferrable, condeferred, convalidated FROM pg_constraint
 WHERE contype = 'f' AND conrelid IN ('"User"'::regclass, '"Post"'::regclass) ORDER BY conname
"""


def test_non_deferrable_keys_in_a_cycle_restore_in_place(database_url: str, tmp_path: Path) -> None:
    _execute(database_url, CYCLE)
    store = tmp_path / "store"
    take_backup(parse_database_url(database_url), store)
    rows = (
        _execute(database_url, 'SELECT * FROM "User" ORDER BY id'),
        _execute(database_url, 'SELECT * FROM "Post" ORDER BY id'),
    )
    keys = _execute(database_url, KEYS)
    _execute(database_url, 'UPDATE "User" SET "favoritePostId" = NULL; DELETE FROM "Post" WHERE id > 10')

    result = restore_backup(parse_database_url(database_url, source="--to-url"), store)

    assert sorted(t.name for t in result.tables) == ["Post", "User"]
    assert (
        _execute(database_url, 'SELECT * FROM "User" ORDER BY id'),
        _execute(database_url, 'SELECT * FROM "Post" ORDER BY id'),
    ) == rows
    assert _execute(database_url, KEYS) == keys, "the keys are NOT DEFERRABLE again, and validated"
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        _execute(database_url, 'INSERT INTO "Post" VALUES (100, 999)')


def test_a_serial_sequence_name_another_table_now_uses_is_refused(database_url: str, tmp_path: Path) -> None:
    """A migration renamed ``a`` to ``b``; ``b`` kept the sequence ``a_id_seq``. Recreating ``a`` would
    have taken that sequence over (OWNED BY) and rewound it: ``b``'s next insert then collided."""
    _execute(database_url, "CREATE TABLE a (id serial PRIMARY KEY, v text); INSERT INTO a (v) VALUES ('x'), ('y')")
    store = tmp_path / "store"
    take_backup(parse_database_url(database_url), store, tables=["a"])
    _execute(database_url, "ALTER TABLE a RENAME TO b; INSERT INTO b (v) SELECT 'z' FROM generate_series(1, 5)")
    with pytest.raises(RestoreRefusedError) as refused:
        restore_backup(parse_database_url(database_url, source="--to-url"), store, tables=["a"])
    assert refused.value.message == (
        "Table 'a' is recreated with its serial sequence 'a_id_seq', but that name is now the sequence that "
        "public.b.id draws from; restoring would take it over and rewind it. Nothing was restored."
    )
    assert 'ALTER SEQUENCE "public"."a_id_seq" RENAME TO' in refused.value.hint
    assert _execute(database_url, "SELECT to_regclass('a')") == [(None,)]
    _execute(database_url, "INSERT INTO b (v) VALUES ('next')")  # b's sequence was not rewound
    assert _execute(database_url, "SELECT max(id), count(*) FROM b") == [(8, 8)]

    # The sequence renamed out of the way, ``b``'s primary key index still has ``a``'s name.
    _execute(database_url, "ALTER SEQUENCE a_id_seq RENAME TO b_id_seq")
    with pytest.raises(RestoreRefusedError) as refused:
        restore_backup(parse_database_url(database_url, source="--to-url"), store, tables=["a"])
    assert refused.value.message == (
        "Table 'a' is recreated with its index 'a_pkey', but that name is now an index of table public.b; the "
        "restore cannot create it. Nothing was restored."
    )
    # Both renamed, the restore recreates ``a`` with a sequence of its own.
    _execute(database_url, "ALTER INDEX a_pkey RENAME TO b_pkey")
    restore_backup(parse_database_url(database_url, source="--to-url"), store, tables=["a"])
    _execute(database_url, "INSERT INTO a (v) VALUES ('w'); INSERT INTO b (v) VALUES ('w')")
    assert _execute(database_url, "SELECT max(id) FROM a") == [(3,)]
    assert _execute(database_url, "SELECT max(id) FROM b") == [(9,)]


def test_an_identity_sequence_comes_back_under_its_backed_up_name(database_url: str, tmp_path: Path) -> None:
    """A table renamed since its identity was made keeps the sequence's old name; recreated, it keeps
    it again (SQL naming the sequence goes on working), and a relation holding that name meanwhile
    refuses the restore up front."""
    _execute(database_url, "CREATE TABLE a (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text)")
    _execute(database_url, "INSERT INTO a (v) VALUES ('x'); ALTER TABLE a RENAME TO b")
    store = tmp_path / "store"
    take_backup(parse_database_url(database_url), store, tables=["b"])
    _execute(database_url, "DROP TABLE b; CREATE SEQUENCE a_id_seq")
    with pytest.raises(RestoreRefusedError) as refused:
        restore_backup(parse_database_url(database_url), store)
    assert refused.value.message == (
        "Table 'b' is recreated with its identity sequence 'a_id_seq', but that name is now a sequence; the "
        "restore cannot create it. Nothing was restored."
    )
    _execute(database_url, "DROP SEQUENCE a_id_seq")
    restore_backup(parse_database_url(database_url), store)
    assert _execute(database_url, "SELECT pg_get_serial_sequence('b', 'id')") == [("public.a_id_seq",)]
    assert _execute(database_url, "INSERT INTO b (v) VALUES ('y') RETURNING id") == [(2,)]


def test_a_non_owner_restores_a_table_whose_triggers_never_fire_on_a_load(
    accounts: str, restorer: str, tmp_path: Path
) -> None:
    """UPDATE and DELETE triggers do not fire on TRUNCATE or COPY: nothing to switch off, no refusal."""
    _execute(accounts, "CREATE TABLE item (id int PRIMARY KEY, touched timestamptz); INSERT INTO item VALUES (1, NULL)")
    _execute(
        accounts,
        "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.touched := now(); RETURN NEW; END $$;"
        "CREATE TRIGGER item_touch BEFORE UPDATE ON item FOR EACH ROW EXECUTE FUNCTION touch();"
        "CREATE TRIGGER item_gone AFTER DELETE ON item FOR EACH ROW EXECUTE FUNCTION audit();"
        f'GRANT SELECT, INSERT, TRUNCATE ON item TO "{restorer.split("://")[1].split(":")[0]}"',
    )
    store = tmp_path / "store"
    take_backup(parse_database_url(accounts), store, tables=["item"])
    _execute(accounts, "DELETE FROM item")
    restore_backup(parse_database_url(restorer, source="--to-url"), store, tables=["item"])
    assert _execute(accounts, "SELECT id, touched FROM item") == [(1, None)]


CYCLE_WITH_A_NOT_VALID_CHECK = (
    CYCLE
    + """
ALTER TABLE "User" ADD CONSTRAINT "User_id_positive" CHECK (id > 0) NOT VALID;
"""
)


def test_a_cycle_restores_beside_a_not_valid_check(database_url: str, tmp_path: Path) -> None:
    """The NOT VALID check is dropped for the load and added back once the deferred keys are checked
    (ALTER TABLE refuses a table with pending trigger events)."""
    _execute(database_url, CYCLE_WITH_A_NOT_VALID_CHECK)
    store = tmp_path / "store"
    take_backup(parse_database_url(database_url), store)
    rows = _execute(database_url, 'SELECT * FROM "User" ORDER BY id')
    _execute(database_url, 'UPDATE "User" SET "favoritePostId" = NULL')
    restore_backup(parse_database_url(database_url, source="--to-url"), store)
    assert _execute(database_url, 'SELECT * FROM "User" ORDER BY id') == rows
    assert _execute(database_url, """SELECT convalidated FROM pg_constraint WHERE conname = 'User_id_positive'""") == [
        (False,)
    ]


def test_a_non_owner_restores_a_cycle_whose_back_references_are_null(
    database_url: str, pg_server: PgServer, tmp_path: Path
) -> None:
    """Keys a non-owner may not defer are left as they are: NULL back-references load all the same; a
    row that needs the deferral is refused in one sentence."""
    _execute(database_url, CYCLE)
    name = f"restorer_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'pw'").format(sql.Identifier(name)))
    try:
        _execute(database_url, f'GRANT SELECT, INSERT, TRUNCATE, REFERENCES ON "User", "Post" TO "{name}"')
        as_restorer = _as_url(database_url, name)
        store = tmp_path / "store"
        _execute(database_url, 'UPDATE "User" SET "favoritePostId" = NULL')
        take_backup(parse_database_url(database_url), store)
        restore_backup(parse_database_url(as_restorer, source="--to-url"), store)  # NULLs need no deferral

        _execute(database_url, 'UPDATE "User" SET "favoritePostId" = id * 2')
        second = take_backup(parse_database_url(database_url), store)  # the same second: named by id
        before = _execute(database_url, 'SELECT * FROM "User" ORDER BY id')
        with pytest.raises(RestoreRefusedError) as refused:
            restore_backup(parse_database_url(as_restorer, source="--to-url"), store, backup_id=second.id)
        assert "reference each other through foreign keys that cannot be deferred" in refused.value.message
        assert _execute(database_url, 'SELECT * FROM "User" ORDER BY id') == before
    finally:
        _execute(database_url, f'DROP OWNED BY "{name}"')
        with psycopg.connect(pg_server.url(), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.mark.parametrize("deferrable", ["", " DEFERRABLE"])
def test_rows_whose_parents_are_gone_are_refused_naming_the_table(
    database_url: str, tmp_path: Path, deferrable: str
) -> None:
    """A partial restore (--tables post) whose rows reference a user deleted since the backup: one sentence
    naming the table and saying nothing was restored, whether the key is checked per row or at the end."""
    _execute(
        database_url,
        "CREATE TABLE author (id int PRIMARY KEY); INSERT INTO author VALUES (1), (2);"
        f"CREATE TABLE post (id int PRIMARY KEY, author_id int REFERENCES author{deferrable});"
        "INSERT INTO post VALUES (10, 1), (20, 2)",
    )
    store = tmp_path / "store"
    take_backup(parse_database_url(database_url), store)
    _execute(database_url, "DELETE FROM post WHERE author_id = 2; DELETE FROM author WHERE id = 2")
    with pytest.raises(RestoreRefusedError) as refused:
        restore_backup(parse_database_url(database_url), store, tables=["post"])
    assert "The backed-up rows of table 'post' do not fit" in refused.value.message
    assert "nothing was restored" in refused.value.message and "--tables" in refused.value.hint
    assert _execute(database_url, "SELECT * FROM post") == [(10, 1)]


def test_an_enum_value_removed_since_the_backup_is_refused_naming_the_table(database_url: str, tmp_path: Path) -> None:
    _execute(
        database_url,
        "CREATE TYPE mood AS ENUM ('ok', 'sad'); CREATE TABLE feeling (id int, m mood);"
        "INSERT INTO feeling VALUES (1, 'ok'), (2, 'sad')",
    )
    store = tmp_path / "store"
    take_backup(parse_database_url(database_url), store)
    _execute(database_url, "ALTER TYPE mood RENAME VALUE 'ok' TO 'fine'")
    with pytest.raises(RestoreRefusedError) as refused:
        restore_backup(parse_database_url(database_url), store)
    assert "The backed-up rows of table 'feeling' do not fit" in refused.value.message
    assert 'invalid input value for enum mood: "ok"' in refused.value.message
    assert "enum value" in refused.value.hint
    assert _execute(database_url, "SELECT id, m::text FROM feeling ORDER BY id") == [(1, "fine"), (2, "sad")]


@pytest.mark.parametrize(
    ("replacement", "what"),
    [
        ("CREATE VIEW feeling AS SELECT 1 AS id", "view"),
        ("CREATE TABLE feeling (id int) PARTITION BY RANGE (id)", "partitioned table"),
    ],
)
def test_a_table_whose_name_is_now_another_kind_of_relation_is_refused_in_one_sentence(
    database_url: str, tmp_path: Path, replacement: str, what: str
) -> None:
    _execute(database_url, "CREATE TABLE feeling (id int); INSERT INTO feeling VALUES (1)")
    store = tmp_path / "store"
    take_backup(parse_database_url(database_url), store)
    _execute(database_url, f"DROP TABLE feeling; {replacement}")
    with pytest.raises(RestoreRefusedError) as refused:
        restore_backup(parse_database_url(database_url), store)
    assert f"Table 'feeling' cannot be restored: in schema 'public' that name is now a {what}" in refused.value.message
    assert "nothing was restored" in refused.value.message
