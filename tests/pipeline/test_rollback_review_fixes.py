"""`rollback` fixes from the pipeline review (/tmp/s7/pipeline_review.md, items 1 and 2):

1. the rows a run left failed (an `--engine prisma` run that stopped inside a migration) are marked
   rolled back as `prisma migrate resolve --rolled-back` does, so Prisma is not left stuck (P3009),
   and the message lists the migrations actually marked, and why any other was not;
2. what was added to a backed-up table since the run (a column and its data, an index) is found by
   comparing the table with its backup's DDL moved forward by the run's recorded schema changes: it
   is listed in the preview, and a column (data the backup does not hold) refuses the rollback
   unless `--discard-later-changes`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest

from safemigrate.backup.manifest import ColumnDef, ConstraintDef, IndexDef, TableDDL, TableExtras, TriggerDef
from safemigrate.db.catalog.snapshot import take_snapshot
from safemigrate.db.diff import diff_snapshots
from safemigrate.db.fingerprint import fingerprint
from safemigrate.errors import EXIT_CHECK_FAILED, RestoreRefusedError
from safemigrate.migrations import list_migrations
from safemigrate.pipeline.apply import apply_migrations
from safemigrate.pipeline.migrate import migrate
from safemigrate.pipeline.rollback import (
    LaterChange,
    RollbackPreview,
    changes_since_run,
    refuse_losing_later_columns,
    rollback,
    structure_after_run,
)
from tests.cli_run import run_cli
from tests.db.test_migrate_prisma_cli import _add
from tests.db.test_status_prisma_cli import PrismaCli, _rows, prisma, project  # noqa: F401 - fixtures

PATTERNS = Path(__file__).parents[2] / "fixtures" / "patterns"
SEED = """INSERT INTO "User" (email, nickname)
          SELECT 'u' || i || '@example.com', 'nick ' || i FROM generate_series(1, 40) i"""


def _cli(root: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(root, *args, env={"DATABASE_URL": url})


def _state(url: str) -> Any:
    """The schema (without statistics: a recreated table has fresh ones) and every table's data."""
    with psycopg.connect(url, autocommit=True) as conn:
        snapshot = take_snapshot(conn, exclude_tables=("_prisma_migrations",))
        tables = [t.name for t in snapshot.tables]
        return snapshot, fingerprint(conn, tables=tables).to_dict()


def _same(url: str, before: Any) -> list[Any]:
    """What differs from ``before`` (a :func:`_state`): schema changes, then tables whose data differs."""
    snapshot, prints = _state(url)
    changes = list(diff_snapshots(before[0], snapshot).changes)
    return changes + [t["table"] for t, old in zip(prints["tables"], before[1]["tables"], strict=True) if t != old]


# --- 1. the failed rows of a failed --engine prisma run ---------------------------------------------

OK, BAD, NEVER = "20240201000000_ok", "20240202000000_bad", "20240203000000_never"
BAD_SQL = (
    'ALTER TABLE "Post" ADD COLUMN "b" INTEGER;\n'
    'UPDATE "User" SET "email" = \'clobbered\';\n'
    'ALTER TABLE "Missing" ADD COLUMN "x" INTEGER;\n'
)


@pytest.mark.node
def test_rollback_of_a_failed_prisma_run_marks_its_failed_row_and_says_what_it_marked(
    prisma: PrismaCli,  # noqa: F811
    project: Path,  # noqa: F811
    database_url: str,
    monkeypatch: Any,
) -> None:
    """Prisma stops inside BAD after an UPDATE (the catalog cannot undo it, so migrate leaves the row
    failed and points at the backup); rolling the run back restores the tables and marks BAD's failed
    row rolled back, so Prisma deploys again. NEVER was never started: the message says so instead
    of claiming it was marked."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    (project / "safemigrate.toml").write_text(f'[backup]\nstore = "{project.parent / "backups"}"\n')
    assert migrate(project).verdict == "applied"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("""INSERT INTO "User" (email) SELECT 'u' || i || '@x.io' FROM generate_series(1, 10) i""")
        conn.execute(
            """INSERT INTO "Post" (title, "authorId") SELECT 't' || i, 1 + i % 10 FROM generate_series(1, 20) i"""
        )
    _add(project, OK, 'ALTER TABLE "Post" ADD COLUMN "a" INTEGER;\n')
    _add(project, BAD, BAD_SQL)
    _add(project, NEVER, 'ALTER TABLE "Post" ADD COLUMN "c" INTEGER;\n')
    before = _state(database_url)
    run = migrate(
        project,
        engine="prisma",
        prisma_command=(str(prisma.wrapper), "--schema", str(project / "prisma" / "schema.prisma")),
        skip_dry_run=True,
        allow=("data-loss", "may-fail", "unchecked"),
    )
    assert run.verdict == "failed", run.message
    assert f"`safemigrate rollback --run {run.id}` restores backup {run.backup_id}" in run.message
    assert [row.migration_name for row in _rows(database_url) if row.failed] == [BAD], "Prisma's failed state"

    done = _cli(project, database_url, "rollback", "--run", run.id, "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{OK}, {BAD} marked rolled back" in done.stdout, done.stdout
    assert f"not marked: {NEVER} (never started: no row in _prisma_migrations)" in done.stdout, done.stdout
    assert _same(database_url, before) == [], "the tables are as before the run"
    rows = {row.migration_name: row for row in _rows(database_url) if row.migration_name in (OK, BAD, NEVER)}
    assert set(rows) == {OK, BAD} and all(row.rolled_back for row in rows.values()), rows
    assert not any(row.failed for row in _rows(database_url))
    status = prisma.status(project, database_url)
    assert not status.failed and status.exit_code != 0, status.output  # pending again, not stuck (P3009)

    (project / "prisma" / "migrations" / BAD / "migration.sql").write_text(BAD_SQL.replace('"Missing"', '"Post"'))
    redeploy = prisma.deploy(project, database_url)
    assert redeploy.returncode == 0, redeploy.stdout + redeploy.stderr
    assert prisma.status(project, database_url).up_to_date


# --- 2. schema changes made to the backed-up tables since the run -------------------------------------


def _drop_column_project(tmp_path: Path, database_url: str) -> Path:
    """drop_column's first migration applied and 40 users; its second migration (which drops
    nickname) also adds a column and an index to User: the run's own, never reported as later."""
    root = tmp_path / "project"
    shutil.copytree(PATTERNS / "drop_column", root)
    (root / "safemigrate.toml").write_text(f'[backup]\nstore = "{tmp_path / "backups"}"\n')
    second = list_migrations(root / "prisma" / "migrations")[1].path / "migration.sql"
    second.write_text(
        second.read_text()
        + '\nALTER TABLE "User" ADD COLUMN "bio" TEXT;\nCREATE INDEX "User_bio_idx" ON "User"("bio");\n'
    )
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(root / "prisma" / "migrations")[:1])
        conn.execute(SEED)
    return root


