"""Open a PostgreSQL session for a command, and turn psycopg's errors into one-line SafemigrateErrors.

Every session is named ``safemigrate/<command>`` (``application_name``, visible in pg_stat_activity
and in the migration-lock message of anyone waiting on us), limits its lock waits and statement run
time (``[database]`` in safemigrate.toml) and has ``search_path`` set to the URL's ``?schema=``, as
Prisma sets it. A URL without ``?schema=`` means ``public`` to safemigrate, but the schema the session
starts in to Prisma's pg driver adapter (``"$user", public``, a role's or database's search_path, or
``options=-c search_path=``): such a session that does not start in ``public`` is refused.

Errors are told apart by SQLSTATE when the server sent one, by libpq's text when the connection itself
failed (libpq gives no SQLSTATE then); none of them ever shows the password.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from urllib.parse import parse_qsl, quote, urlsplit

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from safemigrate.config import DatabaseConfig
from safemigrate.db.url import DEFAULT_SCHEMA, DatabaseUrl
from safemigrate.errors import (
    DatabaseConnectionError,
    DatabaseError,
    DatabasePermissionError,
    DatabaseUrlError,
    LockTimeoutError,
    SafemigrateError,
    StatementTimeoutError,
)

_CONNECT_PREFIX = re.compile(r"^connection failed:\s*|connection to server (?:at|on) .*? failed:\s*")
_UNREACHABLE = (
    "connection refused",
    "could not connect",
    "timeout expired",
    "failed to resolve host",
    "could not translate host name",
    "name or service not known",
    "network is unreachable",
    "no route to host",
    "no such file or directory",
    "server closed the connection unexpectedly",
    "connection timed out",
)
# An established session that ended (server restart or crash, failover, terminated backend): psycopg's
# and libpq's words for it, told apart from a failed attempt, whose text names the attempt.
_LOST = (
    "the connection is closed",
    "the connection is lost",
    "server closed the connection unexpectedly",
    "connection to server was lost",
    "no connection to the server",
    "eof detected",
)
_SESSION_SCHEMA = sql.SQL("SELECT pg_catalog.current_schema(), pg_catalog.to_regnamespace({}) IS NOT NULL").format(
    sql.Literal(DEFAULT_SCHEMA)
)
_CONNECT_ATTEMPT = re.compile(r"connection failed|connection to server (?:at|on) .*? failed")


def duration_text(seconds: float) -> str:
    """``10s``, ``500ms``, ``5min``, ``1h``; ``no limit`` for 0."""
    if seconds <= 0:
        return "no limit"
    for unit, size in (("h", 3600.0), ("min", 60.0), ("s", 1.0)):
        if seconds >= size and (seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    return f"{round(seconds * 1000)}ms"


def _milliseconds(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


def _one_line(text: str) -> str:
    return " ".join(text.split()).rstrip(".")


def session_settings(url: DatabaseUrl, settings: DatabaseConfig) -> sql.Composed:
    """The SET statements every safemigrate session starts with."""
    return sql.SQL("; ").join(
        [
            sql.SQL("SET lock_timeout = {}").format(sql.Literal(_milliseconds(settings.lock_timeout))),
            sql.SQL("SET statement_timeout = {}").format(sql.Literal(_milliseconds(settings.statement_timeout))),
            sql.SQL("SET search_path TO {}").format(sql.Identifier(url.schema)),
        ]
    )


def schema_given(url: DatabaseUrl) -> bool:
    """Whether the URL as written names a schema (``?schema=``); without one safemigrate uses ``public``."""
    query = urlsplit(url.original).query if url.original else ""
    return any(key == "schema" for key, _value in parse_qsl(query, keep_blank_values=True))


def default_schema_refusal(url: DatabaseUrl, current: str | None, public_exists: bool) -> DatabaseUrlError | None:
    """Why a URL without ``?schema=`` must not be used, given the session's own ``current_schema()``
    (as the server, the role, the database or ``options=-c search_path=`` set it) before safemigrate
    changes search_path; None when safemigrate's ``public`` is that schema too.

    Prisma's pg driver adapter keeps that schema, so ``_prisma_migrations`` and unqualified names
    would be found elsewhere than in safemigrate's ``public``."""
    if current == url.schema or (current is None and public_exists):
        return None
    if current is None:
        return DatabaseUrlError(
            f"The URL from {url.source} names no schema, its session's search_path names no existing schema, and "
            f'"{url.schema}" does not exist, so safemigrate cannot tell which schema Prisma migrates.',
            "Add ?schema=NAME to the URL with the schema Prisma migrates (create it first), so that safemigrate "
            "and Prisma agree.",
        )
    return DatabaseUrlError(
        f'The URL from {url.source} names no schema, and its session starts in schema "{current}" (the '
        f"search_path of the server, database, role or URL options), which Prisma would use, while safemigrate "
        f'would use "{url.schema}".',
        f'Add ?schema={quote(current, safe="")} to the URL, so that safemigrate and Prisma both use "{current}".',
    )


