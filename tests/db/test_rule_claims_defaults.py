"""Claims of drop-default, observed on a real PostgreSQL server: what the running app's inserts meet."""

from __future__ import annotations

import psycopg
import pytest

from safemigrate.lint.registry import rule_by_name

ORDER_TABLE = """
CREATE TABLE "Order" ("id" SERIAL PRIMARY KEY, "status" TEXT NOT NULL DEFAULT 'NEW', "note" TEXT DEFAULT 'none');
INSERT INTO "Order" ("note") VALUES ('first');
"""
OLD_APP_INSERT = 'INSERT INTO "Order" ("note") VALUES (\'from the running app\')'  # leaves "status" to the default


def _run(url: str, sql: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.encode(), prepare=False)


def test_dropping_the_default_of_a_required_column_fails_the_running_apps_inserts(database_url: str) -> None:
    rule = rule_by_name("drop-default")
    _run(database_url, ORDER_TABLE)
    _run(database_url, OLD_APP_INSERT)  # works before the migration
    _run(database_url, rule.bad)
    with pytest.raises(psycopg.errors.NotNullViolation):
        _run(database_url, OLD_APP_INSERT)
    _run(database_url, rule.good)  # a default again: the same insert works
    _run(database_url, OLD_APP_INSERT)


def test_dropping_the_default_of_an_optional_column_stores_null(database_url: str) -> None:
    _run(database_url, ORDER_TABLE + 'ALTER TABLE "Order" ALTER COLUMN "note" DROP DEFAULT;')
    _run(database_url, 'INSERT INTO "Order" ("status") VALUES (\'NEW\')')
    with psycopg.connect(database_url) as conn:
        assert conn.execute('SELECT "note" FROM "Order" ORDER BY "id" DESC LIMIT 1').fetchone() == (None,)
