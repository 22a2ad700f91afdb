"""clone_database on a real server: full and partial copies, masking, and every refusal."""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from safemigrate.db.fingerprint import DataFingerprint, fingerprint
from safemigrate.errors import DatabaseUrlError, InputError, UnknownTableError
from safemigrate.staging import ClonePlan, CloneRefusedError, clone_database
from safemigrate.staging.identity import DatabaseIdentity, read_identity, same_database
from safemigrate.staging.masked_load import MaskConflictError
from tests.pgserver import PgServer

SALT = {"SAFEMIGRATE_MASK_SALT": "a test secret"}
MASKS = {"User.email": "email", "Post.authorEmail": "email", "User.name": "name", "User.phone": "phone"}


def prints(url: str) -> DataFingerprint:
    with psycopg.connect(url) as conn:
        return fingerprint(conn, mode="full")


def tables_of(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").fetchall()
    return [str(r[0]) for r in rows]


def test_full_copy_matches_the_source(source_url: str, target_url: str, tmp_path: Path) -> None:
    before = prints(source_url)
    result = clone_database(tmp_path, to_url=target_url, database_url=source_url, environ={})
    assert [(t.name, t.rows, t.created) for t in result.tables] == [("Post", 4, True), ("User", 3, True)]
    assert result.rows == 7 and result.masked == ()
    assert prints(target_url).tables == before.tables
    assert prints(source_url).tables == before.tables  # the source is only read
    with psycopg.connect(target_url) as conn:  # the enum, defaults and sequences came along
        conn.execute("""INSERT INTO "User" (email) VALUES ('new@example.com')""")
        assert conn.execute("""SELECT id, role::text FROM "User" WHERE email = 'new@example.com'""").fetchone() == (
            4,
            "USER",
        )


def test_a_second_clone_replaces_the_rows(source_url: str, target_url: str, tmp_path: Path) -> None:
    clone_database(tmp_path, to_url=target_url, database_url=source_url, environ={})
    with psycopg.connect(source_url, autocommit=True) as conn:
        conn.execute("""INSERT INTO "User" (email) VALUES ('dee@example.com')""")
    with psycopg.connect(target_url, autocommit=True) as conn:
        conn.execute("""DELETE FROM "Post" WHERE id = 4""")
    result = clone_database(tmp_path, to_url=target_url, database_url=source_url, environ={})
    assert [(t.name, t.rows, t.created) for t in result.tables] == [("Post", 4, False), ("User", 4, False)]
    assert prints(target_url).tables == prints(source_url).tables


def test_tables_subset(source_url: str, target_url: str, tmp_path: Path) -> None:
    result = clone_database(tmp_path, to_url=target_url, database_url=source_url, tables=["User"], environ={})
    assert [t.name for t in result.tables] == ["User"] and result.rows == 3
    assert tables_of(target_url) == ["User"]
    assert prints(target_url).tables == prints(source_url).tables[1:]  # tables sort by name: Post, User


def test_masking_is_deterministic_and_keeps_joins_nulls_and_uniqueness(
    source_url: str, target_url: str, tmp_path: Path
) -> None:
    before = prints(source_url)
    result = clone_database(tmp_path, to_url=target_url, database_url=source_url, masks=MASKS, environ=SALT)
    assert [(m.table, m.column, m.rule, m.values) for m in result.masked] == [
        ("Post", "authorEmail", "email", 3),
        ("User", "email", "email", 3),
        ("User", "name", "name", 2),
        ("User", "phone", "phone", 2),
    ]
    with psycopg.connect(target_url) as conn:
        users = conn.execute("""SELECT id, email, name, phone, role::text FROM "User" ORDER BY id""").fetchall()
        joined = conn.execute(
            """SELECT p.id, u.id FROM "Post" p JOIN "User" u ON u.email = p."authorEmail" ORDER BY p.id"""
        ).fetchall()
        unique_index = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'User_email_key'").fetchone()
        post_emails = conn.execute("""SELECT "authorEmail" FROM "Post" ORDER BY id""").fetchall()
    emails = [u[1] for u in users]
    assert all(e.startswith("user_") and e.endswith("@example.invalid") for e in emails)
    assert len(set(emails)) == 3
    assert not {"ada@example.com", "bob@example.com", "cy@example.com"} & set(emails)
    assert joined == [(1, 1), (2, 1), (3, 2)]  # the same email in two tables maps to the same fake
    assert post_emails[3] == (None,)  # NULL stays NULL
    assert unique_index is not None and "UNIQUE" in unique_index[0]
    assert users[1][3] is None and users[2][2] is None
    assert users[0][2] != "Ada Lovelace" and len(users[0][2].split(" ")) == 2
    assert users[0][3].startswith("+999") and len(users[0][3]) == 22 and users[0][3][1:].isdigit()
    assert [u[4] for u in users] == ["ADMIN", "USER", "USER"]  # unmasked columns are copied as they were
    assert prints(source_url).tables == before.tables

    # the same input gives the same fake in the next clone too (same salt)
    again = clone_database(tmp_path, to_url=target_url, database_url=source_url, masks=MASKS, environ=SALT)
    assert len(again.masked) == 4
    with psycopg.connect(target_url) as conn:
        assert conn.execute("""SELECT id, email, name, phone, role::text FROM "User" ORDER BY id""").fetchall() == users
    # another salt gives other fakes
    clone_database(
        tmp_path, to_url=target_url, database_url=source_url, masks=MASKS, environ={"SAFEMIGRATE_MASK_SALT": "other"}
    )
    with psycopg.connect(target_url) as conn:
        other = [r[0] for r in conn.execute("""SELECT email FROM "User" ORDER BY id""").fetchall()]
    assert not set(other) & set(emails)


def test_null_and_hash_rules(source_url: str, target_url: str, tmp_path: Path) -> None:
    result = clone_database(
        tmp_path,
        to_url=target_url,
        database_url=source_url,
        masks={"User.phone": "null", "Post.title": "hash"},
        environ=SALT,
    )
    assert {(m.column, m.values) for m in result.masked} == {("phone", 2), ("title", 4)}
    with psycopg.connect(target_url) as conn:
        assert conn.execute("""SELECT count(phone) FROM "User" """).fetchone() == (0,)
        titles = [r[0] for r in conn.execute("""SELECT title FROM "Post" """).fetchall()]
    assert len(set(titles)) == 4 and all(t.startswith("h_") and len(t) == 26 for t in titles)


def test_a_failing_mask_leaves_the_target_as_it_was(source_url: str, target_url: str, tmp_path: Path) -> None:
    """The name rule is not unique: on a unique column it collides, and the whole clone rolls back."""
    with psycopg.connect(source_url, autocommit=True) as conn:
        conn.execute("""INSERT INTO "User" (email) SELECT 'u' || g || '@example.com' FROM generate_series(1, 300) g""")
    with psycopg.connect(target_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (id int)")
    with pytest.raises(MaskConflictError, match=r"mask User\.email=name break unique index 'User_email_key'") as caught:
        clone_database(tmp_path, to_url=target_url, database_url=source_url, masks={"User.email": "name"}, environ=SALT)
    assert caught.value.exit_code == 2 and "nothing was cloned" in caught.value.message
    assert tables_of(target_url) == ["kept"]


def _respell(url: str, host: str, query: str = "") -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}:{parts.port}", query=query))


def test_refuses_the_source_as_target(source_url: str, tmp_path: Path) -> None:
    before = prints(source_url)
    spellings = [
        source_url,
        _respell(source_url, "localhost"),  # same host, other spelling
        source_url + "?schema=staging",  # another schema of the same database is still the same database
        # a name that resolves nowhere, pointed at the server by hostaddr: only the server can tell
        _respell(source_url, "staging.invalid", "hostaddr=127.0.0.1"),
    ]
    for spelling in spellings:
        with pytest.raises(CloneRefusedError, match="is the source database itself"):
            clone_database(tmp_path, to_url=spelling, database_url=source_url, environ={})
    assert prints(source_url).tables == before.tables
    assert tables_of(source_url) == ["Post", "User"]


def test_refuses_a_pooled_target(source_url: str, tmp_path: Path) -> None:
    with pytest.raises(DatabaseUrlError, match="pooler"):
        clone_database(
            tmp_path, to_url="postgresql://u:pw@db.example.com:6543/staging", database_url=source_url, environ={}
        )


def test_identity_without_pg_monitor(pg_server: PgServer, source_url: str, target_url: str) -> None:
    """A role that may not read pg_control_system() still tells one database from another. (PostgreSQL
    grants it to PUBLIC by default; hardened servers revoke it. pg_proc is per database, so revoking
    here touches only the two test databases.)"""
    role = "reader_" + uuid.uuid4().hex[:8]
    for url in (source_url, target_url):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("REVOKE EXECUTE ON FUNCTION pg_control_system() FROM PUBLIC")
    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'reader-pw'").format(sql.Identifier(role)))
    try:

        def as_reader(url: str) -> str:
            parts = urlsplit(url)
            return urlunsplit(parts._replace(netloc=f"{role}:reader-pw@{parts.hostname}:{parts.port}"))

        identities: list[DatabaseIdentity] = []
        for url in (source_url, source_url, target_url):
            with psycopg.connect(as_reader(url), autocommit=True) as conn:
                identities.append(read_identity(conn))
        with psycopg.connect(source_url, autocommit=True) as conn:
            privileged = read_identity(conn)
    finally:
        with psycopg.connect(pg_server.url(), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    assert identities[0].system_identifier is None and privileged.system_identifier is not None
    assert same_database(identities[0], identities[1])
    assert same_database(identities[0], privileged)  # one side unknown: start time, port and oid decide
    assert not same_database(identities[0], identities[2])


def test_unknown_mask_column_or_table_changes_nothing(source_url: str, target_url: str, tmp_path: Path) -> None:
    cases = [
        ({"User.mail": "email"}, r"table 'User' has no column 'mail'"),
        ({"user.email": "email"}, r"there is no table 'user'"),
        ({"User.role": "email"}, r"is \"Role\", not text"),
        ({"User.email": "null"}, r"NOT NULL"),
        ({"Post.authorId": "null"}, r"foreign key"),
    ]
    for masks, message in cases:
        with pytest.raises(InputError, match=message) as caught:
            clone_database(tmp_path, to_url=target_url, database_url=source_url, masks=masks, environ={})
        assert "nothing was cloned" in caught.value.message
    with pytest.raises(UnknownTableError, match="'Nope'"):
        clone_database(tmp_path, to_url=target_url, database_url=source_url, tables=["User", "Nope"], environ={})
    assert tables_of(target_url) == []


def test_too_short_a_column_is_refused(source_url: str, target_url: str, tmp_path: Path) -> None:
    with psycopg.connect(source_url, autocommit=True) as conn:
        conn.execute("""UPDATE "User" SET phone = left(phone, 12)""")
        conn.execute("""ALTER TABLE "User" ALTER COLUMN phone TYPE varchar(12)""")
    with pytest.raises(InputError, match=r"too short for the 22 characters"):
        clone_database(tmp_path, to_url=target_url, database_url=source_url, masks={"User.phone": "phone"}, environ={})
    assert tables_of(target_url) == []


def test_declining_the_confirmation_changes_nothing(source_url: str, target_url: str, tmp_path: Path) -> None:
    asked: list[ClonePlan] = []

    def decline(plan: ClonePlan) -> bool:
        asked.append(plan)
        return False

    with pytest.raises(CloneRefusedError, match="Nothing was cloned"):
        clone_database(tmp_path, to_url=target_url, database_url=source_url, masks=MASKS, confirm=decline, environ=SALT)
    (plan,) = asked
    assert plan.tables == ("Post", "User") and len(plan.masks) == 4 and plan.salt_env == "SAFEMIGRATE_MASK_SALT"
    assert "@" not in plan.target and plan.target.endswith("?schema=public")
    assert tables_of(target_url) == []


def test_into_a_schema_the_target_lacks(source_url: str, target_url: str, tmp_path: Path) -> None:
    with psycopg.connect(source_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA app; CREATE TYPE app.mood AS ENUM ('ok', 'meh')")
        conn.execute("CREATE TABLE app.t (id serial PRIMARY KEY, m app.mood); INSERT INTO app.t (m) VALUES ('meh')")
    with pytest.raises(InputError, match="selects schema 'copy' but the source's is 'app'"):
        clone_database(tmp_path, to_url=target_url + "?schema=copy", database_url=source_url + "?schema=app")
    result = clone_database(
        tmp_path, to_url=target_url + "?schema=app", database_url=source_url + "?schema=app", environ={}
    )
    assert result.target.endswith("?schema=app") and result.rows == 1
    with psycopg.connect(source_url) as source, psycopg.connect(target_url) as target:
        assert fingerprint(target, schema="app").tables == fingerprint(source, schema="app").tables
    assert tables_of(target_url) == []  # public untouched


def test_a_clone_keeps_text_whatever_the_client_encoding_of_the_environment(
    source_url: str, target_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backup a clone loads is written in the source's encoding (UTF8) whatever PGCLIENTENCODING says;
    the clone reads it back in that encoding, so 'Zoë Ñúñez' arrives as it left."""
    with psycopg.connect(source_url, autocommit=True) as conn:
        conn.execute("""UPDATE "User" SET name = 'Zoë Ñúñez' WHERE email = 'bob@example.com'""")
    monkeypatch.setenv("PGCLIENTENCODING", "LATIN1")
    clone_database(tmp_path, to_url=target_url, database_url=source_url, environ={})
    with psycopg.connect(target_url, client_encoding="UTF8") as conn:
        name = conn.execute("""SELECT name FROM "User" WHERE email = 'bob@example.com'""").fetchone()
    assert name == ("Zoë Ñúñez",)
    assert prints(target_url).tables == prints(source_url).tables
