"""Is the clone's target the source itself? Two URLs can name one database (localhost and 127.0.0.1,
a DNS alias, a port forward), so the URLs are compared first, then what each server says it is."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg
from psycopg.rows import class_row

from safemigrate.db.url import DatabaseUrl


def load_sql(name: str) -> str:
    """The text of ``safemigrate/staging/sql/<name>.sql``."""
    return resources.files("safemigrate.staging").joinpath("sql").joinpath(f"{name}.sql").read_text("utf-8")


@dataclass(frozen=True)
class DatabaseIdentity:
    database: str
    database_oid: int
    port: int
    started: str  # pg_postmaster_start_time(), as text
    system_identifier: str | None = None  # None: the role may not read pg_control_system()


def read_identity(conn: psycopg.Connection[Any]) -> DatabaseIdentity:
    """What the server says about this session's database (autocommit session)."""
    with conn.cursor(row_factory=class_row(DatabaseIdentity)) as cur:
        identity = cur.execute(load_sql("server_identity")).fetchone()
    assert identity is not None
    try:
        row = conn.execute(load_sql("system_identifier")).fetchone()
    except psycopg.errors.InsufficientPrivilege:
        return identity  # no pg_monitor: the start time and port stand in for the cluster's identity
    return DatabaseIdentity(
        identity.database, identity.database_oid, identity.port, identity.started, str(row[0]) if row else None
    )


def same_database(source: DatabaseIdentity, target: DatabaseIdentity) -> bool:
    """One database of one cluster. With both system identifiers readable they decide (with the
    database oid); otherwise the postmaster's start time, port and database oid, which two running
    servers never share."""
    if source.database_oid != target.database_oid:
        return False
    if source.system_identifier is not None and target.system_identifier is not None:
        return source.system_identifier == target.system_identifier
    return (source.started, source.port) == (target.started, target.port)


def _addresses(host: str, port: int) -> set[str]:
    if host.startswith("/"):
        return {host.rstrip("/")}  # a Unix socket folder
    try:
        return {str(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)}
    except (OSError, UnicodeError):
        return {host.lower()}


def same_address(source: DatabaseUrl, target: DatabaseUrl) -> bool:
    """The URLs name the same port and database on hosts that share an address (``localhost`` and
    ``127.0.0.1`` do)."""
    if source.port != target.port:
        return False
    if (source.database or source.user) != (target.database or target.user):
        return False
    if source.host.lower() == target.host.lower():
        return True
    return bool(_addresses(source.host, source.port) & _addresses(target.host, target.port))
