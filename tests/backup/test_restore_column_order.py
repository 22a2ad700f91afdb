"""A table present in the target with the backed-up columns in another order (a database built by
another history, or an inheritance child that pg_dump recreated with its parent's columns first, as
a rehearsal clone's schema is): the rows load by column name, and the restore's check hashes them in
the backup's column order, so the same rows verify."""

from __future__ import annotations

from pathlib import Path

import psycopg

from safemigrate.backup import restore_backup, take_backup
from safemigrate.db.fingerprint import fingerprint
from safemigrate.db.url import parse_database_url


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