def _columns(url: str) -> list[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = '\"User\"'::regclass AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attnum"
        ).fetchall()
    return [r[0] for r in rows]


def test_a_column_added_since_the_run_refuses_the_rollback_until_its_loss_is_accepted(
    tmp_path: Path, database_url: str
) -> None:
    root = _drop_column_project(tmp_path, database_url)
    run = migrate(root, database_url=database_url, allow=("data-loss",))
    assert run.verdict == "applied", run.message
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("""ALTER TABLE "User" ADD COLUMN "hotfix" TEXT""")
        conn.execute("""UPDATE "User" SET "hotfix" = 'important' WHERE id <= 30""")
        conn.execute("""CREATE INDEX "User_hotfix_idx" ON "User"("hotfix")""")
    after = _state(database_url)

    with pytest.raises(RestoreRefusedError) as refused:
        rollback(root, database_url=database_url, confirm=lambda p: True)
    assert refused.value.message == (
        f"Since run {run.id}, column(s) User.hotfix (30 non-NULL value(s)) were added to tables the rollback "
        "recreates from a backup that predates them, so it would drop them and their data; nothing was changed."
    )
    assert _same(database_url, after) == [], "refused before anything changed"
    done = _cli(root, database_url, "rollback", "--latest", "--yes")
    assert done.returncode == EXIT_CHECK_FAILED and "--discard-later-changes" in done.stderr, done.stderr
    assert _same(database_url, after) == []

    previews: list[RollbackPreview] = []
    rollback(
        root,
        database_url=database_url,
        confirm=lambda p: previews.append(p) or True,
        discard_later_changes=True,
    )
    (preview,) = previews
    assert [c.describe() for c in preview.later] == [
        "column User.hotfix, added since the run: dropped with its 30 non-NULL value(s)",
        "index User_hotfix_idx of User, added since the run: dropped",
    ], "the run's own bio column and index are not listed"
    assert _columns(database_url) == ["id", "email", "nickname", "createdAt"]


def test_an_index_added_since_the_run_is_listed_but_loses_no_data(tmp_path: Path, database_url: str) -> None:
    root = _drop_column_project(tmp_path, database_url)
    assert migrate(root, database_url=database_url, allow=("data-loss",)).verdict == "applied"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("""CREATE INDEX "User_email_idx" ON "User"("email")""")
        conn.execute("""ALTER TABLE "User" ALTER COLUMN "email" TYPE VARCHAR(200)""")
    previews: list[RollbackPreview] = []
    rollback(root, database_url=database_url, confirm=lambda p: previews.append(p) or True)
    (preview,) = previews
    assert [c.describe() for c in preview.later] == [
        "type of column User.email, changed since the run (character varying(200) now, text in the backup): "
        "back to the backup's",
        "index User_email_idx of User, added since the run: dropped",
    ]


# --- the pure parts: the structure after the run, what differs now, the stop decision -----------------


