"""`backups prune` keeps the backup of every run `rollback --run` would still undo (a failed run that
committed, an interrupted one); a store that cannot be changed is one sentence, not a traceback;
deletes are marked first, so an interrupted prune is finished by the next one; a manifest whose
time or counts overflow, or whose migrations are not names, is unreadable, not a crash."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from safemigrate.backup.manifest import Manifest
from safemigrate.backup.project import backup_database, backup_setup, project_backups, prune_backups, restore_database
from safemigrate.backup.retention import protected_backups, rollback_accepts
from safemigrate.backup.store import DELETING
from safemigrate.errors import BackupStoreError, InputError
from safemigrate.migrations import list_migrations
from safemigrate.pipeline.apply import apply_migrations
from safemigrate.pipeline.migrate import migrate
from safemigrate.pipeline.rollback import find_run, rollback
from tests.backup.conftest import NO_RETENTION, S3Server, store_project
from tests.cli_run import run_cli

PATTERNS = Path(__file__).parents[2] / "fixtures" / "patterns"


# --- 1. the backups a pending rollback needs ----------------------------------------------------------

CHANGE = {"kind": "column_dropped", "table": "User", "column": "nickname"}
RUN_SHAPES = [
    (verdict, changes)
    for verdict in ("applied", "interrupted", "failed", "refused", "up to date", "rolled back")
    for changes in (None, [], [CHANGE])
]


@pytest.mark.parametrize(("verdict", "changes"), RUN_SHAPES, ids=[f"{v}-{c!r:.8}" for v, c in RUN_SHAPES])
def test_prune_protects_exactly_what_rollback_run_accepts(verdict: str, changes: Any) -> None:
    run = {"id": "r1", "verdict": verdict, "schema_changes": changes, "backup_id": "20260101T000000Z-abcdef"}
    try:
        find_run([run], "r1")
        accepted = True
    except InputError:
        accepted = False
    assert rollback_accepts(run) is accepted
    if accepted:
        assert protected_backups([run]) == {
            "20260101T000000Z-abcdef": f"backup of {verdict} run r1 (what `rollback --run r1` restores)"
        }
    elif verdict == "interrupted":  # its changes could not be read: rollback says to restore from this backup
        assert "20260101T000000Z-abcdef" in protected_backups([run])
    else:
        assert protected_backups([run]) == {}


def _failed_after_commit(tmp_path: Path, url: str) -> tuple[Path, Any]:
    """A real `migrate` that commits a DROP COLUMN, then fails in a CONCURRENTLY migration that only
    fails on this database (its rehearsal in a clone passes): verdict "failed", schema changes recorded."""
    project = tmp_path / "project"
    shutil.copytree(PATTERNS / "drop_column", project)
    (project / "safemigrate.toml").write_text(f'[backup]\nstore = "{tmp_path / "backups"}"\n')
    database = url.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
        conn.execute(
            """INSERT INTO "User" (email, nickname)
               SELECT 'u' || i || '@example.com', 'nick ' || i FROM generate_series(1, 20) i"""
        )
    late = project / "prisma" / "migrations" / "20990101000000_email_idx"
    late.mkdir()
    (late / "migration.sql").write_text(
        'CREATE INDEX CONCURRENTLY "User_email_idx" ON "User" ("email");\n'
        f"SELECT 1 / (current_database() <> '{database}')::int;\n"
    )
    run = migrate(project, database_url=url, allow=("data-loss", "may-fail", "unchecked", "lock"))
    assert run.verdict == "failed" and run.backup_id, run.message
    return project, run


def test_a_failed_run_that_committed_keeps_its_backup_and_rolls_back(tmp_path: Path, database_url: str) -> None:
    project, run = _failed_after_commit(tmp_path, database_url)
    with (project / "safemigrate.toml").open("a") as config:
        config.write(NO_RETENTION)

    pruned = run_cli(project, "backups", "prune")
    assert pruned.returncode == 0, pruned.stderr
    assert f"kept {run.backup_id}: backup of failed run {run.id} (what `rollback --run {run.id}` restores)" in (
        pruned.stderr
    )
    assert [m.id for m in project_backups(project)] == [run.backup_id]

    done = rollback(project, run_id=run.id, database_url=database_url, confirm=lambda preview: True)
    assert done.backup_id == run.backup_id, done
    with psycopg.connect(database_url, autocommit=True) as conn:
        columns = {
            r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'User'")
        }
        assert "nickname" in columns
        assert conn.execute('SELECT count(*) FROM "User" WHERE nickname IS NOT NULL').fetchone() == (20,)


def test_an_interrupted_run_in_the_ledger_keeps_its_backup(filled: str, tmp_path: Path) -> None:
    project = store_project(tmp_path, "store")
    taken = backup_database(project, database_url=filled).manifest
    other = backup_database(project, database_url=filled).manifest
    store = backup_setup(project, None).store
    for run_id, changes in (("run-a", [CHANGE]), ("run-b", None)):  # as migrate writes its record
        record = {"id": run_id, "started_at": "2026-01-01T00:00:00Z", "verdict": "interrupted"}
        store.save_run(run_id, json.dumps({**record, "backup_id": taken.id, "schema_changes": changes}, indent=1))

    plan = prune_backups(project)
    assert [m.id for m in plan.removed] == [other.id]
    (kept,) = plan.kept
    assert kept.manifest.id == taken.id
    assert kept.reasons == ("backup of interrupted run run-b (what `restore` puts back)",), kept.reasons


# --- 2. a store that cannot be changed ------------------------------------------------------------------


@pytest.fixture
def immutable() -> Iterator[Any]:
    """Make folders immutable (chattr +i: refused to root as well); undone afterwards."""
    made: list[Path] = []

    def make(folder: Path) -> None:
        if shutil.which("chattr") is None:
            pytest.skip("chattr is not installed: no way to make a folder unwritable for root")
        done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"chattr +i is not possible here: {done.stderr.strip()}")
        made.append(folder)
        with pytest.raises(PermissionError):  # the restriction is real
            (folder / "probe").mkdir()

    yield make
    for folder in made:
        if folder.exists():  # a test may have moved it, and undone it itself
            subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_prune_in_a_store_that_cannot_be_changed_is_one_sentence(filled: str, tmp_path: Path, immutable: Any) -> None:
    project = store_project(tmp_path, "store")
    first = backup_database(project, database_url=filled).manifest
    store = tmp_path / "store"
    immutable(store)

    with pytest.raises(
        BackupStoreError, match=f"Cannot delete backup {first.id} from {store}: Operation not permitted"
    ):
        prune_backups(project)
    assert [m.id for m in project_backups(project)] == [first.id], "nothing half-deleted"
    assert sorted(os.listdir(store / first.id / "tables"))

    pruned = run_cli(project, "backups", "prune")
    assert pruned.returncode != 0 and "Traceback" not in pruned.stderr
    assert f"Cannot delete backup {first.id}" in pruned.stderr and "Make the store folder writable" in pruned.stderr


def test_a_delete_stopped_halfway_is_finished_by_the_next_prune(filled: str, tmp_path: Path, immutable: Any) -> None:
    project = store_project(tmp_path, "store")
    first = backup_database(project, database_url=filled).manifest
    store = tmp_path / "store"
    immutable(store / first.id / "tables")  # the rename goes through, removing the data files does not

    with pytest.raises(BackupStoreError, match=f"Cannot delete backup {first.id}"):
        prune_backups(project)
    assert project_backups(project) == () and (store / f".{first.id}{DELETING}").is_dir()
    subprocess.run(["chattr", "-i", str(store / f".{first.id}{DELETING}" / "tables")], check=True)

    pruned = run_cli(project, "backups", "prune")
    assert pruned.returncode == 0, pruned.stderr
    assert f"finished removing {first.id} (an earlier prune was interrupted)" in pruned.stdout
    assert not (store / f".{first.id}{DELETING}").exists()


# --- 3. interrupted prunes -------------------------------------------------------------------------------


def test_prune_tells_each_removal_as_it_happens(filled: str, tmp_path: Path) -> None:
    project = store_project(
        tmp_path, "store", "[backup.retention]\nkeep_days = 0\nkeep_last = 1\nkeep_pre_migrate = false\n"
    )
    taken = [backup_database(project, database_url=filled).manifest for _ in range(3)]
    seen: list[tuple[str, list[str]]] = []

    def removed(manifest: Manifest) -> None:
        seen.append((manifest.id, sorted(os.listdir(tmp_path / "store"))))
        if len(seen) == 1:
            raise KeyboardInterrupt  # stopped right after the first removal

    with pytest.raises(KeyboardInterrupt):
        prune_backups(project, on_removed=removed)
    assert seen == [(taken[0].id, sorted([taken[1].id, taken[2].id]))]
    assert [m.id for m in project_backups(project)] == [taken[1].id, taken[2].id]


def test_local_prune_finishes_a_marked_folder_and_leaves_unmarked_ones(filled: str, tmp_path: Path) -> None:
    project = store_project(tmp_path, "store", "[backup.retention]\nkeep_last = 5\n")
    doomed, kept = (backup_database(project, database_url=filled).manifest for _ in range(2))
    store = tmp_path / "store"
    # What an interrupted delete leaves: the folder renamed, part of it removed.
    os.rename(store / doomed.id, store / f".{doomed.id}{DELETING}")
    (store / f".{doomed.id}{DELETING}" / "manifest.json").unlink()
    # A folder without a manifest and no marker may be a backup still being written: never touched.
    writing = store / "20260101T000000Z-0000aa"
    shutil.copytree(store / kept.id / "tables", writing / "tables")

    dry = run_cli(project, "backups", "prune", "--dry-run")
    assert f"would finish removing {doomed.id}" in dry.stdout and (store / f".{doomed.id}{DELETING}").is_dir()
    pruned = run_cli(project, "backups", "prune")
    assert pruned.returncode == 0, pruned.stderr
    assert f"finished removing {doomed.id} (an earlier prune was interrupted)" in pruned.stdout
    assert sorted(os.listdir(store)) == ["20260101T000000Z-0000aa", kept.id]
    assert os.listdir(writing / "tables")
    again = run_cli(project, "backups", "prune", "--format", "json")
    assert json.loads(again.stdout)["finished"] == []


def _s3_keys(bucket: str, prefix: str = "") -> list[str]:
    import boto3

    client = boto3.session.Session().client("s3")
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def test_s3_prune_marks_deletes_and_finishes_an_interrupted_one(
    filled: str, bucket: str, tmp_path: Path, s3_env: S3Server
) -> None:
    import boto3

    client = boto3.session.Session().client("s3")
    project = store_project(tmp_path, f"s3://{bucket}/prod", "[backup.retention]\nkeep_days = 0\nkeep_last = 1\n")
    interrupted, removed, kept = (backup_database(project, database_url=filled).manifest for _ in range(3))
    # What an interrupted delete leaves: the marker, no manifest, part of the data.
    client.put_object(Bucket=bucket, Key=f"prod/{interrupted.id}/{DELETING}", Body=b"")
    client.delete_object(Bucket=bucket, Key=f"prod/{interrupted.id}/manifest.json")
    # A prefix without manifest nor marker may be a backup still being uploaded: never touched.
    uploading = "prod/20260101T000000Z-0000aa/tables/0.copy.zst"
    client.put_object(Bucket=bucket, Key=uploading, Body=b"data")
    assert _s3_keys(bucket, f"prod/{interrupted.id}/")

    pruned = run_cli(project, "backups", "prune", env=dict(os.environ))
    assert pruned.returncode == 0, pruned.stderr
    lines = pruned.stdout.splitlines()
    assert lines[0] == f"finished removing {interrupted.id} (an earlier prune was interrupted)"
    assert lines[1].startswith(f"removed {removed.id}  ")
    assert _s3_keys(bucket, f"prod/{interrupted.id}/") == [] and _s3_keys(bucket, f"prod/{removed.id}/") == []
    assert [m.id for m in project_backups(project)] == [kept.id]
    assert _s3_keys(bucket, "prod/20260101T000000Z-0000aa/") == [uploading]
    assert not [k for k in _s3_keys(bucket) if k.endswith(DELETING)]


# --- 5. manifests whose fields overflow or have the wrong type ------------------------------------------


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ({"created_at": "9999-12-31T23:00:00-05:00"}, "its created_at '9999-12-31T23:00:00-05:00' is not an ISO"),
        ({"tables": "rows"}, "rows inf is not a count (a whole number, 0 or more)"),
        ({"reason": {"kind": "pre-migrate", "text": "", "migrations": [["x"]]}}, "a migration name ['x'] is not text"),
    ],
    ids=["created-at-overflows", "rows-1e999", "migration-not-a-name"],
)
def test_a_manifest_that_overflows_or_has_wrong_types_is_unreadable(
    filled: str, tmp_path: Path, damage: dict[str, Any], reason: str
) -> None:
    project = store_project(tmp_path, "store")
    first, second = (backup_database(project, database_url=filled).manifest for _ in range(2))
    data = second.to_dict()
    if damage == {"tables": "rows"}:
        damage = {"tables": [{**data["tables"][0], "rows": float("inf")}]}  # json writes Infinity; 1e999 reads as it
    path = tmp_path / "store" / second.id / "manifest.json"
    path.write_text(json.dumps({**data, **damage}).replace("Infinity", "1e999"))

    listed = project_backups(project)
    assert list(listed) == [first] and [u.id for u in listed.unreadable] == [second.id]
    assert reason in listed.unreadable[0].reason, listed.unreadable[0].reason
    shown = run_cli(project, "backups", "list")
    assert shown.returncode == 0 and "Traceback" not in shown.stderr, shown.stderr
    assert restore_database(project, backup_id=first.id, database_url=filled).backup_id == first.id
    plan = prune_backups(project)
    assert [m.id for m in plan.removed] == [first.id] and [u.id for u in plan.unreadable] == [second.id]
    assert path.is_file()
