"""Review fix: a URL without ?schema= on a session that does not start in ``public``.

Without ?schema=, Prisma (its pg driver adapter, and its native engine, which only sets search_path
when the URL names a schema) works in the schema the session starts in: ``"$user", public`` finds a
role's own schema first; ``options=-c search_path=app`` and ``ALTER ROLE ... SET search_path`` move it.
safemigrate used ``public`` regardless, and built a second copy of the history there. Now the session's
``current_schema()`` is read before safemigrate sets search_path, and anything but ``public`` is refused
with the ?schema= that makes both agree.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from safemigrate.config import DatabaseConfig
from safemigrate.db import prisma_migrations as pm
from safemigrate.db.connect import connect, default_schema_refusal
from safemigrate.db.url import parse_database_url
from safemigrate.errors import EXIT_USAGE, DatabaseUrlError
from safemigrate.status import APPLIED, status
from tests.db.test_status_prisma_cli import (  # noqa: F401 - fixtures
    ADD_POST,
    FIXTURE,
    INIT,
    POST_VIEWS,
    PrismaCli,
    prisma,
    project,
)
from tests.pgserver import PgServer, throwaway_roles

SETTINGS = DatabaseConfig(lock_timeout=5, statement_timeout=30, migrate_lock_timeout=5)
PASSWORD = "role-pw-1"
SEARCH_PATH_APP = "options=-c%20search_path%3Dapp"


def with_query(url: str, query: str) -> str:
    return url + ("&" if "?" in url else "?") + query


def as_role(database_url: str, role: str) -> str:
    parts = urlsplit(database_url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{quote(role, safe='')}:{PASSWORD}@{host}"))


def current_schema(url: str) -> str | None:
    with connect(parse_database_url(url), command="test", settings=SETTINGS) as conn:
        row = conn.execute("SELECT current_schema()").fetchone()
    assert row is not None
    return None if row[0] is None else str(row[0])


def login(role: str) -> sql.Composed:
    return sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(PASSWORD))


@pytest.fixture
def login_role(pg_server: PgServer, database_url: str) -> Iterator[str]:
    """A login role that owns a schema of its own name (so ``"$user", public`` starts there)."""
    with throwaway_roles(pg_server, database_url, "app2") as (role,):
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(PASSWORD))
            )
            admin.execute(sql.SQL("CREATE SCHEMA AUTHORIZATION {}").format(sql.Identifier(role)))
        yield role


def test_role_with_its_own_schema_is_refused_naming_it(database_url: str, login_role: str) -> None:
    url = as_role(database_url, login_role)
    with pytest.raises(DatabaseUrlError) as info:
        connect(parse_database_url(url), command="test", settings=SETTINGS)
    assert f'its session starts in schema "{login_role}"' in info.value.message
    assert 'safemigrate would use "public"' in info.value.message
    assert info.value.hint.startswith(f"Add ?schema={login_role} to the URL")
    assert info.value.exit_code == EXIT_USAGE
    assert current_schema(with_query(url, f"schema={login_role}")) == login_role


def test_role_search_path_is_refused(pg_server: PgServer, database_url: str) -> None:
    with throwaway_roles(pg_server, database_url, "mover") as (role,):
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute("CREATE SCHEMA app")
            admin.execute(
                sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(PASSWORD))
            )
            admin.execute(sql.SQL("GRANT USAGE ON SCHEMA app TO {}").format(sql.Identifier(role)))
            admin.execute(
                sql.SQL("ALTER ROLE {} IN DATABASE {} SET search_path = app").format(
                    sql.Identifier(role), sql.Identifier(urlsplit(database_url).path[1:])
                )
            )
        with pytest.raises(DatabaseUrlError, match='starts in schema "app"'):
            connect(parse_database_url(as_role(database_url, role)), command="test", settings=SETTINGS)


def test_options_search_path_is_refused_where_status_said_no_table(tmp_path: Path, database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("CREATE SCHEMA app")
        pm.create_migrations_table(admin, "app")  # where Prisma's status reads it: the session's schema
    shutil.copytree(FIXTURE, tmp_path / "project")
    url = with_query(database_url, SEARCH_PATH_APP)
    with pytest.raises(DatabaseUrlError) as info:
        status(tmp_path / "project", database_url=url)
    assert 'starts in schema "app"' in info.value.message and "?schema=app" in info.value.hint
    report = status(tmp_path / "project", database_url=with_query(url, "schema=app"))
    assert report.schema == "app" and report.has_migrations_table


def test_no_existing_schema_on_the_path_and_no_public_is_refused(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("DROP SCHEMA public")
    with pytest.raises(DatabaseUrlError, match="names no existing schema") as info:
        connect(parse_database_url(database_url), command="test", settings=SETTINGS)
    assert "?schema=" in info.value.hint


def test_sessions_that_start_in_public_connect_as_before(database_url: str) -> None:
    assert current_schema(database_url) == "public"
    assert current_schema(with_query(database_url, "options=-c%20search_path%3Dpublic")) == "public"


def test_the_refusal_is_decided_without_a_database() -> None:
    url = parse_database_url("postgresql://u:p@h/db", source="DATABASE_URL")
    assert default_schema_refusal(url, "public", True) is None
    assert default_schema_refusal(url, None, True) is None  # public exists but is not usable: not a guess
    named = default_schema_refusal(url, "my app", True)
    assert named is not None and named.hint.startswith("Add ?schema=my%20app to the URL")
    assert "DATABASE_URL" in named.message
    assert default_schema_refusal(url, None, False) is not None


@pytest.mark.node
def test_prisma_deploys_into_the_roles_schema_and_safemigrate_agrees_once_named(
    prisma: PrismaCli,  # noqa: F811 - fixture
    project: Path,  # noqa: F811 - fixture
    database_url: str,
    login_role: str,
) -> None:
    url = as_role(database_url, login_role)
    with psycopg.connect(database_url, autocommit=True) as admin:  # the history runs CREATE SCHEMA IF NOT EXISTS
        admin.execute(
            sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
                sql.Identifier(urlsplit(database_url).path[1:]), sql.Identifier(login_role)
            )
        )
    deployed = prisma.deploy(project, url)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    with psycopg.connect(database_url) as conn:
        assert pm.migrations_table_exists(conn, login_role)
        assert not pm.migrations_table_exists(conn, "public")
    with pytest.raises(DatabaseUrlError, match=f"Add \\?schema={login_role} to the URL"):
        status(project, database_url=url)
    report = status(project, database_url=with_query(url, f"schema={login_role}"))
    assert {m.name: m.state for m in report.migrations} == {INIT: APPLIED, ADD_POST: APPLIED, POST_VIEWS: APPLIED}
