"""A table present in the target with the backed-up columns in another order (a database built by
another history, or an inheritance child that pg_dump recreated with its parent's columns first, as
a rehearsal clone's schema is), or with columns besides (added since the backup): the rows load by
column name, and the restore's check hashes the backed-up columns in the backup's order, so the same
rows verify."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from safemigrate.backup import restore_backup, take_backup
from safemigrate.db.fingerprint import fingerprint
from safemigrate.db.url import parse_database_url
from safemigrate.errors import RestoreRefusedError


def _execute(url: str, statement: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement.encode())
        return cur.fetchall() if cur.description else []


def test_a_present_table_with_its_columns_in_another_order_restores_and_verifies(
    tmp_path: Path, database_url: str, other_database: str
) -> None:
    _execute(database_url, """CREATE TABLE "User" (id int PRIMARY KEY, email text NOT NULL, nick text)""")
    _execute(database_url, """INSERT INTO "User" VALUES (1, 'a@example.com', 'a'), (2, 'b@example.com', NULL)""")
    _execute(other_database, """CREATE TABLE "User" (nick text, email text NOT NULL, id int PRIMARY KEY)""")
    store = tmp_path / "store"
    take_backup(parse_database_url(database_url), store, tables=["User"])

    result = restore_backup(parse_database_url(other_database, source="--to-url"), store, tables=["User"])

    assert [(t.name, t.rows, t.recreated) for t in result.tables] == [("User", 2, False)]
    ordered = 'SELECT id, email, nick FROM "User" ORDER BY id'
    assert _execute(other_database, ordered) == _execute(database_url, ordered)
    # The table's own order gives another row hash: the check above had to use the backup's.
    with psycopg.connect(database_url) as source, psycopg.connect(other_database) as target:
        assert (
            fingerprint(source, tables=["User"]).tables[0].row_hash
            != fingerprint(target, tables=["User"]).tables[0].row_hash
        )
        assert (
            fingerprint(source, tables=["User"]).tables[0]
            == fingerprint(target, tables=["User"], column_order={"User": ["id", "email", "nick"]}).tables[0]
        )


def _backed_up_users(tmp_path: Path, url: str, *emails: str) -> Path:
    """A "User" table holding ``emails`` (ids 1, 2, ...), backed up into the store returned."""
    _execute(url, """CREATE TABLE "User" (id int PRIMARY KEY, email text NOT NULL)""")
    with psycopg.connect(url, autocommit=True) as conn:
        for number, email in enumerate(emails, start=1):
            conn.execute('INSERT INTO "User" VALUES (%s, %s)', (number, email))
    store = tmp_path / "store"
    take_backup(parse_database_url(url), store, tables=["User"])
    return store


def test_a_present_table_that_gained_a_column_since_the_backup_restores_and_verifies(
    tmp_path: Path, database_url: str
) -> None:
    """A migration added a column and a bad backfill followed: the restore brings the backed-up rows
    back (the new column at its default), checks the backed-up columns, and says so."""
    store = _backed_up_users(tmp_path, database_url, "a@example.com", "b@example.com")
    _execute(database_url, """ALTER TABLE "User" ADD COLUMN nick text, ADD COLUMN level int NOT NULL DEFAULT 3""")
    _execute(database_url, """UPDATE "User" SET email = 'oops', nick = 'x'""")

    result = restore_backup(parse_database_url(database_url), store, tables=["User"])

    (table,) = result.tables
    assert (table.name, table.rows, table.recreated) == ("User", 2, False)
    assert table.warnings == (
        "table 'User' has column(s) 'nick', 'level' that the backup does not have: the restored rows hold their "
        "default (NULL where there is none), and the check compares the backed-up columns.",
    )
    assert _execute(database_url, 'SELECT id, email, nick, level FROM "User" ORDER BY id') == [
        (1, "a@example.com", None, 3),
        (2, "b@example.com", None, 3),
    ]


def test_a_present_table_with_a_new_required_column_without_default_is_refused_untouched(
    tmp_path: Path, database_url: str
) -> None:
    store = _backed_up_users(tmp_path, database_url, "a@example.com")
    _execute(database_url, """ALTER TABLE "User" ADD COLUMN level int NOT NULL DEFAULT 3""")
    _execute(database_url, """ALTER TABLE "User" ALTER COLUMN level DROP DEFAULT""")
    _execute(database_url, """UPDATE "User" SET email = 'changed'""")

    with pytest.raises(RestoreRefusedError, match=r"Table 'User' in the target has column 'level' \(NOT NULL, without"):
        restore_backup(parse_database_url(database_url), store, tables=["User"])
    assert _execute(database_url, 'SELECT id, email, level FROM "User"') == [(1, "changed", 3)]


def test_a_recreated_tables_default_on_a_sequence_no_column_owns_is_named(
    tmp_path: Path, database_url: str, other_database: str
) -> None:
    """The backup holds only the sequences columns own: restored elsewhere, the table is refused in
    one sentence while the sequence is missing, and once it exists, a warning says to move it past
    the restored rows (else the next insert collides with them)."""
    _execute(database_url, "CREATE SEQUENCE order_no START 1000")
    _execute(database_url, "CREATE TABLE orders (id int PRIMARY KEY DEFAULT nextval('order_no'), item text)")
    _execute(database_url, "INSERT INTO orders (item) VALUES ('a'), ('b')")
    store = tmp_path / "store"
    take_backup(parse_database_url(database_url), store, tables=["orders"])
    target = parse_database_url(other_database, source="--to-url")

    with pytest.raises(RestoreRefusedError, match=r"Table 'orders' cannot be recreated here: relation \"order_no\""):
        restore_backup(target, store)
    assert _execute(other_database, "SELECT to_regclass('orders') IS NULL") == [(True,)]

    _execute(other_database, "CREATE SEQUENCE order_no START 1000")
    (table,) = restore_backup(target, store).tables
    assert table.warnings == (
        "table 'orders': column 'id' takes its default from sequence public.order_no, which no column owns, so the "
        "backup holds neither it nor its position; make sure it is past the restored rows before the next insert: "
        """SELECT setval('public.order_no', (SELECT max("id") FROM "public"."orders"));""",
    )
    _execute(other_database, table.warnings[0].rsplit(": ", 1)[1])  # the statement it gives works
    assert _execute(other_database, "INSERT INTO orders (item) VALUES ('c') RETURNING id") == [(1002,)]


def test_a_present_table_that_no_longer_takes_the_rows_is_one_sentence_untouched(
    tmp_path: Path, database_url: str
) -> None:
    """A column added since with a constant default under a unique index: every restored row gets
    the same value, which the index rejects."""
    store = _backed_up_users(tmp_path, database_url, "a@example.com", "b@example.com")
    _execute(database_url, """ALTER TABLE "User" ADD COLUMN slug text NOT NULL DEFAULT ''""")
    _execute(database_url, """UPDATE "User" SET slug = id::text, email = 'changed'""")
    _execute(database_url, """CREATE UNIQUE INDEX user_slug ON "User" (slug)""")

    with pytest.raises(RestoreRefusedError, match=r"The backed-up rows of table 'User' do not fit .*duplicate key"):
        restore_backup(parse_database_url(database_url), store, tables=["User"])
    assert _execute(database_url, 'SELECT id, email, slug FROM "User" ORDER BY id') == [
        (1, "changed", "1"),
        (2, "changed", "2"),
    ]
