"""`safemigrate recover` after a real `prisma migrate deploy` failed half-way (P3009)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

from safemigrate.db import prisma_migrations as pm
from safemigrate.pipeline.recover import recover
from tests.db.test_status_prisma_cli import PrismaCli, prisma, project  # noqa: F401 - fixtures

HALF = (
    '-- AlterTable\nALTER TABLE "Post" ADD COLUMN "a" INTEGER;\n\n'
    '-- CreateIndex\nCREATE INDEX "Post_a_idx" ON "Post"("a");\n\n'
    '-- AlterTable\nALTER TABLE "Missing" ADD COLUMN "x" INTEGER;\n'
)


def _add(root: Path, name: str, text: str) -> Path:
    folder = root / "prisma" / "migrations" / name
    folder.mkdir()
    (folder / "migration.sql").write_text(text)
    return folder / "migration.sql"


def _columns(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'Post'")
        return {str(r[0]) for r in rows}


def test_recover_undoes_what_took_effect_and_prisma_deploys_again(
    prisma: PrismaCli,  # noqa: F811
    project: Path,  # noqa: F811
    database_url: str,
) -> None:
    assert prisma.deploy(project, database_url).returncode == 0
    before = _columns(database_url)
    path = _add(project, "20240301000000_half", HALF)
    assert prisma.deploy(project, database_url).returncode != 0
    assert "a" in _columns(database_url), "Prisma left the first statements applied"
    assert prisma.status(project, database_url).failed == frozenset({"20240301000000_half"})

    report = subprocess.run(
        [sys.executable, "-m", "safemigrate", "recover", "--project", str(project)],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert report.returncode == 1 and "Nothing was changed" in report.stdout, report.stdout + report.stderr
    assert "line    2: took effect" in report.stdout and "line    8: did not run" in report.stdout

    diagnosis, recovery = recover(project, database_url=database_url, confirm=lambda d: True)
    assert [e.line for e in diagnosis.applied] == [2, 5] and recovery is not None and recovery.undone == 2
    assert _columns(database_url) == before
    with psycopg.connect(database_url) as conn:
        assert conn.execute("""SELECT to_regclass('"Post_a_idx"')""").fetchone() == (None,)
        assert not any(row.failed for row in pm.read_migration_rows(conn, "public"))

    path.write_text(HALF.replace('"Missing"', '"Post"'))
    fixed = prisma.deploy(project, database_url)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert prisma.status(project, database_url).up_to_date


def test_recover_refuses_what_it_cannot_undo(
    prisma: PrismaCli,  # noqa: F811
    project: Path,  # noqa: F811
    database_url: str,
) -> None:
    assert prisma.deploy(project, database_url).returncode == 0
    _add(
        project,
        "20240301000000_update_then_fail",
        '-- Backfill\nUPDATE "Post" SET "title" = upper("title");\n\n'
        '-- AlterTable\nALTER TABLE "Missing" ADD COLUMN "x" INTEGER;\n',
    )
    assert prisma.deploy(project, database_url).returncode != 0
    diagnosis, recovery = recover(project, database_url=database_url, confirm=lambda d: True)
    assert recovery is None and diagnosis.blocker is not None and diagnosis.blocker.line == 2
    with psycopg.connect(database_url) as conn:
        assert [r.migration_name for r in pm.read_migration_rows(conn, "public") if r.failed] == [
            "20240301000000_update_then_fail"
        ]
