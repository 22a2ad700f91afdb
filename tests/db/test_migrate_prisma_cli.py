"""`safemigrate migrate` next to the real Prisma CLI (../shared/prisma-offline): what safemigrate
applies reads as applied in Prisma, a failing migration leaves Prisma deployable (where plain
`prisma migrate deploy` leaves a half-applied schema and a failed row), and migrations keep
applying with either tool afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

from safemigrate.db import prisma_migrations as pm
from safemigrate.db.catalog.snapshot import snapshot_to_dict, take_snapshot
from safemigrate.db.fingerprint import fingerprint
from tests.db.test_status_prisma_cli import PrismaCli, prisma, project  # noqa: F401 - fixtures

FAILING = (
    '-- AlterTable\nALTER TABLE "Post" ADD COLUMN "a" INTEGER;\n\n'
    '-- AlterTable\nALTER TABLE "Post" ADD COLUMN "b" INTEGER;\n\n'
    '-- AlterTable\nALTER TABLE "Missing" ADD COLUMN "x" INTEGER;\n'
)


def _safemigrate(root: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    (root / "safemigrate.toml").write_text(f'[backup]\nstore = "{root.parent / "backups"}"\n')
    return subprocess.run(
        [sys.executable, "-m", "safemigrate", *args, "--project", str(root)],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _state(url: str) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        snapshot = take_snapshot(conn, exclude_tables=("_prisma_migrations",))
        tables = [t.name for t in snapshot.tables]
        return snapshot_to_dict(snapshot), fingerprint(conn, tables=tables).to_dict()


def _add(root: Path, name: str, text: str) -> None:
    folder = root / "prisma" / "migrations" / name
    folder.mkdir()
    (folder / "migration.sql").write_text(text)


def test_after_a_clean_run_prisma_sees_it_up_to_date_and_keeps_deploying(
    prisma: PrismaCli,  # noqa: F811
    project: Path,  # noqa: F811
    database_url: str,
) -> None:
    done = _safemigrate(project, database_url, "migrate", "--yes", "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    run = json.loads(done.stdout)
    assert run["verdict"] == "applied" and len(run["migrations"]) == 3
    status = prisma.status(project, database_url)
    assert status.up_to_date and status.exit_code == 0, status.output
    deploy = prisma.deploy(project, database_url)
    assert deploy.returncode == 0 and "No pending migrations to apply" in deploy.stdout + deploy.stderr

    _add(project, "20240201000000_prisma_next", '-- AlterTable\nALTER TABLE "Post" ADD COLUMN "flag" BOOLEAN;\n')
    by_prisma = prisma.deploy(project, database_url)
    assert by_prisma.returncode == 0, by_prisma.stdout + by_prisma.stderr
    _add(project, "20240202000000_ours_next", '-- AlterTable\nALTER TABLE "Post" ADD COLUMN "other" BOOLEAN;\n')
    again = _safemigrate(project, database_url, "migrate", "--yes")
    assert again.returncode == 0, again.stdout + again.stderr
    assert prisma.status(project, database_url).up_to_date


def test_a_failing_third_statement_leaves_prisma_deployable_unlike_plain_deploy(
    prisma: PrismaCli,  # noqa: F811
    project: Path,  # noqa: F811
    database_url: str,
    pg_server: Any,
) -> None:
    assert _safemigrate(project, database_url, "migrate", "--yes").returncode == 0
    _add(project, "20240301000000_third_fails", FAILING)
    before = _state(database_url)
    refused = _safemigrate(project, database_url, "migrate", "--yes", "--allow", "unchecked,may-fail")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "migration.sql:8:" in refused.stdout  # the third statement, found by the rehearsal
    assert _state(database_url) == before
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert not any(row.failed for row in pm.read_migration_rows(conn, "public"))
    status = prisma.status(project, database_url)
    assert status.unapplied == frozenset({"20240301000000_third_fails"}) and not status.failed, status.output

    plain = prisma.deploy(project, database_url)
    assert plain.returncode != 0
    with psycopg.connect(database_url, autocommit=True) as conn:
        columns = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'Post' AND column_name IN ('a', 'b')"
            )
        }
        failed = [row.migration_name for row in pm.read_migration_rows(conn, "public") if row.failed]
    assert columns == {"a", "b"}, "plain deploy leaves the first two statements applied"
    assert failed == ["20240301000000_third_fails"], "and Prisma's failed state (P3009)"
    assert pg_server.password not in refused.stdout + refused.stderr


def _in_process(root: Path, database_url: str, monkeypatch: Any) -> None:
    """For ``migrate()`` called in this process: the project's database and its backup store."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    (root / "safemigrate.toml").write_text(f'[backup]\nstore = "{root.parent / "backups"}"\n')


