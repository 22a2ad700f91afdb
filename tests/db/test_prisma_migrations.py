"""_prisma_migrations read and written by safemigrate, on a real PostgreSQL server.

What Prisma itself writes and reads is checked against the real Prisma CLI in
test_status_prisma_cli.py; here: the DDL, ``?schema=``, the rows of each kind of write, several
rows per name, the refusals (P3005, P3008, P3011, P3012) and the checksum rules.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from psycopg import sql

from safemigrate.db import prisma_migrations as pm
from safemigrate.errors import (
    DatabaseSchemaNotEmptyError,
    MigrationAlreadyAppliedError,
    MigrationNotFailedError,
    MigrationNotInDatabaseError,
    SafemigrateError,
)

INIT = b'CREATE TABLE "User" ("id" SERIAL NOT NULL, CONSTRAINT "User_pkey" PRIMARY KEY ("id"));\n'
POST = b'CREATE TABLE "Post" ("id" SERIAL NOT NULL);\n'


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[object]]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection  # type: ignore[misc]


def _columns(conn: psycopg.Connection[object], schema: str) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT column_name, data_type, character_maximum_length, is_nullable, column_default "
        "FROM information_schema.columns WHERE table_schema = %s AND table_name = '_prisma_migrations' "
        "ORDER BY ordinal_position",
        (schema,),
    ).fetchall()


# --- checksums (pure) --------------------------------------------------------------------------


def test_render_checksum_is_zero_padded_sha256_hex() -> None:
    # Prisma's own unit test: render_checksum("hello").
    assert pm.render_checksum(b"hello") == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert len(pm.render_checksum(b"abcd")) == 64


def test_line_endings_do_not_change_the_match() -> None:
    # Prisma's script_matches_checksum_is_line_ending_agnostic cases: every pair matches both ways.
    for scripts in (
        [b"ab\ncd\nef\ngh\rab", b"ab\r\ncd\r\nef\r\ngh\rab"],
        [b"ab\ncd\nef\ngh\rab\n", b"ab\r\ncd\r\nef\r\ngh\rab\r\n"],
    ):
        for script in scripts:
            for other in scripts:
                assert pm.script_matches_checksum(script, pm.render_checksum(other))


def test_real_changes_do_not_match() -> None:
    assert not pm.script_matches_checksum(b"abc", pm.render_checksum(b"abcd"))
    assert not pm.script_matches_checksum(b"abc\n", pm.render_checksum(b"abc"))
    assert not pm.script_matches_checksum(INIT, "")
    # A lone CR is content, not a line ending.
    assert not pm.script_matches_checksum(b"a\rb\n", pm.render_checksum(b"a\nb\n"))


def test_legacy_unpadded_checksum_is_accepted() -> None:
    script = next(s for s in (f"-- {i}\n".encode() for i in range(1000)) if min(hashlib.sha256(s).digest()) < 0x10)
    digest = hashlib.sha256(script).digest()
    legacy = "".join(format(byte, "x") for byte in digest)
    assert len(legacy) < 64  # a byte below 0x10 lost its leading zero
    assert pm.script_matches_checksum(script, legacy)
    assert pm.script_matches_checksum(script.replace(b"\n", b"\r\n"), legacy)
    assert not pm.script_matches_checksum(script + b"x", legacy)
    # A 64-character checksum is never read as legacy.
    assert not pm.script_matches_checksum(script, legacy.ljust(64, "0"))


# --- the table ---------------------------------------------------------------------------------


def test_missing_table_reads_as_no_rows(conn: psycopg.Connection[object]) -> None:
    assert pm.read_migration_rows(conn, "public") == ()
    assert pm.read_migration_rows(conn, "no_such_schema") == ()
    assert not pm.migrations_table_exists(conn, "public")


def test_created_table_has_prismas_columns(conn: psycopg.Connection[object]) -> None:
    assert pm.create_migrations_table(conn, "public") is True
    assert pm.create_migrations_table(conn, "public") is False
    assert _columns(conn, "public") == [
        ("id", "character varying", 36, "NO", None),
        ("checksum", "character varying", 64, "NO", None),
        ("finished_at", "timestamp with time zone", None, "YES", None),
        ("migration_name", "character varying", 255, "NO", None),
        ("logs", "text", None, "YES", None),
        ("rolled_back_at", "timestamp with time zone", None, "YES", None),
        ("started_at", "timestamp with time zone", None, "NO", "now()"),
        ("applied_steps_count", "integer", None, "NO", "0"),
    ]
    primary_key = conn.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = 'public._prisma_migrations'::regclass AND i.indisprimary"
    ).fetchall()
    assert primary_key == [("id",)]


def test_schema_from_url_is_created_and_used(conn: psycopg.Connection[object]) -> None:
    pm.record_migration_deployed(conn, "tenant", "20240101_init", INIT)
    assert [r.migration_name for r in pm.read_migration_rows(conn, "tenant")] == ["20240101_init"]
    assert pm.read_migration_rows(conn, "public") == ()
    assert len(_columns(conn, "tenant")) == 8


def test_awkward_schema_names_are_quoted(conn: psycopg.Connection[object]) -> None:
    schema = 'we"ird\n-- schema; DROP TABLE x'
    pm.record_migration_deployed(conn, schema, "20240101_init", INIT)
    assert [r.migration_name for r in pm.read_migration_rows(conn, schema)] == ["20240101_init"]


# --- writes as migrate deploy ------------------------------------------------------------------


def test_deployed_row_is_written_as_prisma_writes_it(conn: psycopg.Connection[object]) -> None:
    before = datetime.now(timezone.utc)
    row_id = pm.record_migration_deployed(conn, "public", "20240101_init", INIT)
    (row,) = pm.read_migration_rows(conn, "public")
    assert row.id == row_id and uuid.UUID(row.id).version == 4 and len(row.id) == 36
    assert row.checksum == hashlib.sha256(INIT).hexdigest()
    assert row.migration_name == "20240101_init"
    assert row.logs is None
    assert row.rolled_back_at is None
    assert row.applied_steps_count == 1
    assert row.finished_at is not None and row.started_at <= row.finished_at
    # Client-clock UTC, to the millisecond, as Prisma 6.19.3 stores them.
    assert row.started_at.utcoffset() == timedelta(0)
    assert row.started_at.microsecond % 1000 == 0 and row.finished_at.microsecond % 1000 == 0
    assert before - timedelta(seconds=1) <= row.started_at
    assert row.applied and not row.failed and not row.rolled_back


def test_started_row_is_failed_until_finished(conn: psycopg.Connection[object]) -> None:
    row_id = pm.record_migration_started(conn, "public", "20240101_init", INIT)
    (row,) = pm.read_migration_rows(conn, "public")
    assert (row.finished_at, row.rolled_back_at, row.logs, row.applied_steps_count) == (None, None, None, 0)
    assert row.failed  # Prisma's definition: an unfinished attempt is a failed one
    pm.record_successful_step(conn, "public", row_id)
    pm.record_migration_finished(conn, "public", row_id)
    (row,) = pm.read_migration_rows(conn, "public")
    assert row.applied and row.applied_steps_count == 1


def test_failed_row_keeps_logs_and_no_finish(conn: psycopg.Connection[object]) -> None:
    logs = pm.failure_logs("20240101_init", "42P01", 'relation "Missing" does not exist')
    pm.record_migration_failed(conn, "public", "20240101_init", INIT, logs)
    (row,) = pm.read_migration_rows(conn, "public")
    assert row.failed and row.logs == logs and row.applied_steps_count == 0
    assert "Migration name: 20240101_init" in logs and "Database error code: 42P01" in logs


def test_rows_are_ordered_by_started_at_and_several_per_name(conn: psycopg.Connection[object]) -> None:
    t0 = datetime(2024, 1, 1, 12, tzinfo=timezone.utc)
    pm.record_migration_deployed(conn, "public", "b_second", POST, started_at=t0 + timedelta(minutes=1))
    pm.record_migration_failed(conn, "public", "a_first", INIT, "boom", now=t0)
    pm.record_migration_rolled_back(conn, "public", "a_first", now=t0 + timedelta(minutes=2))
    pm.record_migration_deployed(conn, "public", "a_first", INIT, started_at=t0 + timedelta(minutes=3))
    rows = pm.read_migration_rows(conn, "public")
    assert [(r.migration_name, r.started_at) for r in rows] == [
        ("a_first", t0),
        ("b_second", t0 + timedelta(minutes=1)),
        ("a_first", t0 + timedelta(minutes=3)),
    ]
    first, _, retry = rows
    assert first.rolled_back and not first.failed and first.rolled_back_at == t0 + timedelta(minutes=2)
    assert retry.applied
    assert len(pm.rows_named(rows, "a_first")) == 2


def test_writes_follow_the_callers_transaction(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        pm.record_migration_deployed(conn, "public", "20240101_init", INIT)
        conn.rollback()
        assert pm.read_migration_rows(conn, "public") == ()
        assert not pm.migrations_table_exists(conn, "public")  # even the CREATE TABLE was undone


# --- P3005 ---------------------------------------------------------------------------------------


def test_first_write_into_a_non_empty_schema_is_refused_like_p3005(conn: psycopg.Connection[object]) -> None:
    conn.execute('CREATE TABLE "Legacy" (id int)')
    with pytest.raises(DatabaseSchemaNotEmptyError) as caught:
        pm.record_migration_started(conn, "public", "20240101_init", INIT)
    message = str(caught.value)
    assert "not empty" in message and "P3005" in message and "Legacy" in message
    assert 'prisma migrate resolve --applied "20240101_init"' in message
    assert pm.BASELINE_DOCS in message
    assert caught.value.exit_code == 2 and isinstance(caught.value, SafemigrateError)
    assert not pm.migrations_table_exists(conn, "public")


def test_only_ordinary_tables_count_for_p3005(conn: psycopg.Connection[object]) -> None:
    conn.execute("CREATE VIEW v AS SELECT 1 AS one")
    conn.execute("CREATE SEQUENCE s")
    conn.execute("CREATE TABLE spatial_ref_sys (srid int)")  # PostGIS's table: Prisma ignores it
    conn.execute("CREATE SCHEMA other")
    conn.execute("CREATE TABLE other.t (id int)")  # another schema: not this one's business
    assert pm.initialize(conn, "public") is True
    assert pm.initialize(conn, "public") is False


def test_existing_table_allows_writes_whatever_else_is_there(conn: psycopg.Connection[object]) -> None:
    pm.record_migration_deployed(conn, "public", "20240101_init", INIT)
    conn.execute(INIT)
    pm.record_migration_deployed(conn, "public", "20240102_post", POST)
    assert len(pm.read_migration_rows(conn, "public")) == 2


# --- writes as migrate resolve -----------------------------------------------------------------


def test_resolve_rolled_back_marks_only_failed_rows(conn: psycopg.Connection[object]) -> None:
    failed = pm.record_migration_failed(conn, "public", "20240101_init", INIT, "boom")
    assert pm.record_migration_rolled_back(conn, "public", "20240101_init") == (failed,)
    (row,) = pm.read_migration_rows(conn, "public")
    assert row.rolled_back and row.finished_at is None and row.logs == "boom"
    # No failed row left, but not every row finished: Prisma accepts and marks nothing.
    assert pm.record_migration_rolled_back(conn, "public", "20240101_init") == ()


def test_resolve_rolled_back_refusals(conn: psycopg.Connection[object]) -> None:
    with pytest.raises(MigrationNotInDatabaseError, match="P3011"):
        pm.record_migration_rolled_back(conn, "public", "20240101_init")
    pm.record_migration_deployed(conn, "public", "20240101_init", INIT)
    with pytest.raises(MigrationNotFailedError, match="P3012"):
        pm.record_migration_rolled_back(conn, "public", "20240101_init")


def test_resolve_applied_baselines_a_non_empty_schema(conn: psycopg.Connection[object]) -> None:
    conn.execute(INIT)  # the database already has the schema the migration would create
    row_id = pm.record_migration_applied(conn, "public", "20240101_init", INIT)
    (row,) = pm.read_migration_rows(conn, "public")
    assert row.id == row_id and row.applied
    assert row.logs == "" and row.applied_steps_count == 0 and row.started_at == row.finished_at
    with pytest.raises(MigrationAlreadyAppliedError, match="P3008"):
        pm.record_migration_applied(conn, "public", "20240101_init", INIT)


def test_resolve_applied_closes_a_failed_attempt(conn: psycopg.Connection[object]) -> None:
    pm.record_migration_failed(conn, "public", "20240102_post", POST, "boom")
    pm.record_migration_applied(conn, "public", "20240102_post", POST)
    failed, applied = pm.read_migration_rows(conn, "public")
    assert failed.rolled_back and failed.finished_at is None
    assert applied.applied and applied.logs == ""


def test_mark_row_rolled_back_by_id(conn: psycopg.Connection[object]) -> None:
    row_id = pm.record_migration_deployed(conn, "public", "20240101_init", INIT)
    pm.mark_row_rolled_back(conn, "public", row_id)
    (row,) = pm.read_migration_rows(conn, "public")
    assert row.rolled_back and row.finished_at is not None and not row.applied


def test_rows_written_by_hand_in_prismas_column_types_read_back(conn: psycopg.Connection[object]) -> None:
    pm.create_migrations_table(conn, "public")
    conn.execute(
        sql.SQL("INSERT INTO {} (id, checksum, migration_name, started_at) VALUES (%s, %s, %s, now())").format(
            sql.Identifier("public", "_prisma_migrations")
        ),
        (str(uuid.uuid4()), "abc", "legacy_row"),
    )
    (row,) = pm.read_migration_rows(conn, "public")
    assert row.failed and row.checksum == "abc" and row.applied_steps_count == 0
