"""Backups that were started and never published: a backup process killed outright (SIGKILL, a power
cut: no exception handler runs) leaves its `.<id>.partial` folder behind, or in S3 data objects without
a manifest. `backups list` says so, `backups prune` removes a local one whose process is gone, and
nothing touches one still being taken, or one whose state cannot be known (S3)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from safemigrate.backup.project import backup_database, project_backups
from safemigrate.backup.store import DELETING, PARTIAL, partial_folder, unfinished_backups
from tests.backup.conftest import S3Server, store_project
from tests.cli_run import run_cli


def _partials(store: Path) -> list[Path]:
    return sorted(p for p in store.iterdir() if p.name.endswith(PARTIAL)) if store.is_dir() else []


@pytest.fixture
def stuck_backup(filled: str, tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str], psycopg.Connection]]:
    """A `safemigrate backup` process whose COPY waits behind another session's ACCESS EXCLUSIVE lock,
    so it sits in the middle of writing its `.partial` folder for as long as the test likes."""
    project = store_project(tmp_path / "project", ".safemigrate/backups")
    store = project / ".safemigrate" / "backups"
    backup_database(project, database_url=filled)  # a published backup, which nothing here may touch
    locker = psycopg.connect(filled)
    locker.execute("LOCK TABLE account IN ACCESS EXCLUSIVE MODE")
    process = subprocess.Popen(
        [sys.executable, "-m", "safemigrate", "backup", "--database-url", filled, "--project", str(project)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        with psycopg.connect(filled, autocommit=True) as watcher:
            # Its partial folder exists and its COPY is queued behind the lock.
            while not (
                any((p / "tables").is_dir() for p in _partials(store))
                and watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'COPY%'"
                ).fetchone()
                == (1,)
            ):
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the backup never reached its COPY"
                time.sleep(0.05)
        yield store, process, locker
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
        locker.close()


def test_a_killed_backup_is_listed_then_removed_by_prune(
    stuck_backup: tuple[Path, subprocess.Popen[str], psycopg.Connection],
) -> None:
    store, process, locker = stuck_backup
    project = store.parents[1]
    published_before = [m.id for m in project_backups(project)]
    [partial] = _partials(store)
    backup_id = partial.name[1 : -len(PARTIAL)]

    process.send_signal(signal.SIGKILL)  # no handler runs: the folder stays
    process.wait()
    locker.rollback()
    assert partial.is_dir()

    listed = run_cli(project, "backups", "list")
    assert listed.returncode == 0, listed.stderr
    assert f"warning: unfinished backup {backup_id} ({partial})" in listed.stderr
    assert "`safemigrate backups prune` removes it" in listed.stderr
    as_json = json.loads(run_cli(project, "backups", "list", "--format", "json").stdout)
    assert as_json["unfinished"] == [{"id": backup_id, "location": str(partial), "state": "abandoned"}]
    assert [b["id"] for b in as_json["backups"]] == published_before

    dry = run_cli(project, "backups", "prune", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"would remove unfinished backup {backup_id}" in dry.stdout
    assert partial.is_dir()

    pruned = run_cli(project, "backups", "prune", "--format", "json")
    assert pruned.returncode == 0, pruned.stderr
    document = json.loads(pruned.stdout)
    assert document["unfinished_removed"] == [{"id": backup_id, "location": str(partial), "state": "abandoned"}]
    assert document["unfinished_left"] == []
    assert not partial.exists()
    assert not (store / f".{backup_id}{DELETING}").exists()
    # NO_RETENTION removes the published one by its rules; the point is the partial went too.
    assert _partials(store) == []


def test_a_backup_being_taken_is_left_alone_and_then_finishes(
    stuck_backup: tuple[Path, subprocess.Popen[str], psycopg.Connection],
) -> None:
    store, process, locker = stuck_backup
    project = store.parents[1]
    [partial] = _partials(store)
    backup_id = partial.name[1 : -len(PARTIAL)]

    listed = run_cli(project, "backups", "list")
    assert f"note: backup {backup_id} is being taken now ({partial})." in listed.stderr
    pruned = run_cli(project, "backups", "prune")
    assert pruned.returncode == 0, pruned.stderr
    assert f"left alone: backup {backup_id} is being taken now" in pruned.stderr
    assert "unfinished" not in pruned.stdout
    assert partial.is_dir()

    locker.rollback()  # the COPY goes on; the backup completes and is published
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert backup_id in [m.id for m in project_backups(project)]
    assert _partials(store) == []


def test_a_folder_not_yet_locked_is_not_taken_for_abandoned(tmp_path: Path) -> None:
    """The writer makes the folder, then locks it, then makes `tables`: an unlocked folder without
    `tables` may be a backup starting, and is never removed."""
    store = tmp_path / "store"
    store.mkdir()
    starting = store / f".20260101T000000Z-abcdef{PARTIAL}"
    starting.mkdir()
    [found] = unfinished_backups(store)
    assert found.state == "in-progress"

    (starting / "tables").mkdir()  # as far as a writer gets once it holds the lock
    [found] = unfinished_backups(store)
    assert found.state == "abandoned"


def test_the_writer_holds_its_folder_until_the_block_ends(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    with partial_folder(store, "20260101T000000Z-abcdef") as folder:
        assert (folder / "tables").is_dir()
        [found] = unfinished_backups(store)
        assert found.state == "in-progress"  # the block holds the lock (flock: per open file, so per holder)
    # The block ended without the caller publishing: nobody holds it now.
    [found] = unfinished_backups(store)
    assert found.state == "abandoned"
    with pytest.raises(KeyboardInterrupt), partial_folder(store, "20260101T000000Z-bcdef0") as failed:
        raise KeyboardInterrupt
    assert not failed.exists()  # a block that fails removes its folder


def test_s3_data_without_a_manifest_is_reported_never_removed(
    filled: str, tmp_path: Path, bucket: str, s3_env: S3Server
) -> None:
    import boto3

    project = store_project(tmp_path / "project", f"s3://{bucket}/team")
    published = backup_database(project, database_url=filled).manifest
    client = boto3.session.Session().client("s3")
    # What an upload killed outright leaves: data objects, the manifest (uploaded last) never came.
    killed = "20260101T000000Z-abcdef"
    client.put_object(Bucket=bucket, Key=f"team/{killed}/tables/0001.copy.zst", Body=b"rows")

    listing = project_backups(project)
    assert [m.id for m in listing] == [published.id]
    [unfinished] = listing.unfinished
    assert (unfinished.id, unfinished.state) == (killed, "unknown")

    env = {**os.environ}
    listed = run_cli(project, "backups", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert f"aws s3 rm --recursive s3://{bucket}/team/{killed}/" in listed.stderr
    pruned = run_cli(project, "backups", "prune", "--format", "json", env=env)
    assert pruned.returncode == 0, pruned.stderr
    document = json.loads(pruned.stdout)
    assert document["unfinished_left"] == [
        {"id": killed, "location": f"s3://{bucket}/team/{killed}/", "state": "unknown"}
    ]
    assert document["unfinished_removed"] == []
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix=f"team/{killed}/").get("Contents", [])]
    assert keys == [f"team/{killed}/tables/0001.copy.zst"]


def test_two_prunes_removing_one_folder_at_once_both_succeed(tmp_path: Path) -> None:
    """Two `backups prune` may finish the same `.deleting` folder together: what the other already
    removed is no error (it was a 'Cannot delete backup ... Make the store folder writable')."""
    import threading

    from safemigrate.backup.store import remove_tree

    for trial in range(3):
        doomed = tmp_path / f".20260101T00000{trial}Z-abcdef{DELETING}"
        for i in range(20):
            (doomed / f"tables{i}").mkdir(parents=True)
            for j in range(100):
                (doomed / f"tables{i}" / f"{j}.copy.zst").write_bytes(b"x")
        errors: list[BaseException] = []

        def remove(folder: Path = doomed, errors: list[BaseException] = errors) -> None:
            try:
                remove_tree(folder)
            except BaseException as err:  # collected for the assertion below
                errors.append(err)

        threads = [threading.Thread(target=remove) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [] and not doomed.exists()


def test_a_folder_that_cannot_be_removed_is_still_an_error(tmp_path: Path) -> None:
    from safemigrate.backup.store import remove_tree

    if os.geteuid() == 0:
        folder = tmp_path / "x"
        folder.mkdir()
        (folder / "f").write_bytes(b"x")
        subprocess.run(["chattr", "+i", str(folder)], check=True)  # immutable: root cannot remove it either
        try:
            with pytest.raises(PermissionError):
                remove_tree(folder)
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder = tmp_path / "x"
        folder.mkdir()
        (folder / "f").write_bytes(b"x")
        folder.chmod(0o500)
        try:
            with pytest.raises(PermissionError):
                remove_tree(folder)
        finally:
            folder.chmod(0o700)
