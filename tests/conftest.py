"""Suite-wide settings and the PostgreSQL fixtures (see tests/pgserver.py)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pgserver import PgServer, fresh_database, test_server

# The parse cache of every test run goes to a throwaway folder, never the user's ~/.cache.
os.environ["SAFEMIGRATE_CACHE_DIR"] = tempfile.mkdtemp(prefix="safemigrate-test-cache-")

# Every node the suite starts (the Prisma CLI) exits once its work is done, not 10 s later: see the file.
_EXIT_WHEN_DONE = json.dumps(str(Path(__file__).with_name("prisma_exit_when_done.js")))
if _EXIT_WHEN_DONE not in os.environ.get("NODE_OPTIONS", ""):
    os.environ["NODE_OPTIONS"] = f"{os.environ.get('NODE_OPTIONS', '')} --require {_EXIT_WHEN_DONE}".strip()


def _unavailable(reason: str) -> None:
    """Outside CI a missing server skips with the reason; in CI (CI=true) it fails."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"PostgreSQL is required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One throwaway server for the whole run."""
    try:
        manager = test_server()
        server = manager.__enter__()
    except RuntimeError as err:
        _unavailable(str(err))
        raise  # unreachable: skip/fail raise
    try:
        yield server
    finally:
        manager.__exit__(None, None, None)


@pytest.fixture
def database_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh, empty database for one test; dropped afterwards."""
    with fresh_database(pg_server) as url:
        yield url


@pytest.fixture
def other_database(pg_server: PgServer) -> Iterator[str]:
    """A second fresh, empty database on the same server (a restore target)."""
    with fresh_database(pg_server) as url:
        yield url