def connect(
    url: DatabaseUrl, *, command: str, settings: DatabaseConfig, autocommit: bool = True
) -> psycopg.Connection[TupleRow]:
    """A session for ``command`` with the configured limits and the URL's schema as search_path.

    Autocommit by default (use ``with conn.transaction():`` for atomic work). Raises a DatabaseError
    subclass with a one-line message when the server cannot be reached or refuses the session."""
    try:
        conn = psycopg.connect(url.conninfo, application_name=f"safemigrate/{command}", autocommit=autocommit)
    except psycopg.Error as err:
        raise translate_error(err, url, settings) from err
    try:
        if not schema_given(url):  # before search_path changes: the schema the session starts in
            row = conn.execute(_SESSION_SCHEMA).fetchone()
            refusal = default_schema_refusal(url, row[0] if row else None, bool(row and row[1]))
            if refusal is not None:
                conn.close()
                raise refusal
        conn.execute(session_settings(url, settings))
        if not autocommit:
            conn.commit()
    except psycopg.Error as err:
        conn.close()
        raise translate_error(err, url, settings) from err
    return conn


def transaction_status(url: DatabaseUrl, settings: DatabaseConfig, transaction: int, command: str) -> str | None:
    """``txid_status`` of a transaction an interrupt cut off during its COMMIT, asked on a new session:
    "committed", "aborted" or "in progress" (the COMMIT is still running: a synchronous standby awaited);
    None when the server cannot be asked."""
    with contextlib.suppress(psycopg.Error, SafemigrateError), connect(url, command=command, settings=settings) as conn:
        row = conn.execute(b"SELECT pg_catalog.txid_status(%s)", (transaction,)).fetchone()
        return str(row[0]) if row and row[0] is not None else None
    return None


@contextlib.contextmanager
def database_errors(url: DatabaseUrl, settings: DatabaseConfig | None = None) -> Iterator[None]:
    """Re-raise psycopg errors from the block as one-line DatabaseErrors."""
    try:
        yield
    except psycopg.Error as err:
        raise translate_error(err, url, settings) from err


