"""dry-run --clone neon end to end, against the local server that follows Neon's API."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from safemigrate.db.url import parse_database_url
from safemigrate.migrations import list_migrations
from safemigrate.pipeline.apply import apply_migrations
from safemigrate.pipeline.rehearse import rehearse
from tests.clone.fake_neon import fake_neon
from tests.pgserver import PgServer

PATTERNS = Path(__file__).parents[2] / "fixtures" / "patterns"


def test_a_rehearsal_on_a_neon_branch_needs_no_copy_and_deletes_the_branch(
    tmp_path: Path, database_url: str, pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    shutil.copytree(PATTERNS / "index_added", project)
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
        conn.execute("""INSERT INTO "User" (email) VALUES ('a@x.io')""")
    with fake_neon(pg_server) as fake:
        database = parse_database_url(database_url).database
        fake.add_branch("main", {database: database}, default=True)
        (project / "safemigrate.toml").write_text(
            f'[backup]\nstore = "{tmp_path / "backups"}"\n'
            f'[dry_run]\nclone = "neon"\nneon_project_id = "{fake.project_id}"\nneon_api_url = "{fake.url}"\n'
        )
        monkeypatch.setenv("NEON_API_KEY", fake.api_key)
        with psycopg.connect(pg_server.url()) as conn:
            before = {str(r[0]) for r in conn.execute("SELECT datname FROM pg_database")}
        rehearsal = rehearse(project, database_url=database_url)
        with psycopg.connect(pg_server.url()) as conn:
            after = {str(r[0]) for r in conn.execute("SELECT datname FROM pg_database")}
    assert rehearsal.ok and rehearsal.clone_provider == "neon"
    assert rehearsal.schema_diff is not None and [c.kind for c in rehearsal.schema_diff.changes] == ["index_added"]
    assert after == before, "the branch (a database on the test server) is deleted afterwards"
    assert [r.method for r in fake.requests].count("DELETE") == 1
