"""A backup that runs out of disk space: one sentence, nothing left behind, the database untouched."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest


@contextlib.contextmanager
def _small_disk(path: Path) -> Iterator[bool]:
    """A 256 KiB tmpfs at ``path`` (True), when this process may mount one; else nothing (False)."""
    path.mkdir()
    mounted = (
        os.geteuid() == 0
        and (
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(path)], check=False)
        ).returncode
        == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", str(path)], check=False)


def _limit_file_size() -> None:
    # Without a small filesystem: the kernel refuses writes past 64 KiB (EFBIG), as a full disk refuses them.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


@pytest.fixture
def big(database_url: str) -> str:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE big AS SELECT i, md5(i::text) || md5((i * 7)::text) AS noise FROM generate_series(1, 60000) i"
        )
    return database_url


def test_a_full_disk_ends_in_one_sentence_and_leaves_nothing(big: str, tmp_path: Path) -> None:
    store = tmp_path / "store"
    with _small_disk(store) as mounted:
        (tmp_path / "safemigrate.toml").write_text(f'[backup]\nstore = "{store}"\n')
        with psycopg.connect(big) as conn:
            before = conn.execute("SELECT count(*), sum(i) FROM big").fetchone()
        done = subprocess.run(
            [sys.executable, "-m", "safemigrate", "backup", "--database-url", big, "--project", str(tmp_path)],
            capture_output=True,
            text=True,
            check=False,
            preexec_fn=None if mounted else _limit_file_size,
        )
        leftovers = sorted(p.name for p in store.iterdir()) if store.exists() else []
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Cannot write the backup to "), done.stderr
    assert "No space left on device" in lines[0] or "File too large" in lines[0]
    assert "nothing was saved" in lines[0]
    assert leftovers == []
    with psycopg.connect(big) as conn:
        assert conn.execute("SELECT count(*), sum(i) FROM big").fetchone() == before
