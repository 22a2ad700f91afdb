"""A URL that names no database is refused: Prisma's schema engine (quaint) reads it as "postgres",
its pg driver adapter (as libpq) as the database named like the user, so safemigrate cannot know
which database `prisma migrate deploy` changes. Nothing is connected to."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from safemigrate.db.url import parse_database_url
from safemigrate.errors import DatabaseUrlError


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:secret-pw@db.example:5432",
        "postgresql://app:secret-pw@db.example:5432/",
        "postgresql://app:secret-pw@db.example:5432?schema=public",
        "postgresql://app:secret-pw@db.example:5432/?schema=public",
    ],
)
def test_a_url_without_a_database_name_is_refused(url: str) -> None:
    with pytest.raises(DatabaseUrlError) as caught:
        parse_database_url(url, source="DATABASE_URL")
    assert "names no database" in caught.value.message
    assert "secret-pw" not in caught.value.message + caught.value.hint


def test_a_url_with_a_database_name_is_read() -> None:
    assert parse_database_url("postgresql://app:pw@db.example:5432/shop?schema=s").database == "shop"


def test_the_cli_refuses_in_one_sentence_without_connecting(tmp_path: Path) -> None:
    (tmp_path / "prisma" / "migrations").mkdir(parents=True)
    (tmp_path / "prisma" / "migrations" / "migration_lock.toml").write_text('provider = "postgresql"\n')
    (tmp_path / "prisma" / "schema.prisma").write_text(
        'datasource db {\n  provider = "postgresql"\n  url      = env("DATABASE_URL")\n}\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "safemigrate", "status", "--database-url", "postgresql://app:secret-pw@127.0.0.1:9"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "names no database" in done.stderr
    assert "Traceback" not in done.stderr and "secret-pw" not in done.stdout + done.stderr