def _engine(prisma: PrismaCli, root: Path) -> tuple[str, ...]:  # noqa: F811
    return (str(prisma.wrapper), "--schema", str(root / "prisma" / "schema.prisma"))


def test_engine_prisma_applies_through_prisma_with_the_lock_handed_over(
    prisma: PrismaCli,  # noqa: F811
    project: Path,  # noqa: F811
    database_url: str,
    monkeypatch: Any,
) -> None:
    from safemigrate.pipeline.migrate import migrate

    _in_process(project, database_url, monkeypatch)
    run = migrate(project, engine="prisma", prisma_command=_engine(prisma, project))
    assert run.verdict == "applied", run.message
    assert run.schema_diff is not None and not run.schema_diff.equal
    assert prisma.status(project, database_url).up_to_date
    with psycopg.connect(database_url) as conn:
        held = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 72707369")
        assert held.fetchone() == (0,), "the lock is free afterwards"


def test_engine_prisma_failure_is_recovered_so_prisma_is_not_stuck(
    prisma: PrismaCli,  # noqa: F811
    project: Path,  # noqa: F811
    database_url: str,
    monkeypatch: Any,
) -> None:
    from safemigrate.pipeline.migrate import migrate

    _in_process(project, database_url, monkeypatch)
    assert migrate(project).verdict == "applied"
    _add(project, "20240301000000_third_fails", FAILING)
    before = _state(database_url)
    run = migrate(
        project,
        engine="prisma",
        prisma_command=_engine(prisma, project),
        skip_dry_run=True,
        allow=("unchecked", "may-fail"),
    )
    assert run.verdict == "failed" and "undone" in run.message, run.message
    assert _state(database_url) == before
    status = prisma.status(project, database_url)
    assert not status.failed and status.exit_code == 0, status.output  # rolled back: Prisma is not stuck
    (project / "prisma" / "migrations" / "20240301000000_third_fails" / "migration.sql").write_text(
        FAILING.replace('"Missing"', '"Post"')
    )
    redeploy = prisma.deploy(project, database_url)
    assert redeploy.returncode == 0, redeploy.stdout + redeploy.stderr
    assert prisma.status(project, database_url).up_to_date


def test_a_concurrently_built_index_is_applied_and_verified_by_both_engines(
    prisma: PrismaCli,  # noqa: F811
    project: Path,  # noqa: F811
    database_url: str,
    monkeypatch: Any,
) -> None:
    """A CREATE INDEX CONCURRENTLY file runs after the transaction with our engine and inside
    Prisma's run with --engine prisma; each is checked against the rehearsal at the right point."""
    from safemigrate.pipeline.migrate import migrate

    _in_process(project, database_url, monkeypatch)
    assert migrate(project).verdict == "applied"
    _add(project, "20990101000000_post_title_index", 'CREATE INDEX CONCURRENTLY "Post_title_idx" ON "Post"("title");\n')
    ours = migrate(project)
    assert ours.verdict == "applied", ours.message
    assert ours.schema_diff is not None and [c.kind for c in ours.schema_diff.changes] == ["index_added"]
    assert prisma.status(project, database_url).up_to_date

    _add(
        project,
        "20990102000000_post_title_index_2",
        'CREATE INDEX CONCURRENTLY "Post_title2_idx" ON "Post"("title");\n',
    )
    theirs = migrate(project, engine="prisma", prisma_command=_engine(prisma, project))
    assert theirs.verdict == "applied", theirs.message
    assert theirs.schema_diff is not None and [c.kind for c in theirs.schema_diff.changes] == ["index_added"]
    assert prisma.status(project, database_url).up_to_date


