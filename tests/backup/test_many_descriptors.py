"""A backup taken by a process that already has many files open (an application calling the library):
waiting for COPY's data must not depend on the descriptor's number. ``select`` refuses descriptors
from 1024 on ("filedescriptor out of range in select()")."""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from safemigrate.backup.take import take_backup
from safemigrate.db.url import parse_database_url

HELD = 1100  # more than select's FD_SETSIZE (1024)


@pytest.fixture
def many_open_files() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = HELD + 256
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.fail(f"the open-files limit ({hard}) is below {wanted}: this test needs it raised")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(HELD)]
    try:
        yield
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_backup_with_more_than_1024_files_open(database_url: str, tmp_path: Path, many_open_files: None) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        conn.execute("INSERT INTO t SELECT g, 'x' || g FROM generate_series(1, 1000) g")
    with psycopg.connect(database_url) as probe:  # the backup's own sockets come after the held files
        assert probe.pgconn.socket >= 1024
    manifest = take_backup(parse_database_url(database_url), tmp_path / "store", jobs=2)
    assert [(t.name, t.rows) for t in manifest.tables] == [("t", 1000)]