def _ddl(columns: dict[str, str], *, indexes: tuple[str, ...] = (), triggers: tuple[str, ...] | None = ()) -> TableDDL:
    extras = None if triggers is None else TableExtras("app", tuple(TriggerDef(t, "", "O", "") for t in triggers))
    return TableDDL(
        tuple(ColumnDef(name, kind, None, False, "", None, True) for name, kind in columns.items()),
        (ConstraintDef("T_pkey", "p", "PRIMARY KEY (id)"),),
        tuple(IndexDef(name, "") for name in indexes),
        (),
        (),
        extras,
    )


RUN_CHANGES = [
    {"kind": "column_added", "schema": "public", "table": "T", "column": "a"},
    {"kind": "column_dropped", "schema": "public", "table": "T", "column": "old"},
    {"kind": "column_type_changed", "schema": "public", "table": "T", "column": "n", "before": "integer"},
    {"kind": "index_added", "schema": "public", "table": "T", "index": "T_a_idx"},
    {"kind": "index_dropped", "schema": "public", "table": "T", "index": "T_old_idx"},
    {"kind": "column_added", "schema": "public", "table": "Other", "column": "z"},
]


def test_the_structure_after_the_run_is_the_backup_moved_forward_by_the_runs_changes() -> None:
    backup = _ddl({"id": "integer", "old": "text", "n": "integer"}, indexes=("T_old_idx",), triggers=("t1",))
    after = structure_after_run("public", "T", backup, RUN_CHANGES)
    assert dict(after.columns) == {"id": "integer", "n": None, "a": None}
    assert after.indexes == {"T_a_idx"} and after.constraints == {"T_pkey"} and after.triggers == {"t1"}

    now = _ddl(
        {"id": "bigint", "n": "bigint", "a": "text", "z": "text", "old": "text"},
        indexes=("T_a_idx", "T_z_idx"),
        triggers=("t1", "t2"),
    )
    found = changes_since_run("T", after, now)
    assert [(c.kind, c.name) for c in found] == [
        ("column", "z"),
        ("column", "old"),  # dropped by the run, added again since
        ("column type", "id"),  # the run changed n's type, not id's
        ("index", "T_z_idx"),
        ("trigger", "t2"),
    ]
    gone = structure_after_run("public", "T", backup, [{"kind": "table_dropped", "schema": "public", "table": "T"}])
    assert {c.name for c in changes_since_run("T", gone, now) if c.loses_data} == {"id", "n", "a", "z", "old"}


def test_without_recorded_changes_every_column_outside_the_backup_counts_as_a_loss() -> None:
    backup = _ddl({"id": "integer"}, triggers=None)
    found = changes_since_run(
        "T", structure_after_run("public", "T", backup, []), _ddl({"id": "integer", "a": "text"}), certain=False
    )
    assert [(c.name, c.loses_data, c.certain) for c in found] == [("a", True, False)]
    assert "the run recorded no schema changes" in found[0].describe()


def test_only_a_column_added_since_stops_the_rollback() -> None:
    run = {"id": "R1"}
    index_only = RollbackPreview(run, "B", (), (), (LaterChange("T", "index", "T_x_idx"),))
    refuse_losing_later_columns(index_only, discard_later_changes=False)
    with_column = RollbackPreview(run, "B", (), (), (LaterChange("T", "column", "x", values=3),))
    with pytest.raises(RestoreRefusedError, match=r"T\.x \(3 non-NULL value\(s\)\)"):
        refuse_losing_later_columns(with_column, discard_later_changes=False)
    refuse_losing_later_columns(with_column, discard_later_changes=True)


def test_the_interactive_picker_lists_every_run_rollback_takes(tmp_path: Path) -> None:
    # One rule (rollback_accepts): a failed run that changed the schema is taken by --run, so the
    # picker lists it too (named as failed); a failed run that changed nothing and a refused one are not.
    import json
    import re
    import sys

    from safemigrate.backup.stores import LocalStore
    from tests.backup.test_stores import _talk

    root = tmp_path / "project"
    shutil.copytree(Path(__file__).parents[2] / "fixtures" / "blog", root)
    store = tmp_path / "backups"
    (root / "safemigrate.toml").write_text(f'[backup]\nstore = "{store}"\n')
    changed = [{"kind": "column_added", "table": "Post", "column": "a"}]
    runs = [
        ("20261130T100000Z-aaaaaa", "applied", changed),
        ("20261130T110000Z-bbbbbb", "failed", changed),
        ("20261130T120000Z-cccccc", "failed", []),
        ("20261130T130000Z-dddddd", "refused", None),
    ]
    for run_id, verdict, changes in runs:
        record = {"id": run_id, "verdict": verdict, "started_at": run_id[:15], "migrations": ["m"]}
        record["schema_changes"] = changes
        LocalStore(store).save_run(run_id, json.dumps(record))
    env_free = [sys.executable, "-m", "safemigrate", "rollback", "--interactive", "--project", str(root)]
    _, seen = _talk(env_free, [("Undo which run", "1")], tmp_path)
    listed = re.findall(r"^\s*\d+\. (\S+)", seen, flags=re.MULTILINE)
    assert listed == ["20261130T110000Z-bbbbbb", "20261130T100000Z-aaaaaa"], seen
    assert "20261130T110000Z-bbbbbb  20261130T110000  m  (failed)" in seen
