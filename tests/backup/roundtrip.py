"""Shared by the round-trip tests: run SQL, read rows and fingerprints, back up and restore by URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from safemigrate.backup import restore_backup, take_backup
from safemigrate.backup.manifest import Manifest
from safemigrate.db.fingerprint import fingerprint
from safemigrate.db.url import parse_database_url


def run_sql(url: str, statements: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statements)


def rows(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query).fetchall()


def prints(url: str) -> dict[str, Any]:
    """The fingerprint of every table of the URL's schema, by table."""
    with psycopg.connect(url, autocommit=True) as conn:
        return {t["table"]: t for t in fingerprint(conn).to_dict()["tables"]}


def backup(url: str, store: Path, **kwargs: Any) -> Manifest:
    return take_backup(parse_database_url(url), store, **kwargs)


def restore(url: str, store: Path, **kwargs: Any) -> Any:
    return restore_backup(parse_database_url(url, source="--to-url"), store, **kwargs)