def _connection_failure(text: str, url: DatabaseUrl) -> DatabaseError:
    """A failed connection attempt, told apart by libpq's message (there is no SQLSTATE)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = _CONNECT_PREFIX.sub("", lines[0] if lines else text)
    reason = _one_line(re.sub(r"^FATAL:\s*", "", _CONNECT_PREFIX.sub("", first)))
    lower = text.lower()
    where = f"{url.host}:{url.port}" if not url.host.startswith("/") else f"the socket in {url.host}"
    user = url.user or "(default user)"
    if "password authentication failed" in lower or "no password supplied" in lower:
        what = "rejected the password" if "password authentication failed" in lower else "asked for a password"
        return DatabaseConnectionError(
            f'PostgreSQL at {where} {what} for user "{user}".',
            f"Check the user and password in {url.source} (percent-encode special characters).",
            "28P01",
        )
    if re.search(r'role ".*" does not exist', lower):
        return DatabaseConnectionError(
            f'PostgreSQL at {where} has no role "{user}".', f"Check the user in {url.source}.", "28000"
        )
    if re.search(r'database ".*" does not exist', lower):
        return DatabaseConnectionError(
            f'The database "{url.database}" does not exist on {where}.',
            f"Check the database name in {url.source}, or create the database first.",
            "3D000",
        )
    if "permission denied for database" in lower:
        return DatabasePermissionError(
            f'The role "{user}" may not connect to the database "{url.database}" on {where} (no CONNECT privilege).',
            f'GRANT CONNECT ON DATABASE "{url.database}" TO "{user}", or use another role.',
            "42501",
        )
    if "no pg_hba.conf entry" in lower:
        return DatabaseConnectionError(
            f"PostgreSQL at {where} does not accept this user, database and address (no pg_hba.conf entry).",
            "Ask the server's administrator to allow it, or check sslmode.",
            "28000",
        )
    if "ssl" in lower or "certificate" in lower:
        return DatabaseConnectionError(
            f"TLS with PostgreSQL at {where} failed: {url.scrub(reason)}.",
            f"Check sslmode / sslcert / sslaccept in {url.source}.",
            "08006",
        )
    if "too many clients" in lower or "remaining connection slots" in lower:
        return DatabaseConnectionError(
            f"PostgreSQL at {where} has no free connection slot.", "Retry when fewer clients are connected.", "53300"
        )
    if any(marker in lower for marker in _LOST) and not _CONNECT_ATTEMPT.search(lower):
        return DatabaseConnectionError(
            f"The connection to PostgreSQL at {where} was lost ({url.scrub(reason)}).",
            "Check that the server is running (a restart or a failover ends every session), then run the command "
            "again; after an interrupted migration, `safemigrate status` shows what is applied.",
            "08006",
        )
    if any(marker in lower for marker in _UNREACHABLE):
        return DatabaseConnectionError(
            f"Cannot reach PostgreSQL at {where} ({url.scrub(reason)}).",
            f"Check the host and port in {url.source}, and that the server is running and reachable from here.",
            "08001",
        )
    return DatabaseConnectionError(
        f"Cannot connect to PostgreSQL at {where}: {url.scrub(reason)}.", f"Check {url.source}.", "08001"
    )


def translate_error(err: psycopg.Error, url: DatabaseUrl, settings: DatabaseConfig | None = None) -> DatabaseError:
    """The one-line DatabaseError for a psycopg error (by SQLSTATE, or by libpq's text for connect failures)."""
    state = err.sqlstate
    primary = _one_line(url.scrub(err.diag.message_primary or str(err))) if state else ""
    if state is None:
        if isinstance(err, psycopg.OperationalError):
            return _connection_failure(str(err), url)
        return DatabaseError(f"PostgreSQL client error: {_one_line(url.scrub(str(err)))}.")
    if state in ("28P01", "28000", "3D000"):
        return _connection_failure(primary, url)
    if state == "55P03":
        limit = f" after {duration_text(settings.lock_timeout)}" if settings else ""
        return LockTimeoutError(
            f"Gave up waiting for a lock{limit} ({primary}; SQLSTATE 55P03); nothing was changed by that statement.",
            "Another session holds a conflicting lock: retry when it is done, or raise [database] lock_timeout "
            "in safemigrate.toml.",
            state,
        )
    if state == "57014" and "statement timeout" in primary:
        limit = f" ({duration_text(settings.statement_timeout)})" if settings else ""
        return StatementTimeoutError(
            f"A statement ran longer than statement_timeout{limit} and was canceled (SQLSTATE 57014).",
            "Raise [database] statement_timeout in safemigrate.toml if it needs longer.",
            state,
        )
    if state == "42501":
        return DatabasePermissionError(
            f'PostgreSQL refused the role "{url.user or "(default user)"}": {primary} (SQLSTATE 42501).',
            "Grant the privilege, or connect as the role that owns the schema (the one Prisma migrates with).",
            state,
        )
    if state.startswith("08") or state in ("57P01", "57P02", "57P03"):
        return DatabaseConnectionError(
            f"The session with PostgreSQL at {url.host}:{url.port} ended: {primary} (SQLSTATE {state}).",
            "Check the server, then run the command again.",
            state,
        )
    return DatabaseError(f"PostgreSQL error {state}: {primary}.", "", state)
