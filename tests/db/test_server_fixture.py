"""The test servers are real, fresh, and speak password authentication."""

from __future__ import annotations

import psycopg
import pytest

from tests.pgserver import PgServer


def test_database_is_fresh_and_password_protected(pg_server: PgServer, database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        assert tables == (0,)
        assert conn.info.server_version // 10000 == pg_server.version
    wrong = database_url.replace(pg_server.password, "not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong).close()
