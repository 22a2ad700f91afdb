"""Sessions against a real server: settings applied, every failure one line, no password anywhere."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

from safemigrate.config import DatabaseConfig, load_config
from safemigrate.db.connect import connect, database_errors, duration_text
from safemigrate.db.url import DatabaseUrl, parse_database_url
from safemigrate.errors import (
    EXIT_CHECK_FAILED,
    EXIT_USAGE,
    ConfigError,
    DatabaseConnectionError,
    DatabaseError,
    DatabasePermissionError,
    LockTimeoutError,
    SafemigrateError,
    StatementTimeoutError,
)
from safemigrate.lint.registry import rule_names
from tests.pgserver import PgServer

SETTINGS = DatabaseConfig(lock_timeout=0.2, statement_timeout=0.3, migrate_lock_timeout=0.2)
LIMITED_PASSWORD = "l1m!t@d:p/w#rd"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def url_with(database_url: str, **changes: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(**changes))


@pytest.fixture
def limited_role(pg_server: PgServer, database_url: str) -> Iterator[str]:
    """A real non-superuser role that may connect to the test database but owns nothing in it."""
    role = "limited_" + uuid.uuid4().hex[:8]
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(LIMITED_PASSWORD))
        )
        admin.execute("CREATE TABLE private_data (id int)")
    try:
        yield role
    finally:
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute("DROP TABLE IF EXISTS private_data")
        with psycopg.connect(pg_server.url(), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_session_settings(database_url: str) -> None:
    url = parse_database_url(database_url + "?schema=My%20Schema&application_name=ignored")
    with connect(url, command="status", settings=SETTINGS) as conn:
        shown = conn.execute(
            "SELECT current_setting('application_name'), current_setting('lock_timeout'),"
            " current_setting('statement_timeout'), current_setting('search_path')"
        ).fetchone()
        assert shown == ("safemigrate/status", "200ms", "300ms", '"My Schema"')
        assert conn.autocommit


def test_settings_survive_in_a_transactional_session(database_url: str) -> None:
    url = parse_database_url(database_url + "?schema=app")
    with connect(url, command="migrate", settings=DatabaseConfig(), autocommit=False) as conn:
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        conn.rollback()
        assert conn.execute("SHOW lock_timeout").fetchone() == ("10s",)
        assert conn.execute("SHOW statement_timeout").fetchone() == ("1h",)
        assert conn.execute("SHOW search_path").fetchone() == ("app",)


def failures(pg_server: PgServer, database_url: str, role: str) -> list[SafemigrateError]:
    """Provoke each failure for real and return the errors raised."""
    errors: list[SafemigrateError] = []

    def expect(kind: type[SafemigrateError], url: DatabaseUrl, statement: str = "SELECT 1") -> None:
        with (
            pytest.raises(kind) as info,
            connect(url, command="test", settings=SETTINGS) as conn,
            database_errors(url, SETTINGS),
        ):
            conn.execute(statement)  # type: ignore[arg-type]  # test statements are literals
        errors.append(info.value)

    netloc = f"{pg_server.user}:{quote('wrong-' + pg_server.password, safe='')}@{pg_server.host}:{pg_server.port}"
    expect(DatabaseConnectionError, parse_database_url(url_with(database_url, netloc=netloc)))
    netloc = f"{pg_server.user}:{quote(pg_server.password, safe='')}@{pg_server.host}:{free_port()}"
    expect(DatabaseConnectionError, parse_database_url(url_with(database_url, netloc=netloc)))
    expect(DatabaseConnectionError, parse_database_url(url_with(database_url, path="/no_such_database")))
    limited = url_with(
        database_url, netloc=f"{role}:{quote(LIMITED_PASSWORD, safe='')}@{pg_server.host}:{pg_server.port}"
    )
    expect(DatabasePermissionError, parse_database_url(limited), "SELECT * FROM public.private_data")
    expect(StatementTimeoutError, parse_database_url(database_url), "SELECT pg_sleep(30)")
    expect(DatabaseError, parse_database_url(database_url), "SELECT * FROM no_such_table")
    with psycopg.connect(database_url) as holder:
        holder.execute("LOCK TABLE private_data IN ACCESS EXCLUSIVE MODE")  # held until this block ends
        expect(LockTimeoutError, parse_database_url(database_url), "SELECT * FROM private_data")
    return errors


def test_failures_are_one_line_with_the_right_exit_code_and_no_password(
    pg_server: PgServer, database_url: str, limited_role: str
) -> None:
    errors = failures(pg_server, database_url, limited_role)
    bad_password, unreachable, no_database, permission, statement, other, lock = errors
    assert "rejected the password" in bad_password.message and f'"{pg_server.user}"' in bad_password.message
    assert f"{pg_server.host}:{pg_server.port}" in bad_password.message
    assert "Cannot reach PostgreSQL at 127.0.0.1:" in unreachable.message and "refused" in unreachable.message
    assert 'The database "no_such_database" does not exist' in no_database.message
    assert "permission denied for table private_data" in permission.message and limited_role in permission.message
    assert isinstance(statement, StatementTimeoutError) and "300ms" in statement.message
    assert isinstance(lock, LockTimeoutError) and "200ms" in lock.message and lock.sqlstate == "55P03"
    assert "42P01" in other.message
    assert [e.exit_code for e in errors] == [EXIT_USAGE] * 4 + [EXIT_CHECK_FAILED, EXIT_USAGE, EXIT_CHECK_FAILED]
    secrets = {
        pg_server.password,
        quote(pg_server.password, safe=""),
        LIMITED_PASSWORD,
        quote(LIMITED_PASSWORD, safe=""),
    }
    for error in errors:
        text = f"{error} {error.message} {error.hint} {error!r} {error.args}"
        assert "\n" not in str(error), str(error)
        assert not any(secret in text for secret in secrets), text


def test_no_connect_privilege_is_a_permission_error(pg_server: PgServer, database_url: str, limited_role: str) -> None:
    database = database_url.rsplit("/", 1)[1]
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database)))
    limited = url_with(
        database_url, netloc=f"{limited_role}:{quote(LIMITED_PASSWORD, safe='')}@{pg_server.host}:{pg_server.port}"
    )
    with pytest.raises(DatabasePermissionError, match="no CONNECT privilege") as info:
        connect(parse_database_url(limited), command="status", settings=SETTINGS)
    assert LIMITED_PASSWORD not in str(info.value) and info.value.exit_code == EXIT_USAGE


def test_unknown_host_is_unreachable() -> None:
    url = parse_database_url("postgresql://u:hunter2hunter2@no-such-host.invalid:5432/db")
    with pytest.raises(DatabaseConnectionError, match=r"Cannot reach PostgreSQL at no-such-host\.invalid:5432") as info:
        connect(url, command="status", settings=SETTINGS)
    assert "hunter2hunter2" not in str(info.value)


def test_tls_refusal(database_url: str) -> None:
    with pytest.raises(DatabaseConnectionError, match="TLS with PostgreSQL at") as info:
        connect(parse_database_url(database_url + "?sslmode=require"), command="status", settings=SETTINGS)
    assert "sslmode" in info.value.hint


def test_duration_text() -> None:
    assert [duration_text(s) for s in (0, 0.2, 1, 10, 90, 300, 3600, 1.5)] == [
        "no limit",
        "200ms",
        "1s",
        "10s",
        "90s",
        "5min",
        "1h",
        "1500ms",
    ]


def test_database_section_of_safemigrate_toml(tmp_path: Path) -> None:
    assert load_config(tmp_path, None, rule_names()).database == DatabaseConfig(10.0, 3600.0, 10.0)
    (tmp_path / "safemigrate.toml").write_text(
        '[database]\nlock_timeout = "500ms"\nstatement_timeout = "15min"\nmigrate_lock_timeout = 30\n'
    )
    assert load_config(tmp_path, None, rule_names()).database == DatabaseConfig(0.5, 900.0, 30.0)
    for text, message in (
        ('[database]\nlock_timeout = "soon"\n', "lock_timeout must be a duration"),
        ("[database]\nstatement_timeout = -1\n", "statement_timeout must be a duration"),
        ("[database]\nlocktimeout = 1\n", "unknown setting"),
        ("[databse]\n", "unknown setting"),
    ):
        (tmp_path / "safemigrate.toml").write_text(text)
        with pytest.raises(ConfigError, match=message):
            load_config(tmp_path, None, rule_names())