def test_an_enum_value_one_pending_migration_adds_and_the_next_uses_goes_through_prisma_only(
    prisma: PrismaCli,  # noqa: F811
    project: Path,  # noqa: F811
    database_url: str,
    monkeypatch: Any,
) -> None:
    """Prisma commits each migration on its own, so the value the first adds is usable in the second; the
    default engine's one transaction is not (55P04). The lint check knows which engine runs: it refuses
    the default engine's run before anything is done, and lets `--engine prisma` apply both."""
    from safemigrate.pipeline.migrate import migrate

    _in_process(project, database_url, monkeypatch)
    _add(
        project,
        "20240201000000_status",
        "CREATE TYPE \"Status\" AS ENUM ('DRAFT');\n"
        'ALTER TABLE "Post" ADD COLUMN "status" "Status" NOT NULL DEFAULT \'DRAFT\';\n',
    )
    assert migrate(project).verdict == "applied"
    _add(project, "20240202000000_live", "-- AlterEnum\nALTER TYPE \"Status\" ADD VALUE 'LIVE';\n")
    _add(
        project,
        "20240203000000_live_by_default",
        '-- AlterTable\nALTER TABLE "Post" ALTER COLUMN "status" SET DEFAULT \'LIVE\';\n',
    )
    before = _state(database_url)
    ours = migrate(project)
    assert ours.verdict == "refused" and "enum-value-used-same-transaction" in ours.message, ours.message
    assert _state(database_url) == before

    through_prisma = migrate(project, engine="prisma", prisma_command=_engine(prisma, project))
    assert through_prisma.verdict == "applied", through_prisma.message
    with psycopg.connect(database_url) as conn:
        default = conn.execute(
            "SELECT column_default FROM information_schema.columns WHERE table_name = 'Post' AND column_name = 'status'"
        ).fetchone()
    assert default == ("'LIVE'::\"Status\"",)
    assert prisma.status(project, database_url).up_to_date


def test_engine_prisma_undo_of_an_if_not_exists_migration_knows_what_it_created(
    prisma: PrismaCli,  # noqa: F811
    project: Path,  # noqa: F811
    database_url: str,
    monkeypatch: Any,
) -> None:
    """The first pending migration creates a table with IF NOT EXISTS and fails later: the snapshot taken
    before Prisma ran shows the table is the migration's, so the automatic undo drops it; a table that was
    there before is kept: the statement found it and did nothing."""
    from safemigrate.pipeline.migrate import migrate

    _in_process(project, database_url, monkeypatch)
    assert migrate(project).verdict == "applied"
    sql = 'CREATE TABLE IF NOT EXISTS "Audit" ("id" INTEGER NOT NULL);\nALTER TABLE "Missing" ADD COLUMN "x" INTEGER;\n'
    _add(project, "20240301000000_audit", sql)
    before = _state(database_url)
    args: dict[str, Any] = {"engine": "prisma", "prisma_command": _engine(prisma, project), "skip_dry_run": True}
    run = migrate(project, allow=("unchecked", "may-fail"), **args)
    assert run.verdict == "failed" and "the 1 statement(s) that took effect were undone" in run.message, run.message
    assert _state(database_url) == before
    assert not prisma.status(project, database_url).failed

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute('CREATE TABLE "Audit" ("id" INTEGER NOT NULL); INSERT INTO "Audit" VALUES (7)')
    kept = migrate(project, allow=("unchecked", "may-fail"), **args)
    assert kept.verdict == "failed" and "the 0 statement(s) that took effect" in kept.message, kept.message
    with psycopg.connect(database_url) as conn:
        assert conn.execute('SELECT * FROM "Audit"').fetchall() == [(7,)]


def test_engine_prisma_undo_drops_the_invalid_index_a_failed_concurrent_build_left(
    prisma: PrismaCli,  # noqa: F811
    project: Path,  # noqa: F811
    database_url: str,
    monkeypatch: Any,
) -> None:
    from safemigrate.pipeline.migrate import migrate

    _in_process(project, database_url, monkeypatch)
    assert migrate(project).verdict == "applied"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute('INSERT INTO "User" ("email") VALUES (\'a@x.io\')')
        conn.execute('INSERT INTO "Post" ("title", "authorId") SELECT \'same\', id FROM "User", generate_series(1, 2)')
    index = 'CREATE UNIQUE INDEX CONCURRENTLY "Post_title_key" ON "Post"("title");\n'
    _add(project, "20240301000000_unique_title", index)
    args: dict[str, Any] = {"engine": "prisma", "prisma_command": _engine(prisma, project), "skip_dry_run": True}
    run = migrate(project, allow=("unchecked", "may-fail", "lock"), **args)
    assert run.verdict == "failed" and "the invalid index it left dropped" in run.message, run.message
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT to_regclass('\"Post_title_key\"')").fetchone() == (None,)
    assert not prisma.status(project, database_url).failed
