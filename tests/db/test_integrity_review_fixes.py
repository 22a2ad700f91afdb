"""`validate`'s sequence check reads the sequence's real next value (review fixes).

pg_sequences.last_value is NULL when the sequence's is_called is false (after setval(..., false) or
ALTER SEQUENCE ... RESTART) and when the role has no privilege on it; the check used to take
start_value then, reporting sequences as behind that were not and suggesting to move them back.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import sql

from safemigrate.db.integrity import check_integrity
from safemigrate.report.validate_report import render_validate_text
from safemigrate.validate import ValidateReport

USERS = """
CREATE TABLE "User" ("id" SERIAL PRIMARY KEY, "email" TEXT);
INSERT INTO "User" ("email") SELECT 'u' || g FROM generate_series(1, 10) g;
"""


def _setup(url: str, extra: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute((USERS + extra).encode(), prepare=False)


def _next_insert(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("""INSERT INTO "User" ("email") VALUES ('new') RETURNING "id" """).fetchone()
    assert row is not None
    return int(row[0])


def test_setval_not_called_to_the_next_free_id_is_not_behind(database_url: str) -> None:
    _setup(database_url, """SELECT setval('"User_id_seq"', (SELECT max(id) + 1 FROM "User"), false);""")
    with psycopg.connect(database_url) as conn:
        report = check_integrity(conn, ["public"])
    assert report.sequences_behind == () and report.problems == 0, report
    assert _next_insert(database_url) == 11  # what the check read: the next insert succeeds


def test_a_restarted_sequence_ahead_of_the_column_is_not_behind(database_url: str) -> None:
    _setup(database_url, 'ALTER SEQUENCE "User_id_seq" RESTART WITH 100;')
    with psycopg.connect(database_url) as conn:
        report = check_integrity(conn, ["public"])
    assert report.sequences_behind == () and report.problems == 0, report
    assert _next_insert(database_url) == 100


def test_a_sequence_set_not_called_below_the_column_is_behind_at_its_real_next_value(database_url: str) -> None:
    _setup(database_url, """SELECT setval('"User_id_seq"', 7, false);""")
    with psycopg.connect(database_url) as conn:
        report = check_integrity(conn, ["public"])
    assert [(b.sequence_name, b.next_value, b.column_max) for b in report.sequences_behind] == [("User_id_seq", 7, 10)]
    with pytest.raises(psycopg.errors.UniqueViolation):  # the next insert really takes 7
        _next_insert(database_url)


def test_a_sequence_the_role_may_not_read_is_not_checked_rather_than_behind(database_url: str) -> None:
    from safemigrate.db.integrity import NO_SEQUENCE_PRIVILEGE, SequenceNotChecked

    _setup(database_url, """SELECT setval('"User_id_seq"', 500, false);""")
    role = f"integrity_reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
        try:
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL('GRANT SELECT ON "User" TO {}').format(sql.Identifier(role)))
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
            report = check_integrity(conn, ["public"])
            conn.execute("RESET ROLE")
        finally:
            conn.execute("RESET ROLE")
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    assert report.sequences_behind == () and report.problems == 0, report
    assert report.sequences_not_checked == (
        SequenceNotChecked("public", "User_id_seq", "User", "id", NO_SEQUENCE_PRIVILEGE),
    )
    assert NO_SEQUENCE_PRIVILEGE == "not checked (no privilege on the sequence)"
    # The text report says so (the JSON carries the field as it is); it is not counted as a problem.
    text = render_validate_text(ValidateReport("db", report, None))
    assert "  sequence User_id_seq of User.id: not checked (no privilege on the sequence)" in text
    assert text.endswith("No problems found.")
