"""A store folder that is shared, unreadable, not writable, a file, or holds a renamed backup, and an
``s3://`` store without a bucket: real processes, real folders, a real server.

We run as root, whose capabilities bypass file permissions: the commands that must meet them run under
``setpriv`` without those capabilities (still uid 0, so the venv under /root stays readable)."""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path

import psycopg
import pytest

from safemigrate.backup.store import ID_PATTERN
from tests.backup.conftest import S3Server, store_project
from tests.cli_run import run_cli, run_cli_unprivileged

needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="permission tests run as root, with setpriv to drop the capabilities that bypass permissions",
)


def nobody() -> int:
    return pwd.getpwnam("nobody").pw_uid


def take_backup(project: Path, url: str) -> str:
    """One real backup into the project's store (as root, with every capability); its id."""
    done = run_cli(project, "backup", "--database-url", url)
    assert done.returncode == 0, done.stderr
    (backup_id,) = ID_PATTERN.findall(done.stdout)
    return str(backup_id)


def tree(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Every entry under ``folder``: mode, owner and content hash (files), to show nothing changed."""
    found: dict[str, tuple[int, int, str]] = {}
    for path in sorted([folder, *folder.rglob("*")]):
        info = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        found[str(path.relative_to(folder))] = (info.st_mode, info.st_uid, digest)
    return found


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr


@needs_root
def test_a_shared_store_owned_by_another_user_is_used_as_it_is(filled: str, tmp_path: Path) -> None:
    project = store_project(tmp_path / "project", str(tmp_path / "store"))
    store = tmp_path / "store"
    store.mkdir()
    os.chown(store, nobody(), 0)  # nobody:root, writable through the group
    os.chmod(store, 0o2770)
    done = run_cli_unprivileged(project, "backup", "--database-url", filled)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(store.stat().st_mode) == 0o2770 and store.stat().st_uid == nobody()  # not forced to 0700
    (backup_id,) = [p.name for p in store.iterdir()]
    assert stat.S_IMODE((store / backup_id).stat().st_mode) & 0o777 == 0o700  # the backup itself stays private
    listed = run_cli_unprivileged(project, "backups", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert [b["id"] for b in json.loads(listed.stdout)["backups"]] == [backup_id]


@needs_root
def test_a_store_this_user_cannot_write_is_refused_in_one_sentence(filled: str, tmp_path: Path) -> None:
    store = tmp_path / "store"
    project = store_project(tmp_path / "project", str(store))
    store.mkdir()
    os.chown(store, nobody(), 0)
    os.chmod(store, 0o2750)  # the group may read, not write
    done = run_cli_unprivileged(project, "backup", "--database-url", filled)
    assert done.returncode == 1
    assert one_error_line(done).startswith(f"error: The backup store {store} is not writable by this user. ")
    assert "Cannot create" not in done.stderr
    assert list(store.iterdir()) == [] and stat.S_IMODE(store.stat().st_mode) == 0o2750


@needs_root
def test_an_unreadable_store_is_one_sentence_and_nothing_changes(filled: str, tmp_path: Path) -> None:
    project = store_project(tmp_path / "project", "store", retention="")
    store = project / "store"
    take_backup(project, filled)
    with psycopg.connect(filled, autocommit=True) as conn:
        conn.execute("UPDATE account SET email = 'changed since the backup'")
    before = tree(store)
    html = tmp_path / "html"
    commands = [
        ("backups", "list"),
        ("backups", "list", "--format", "json"),
        ("restore", "--latest", "--yes", "--database-url", filled),
        ("runs",),
        ("report", "--html", str(html)),
        ("rollback", "--latest", "--yes", "--database-url", filled),
        ("backups", "prune", "--dry-run"),
        ("backups", "prune"),
    ]
    os.chmod(store, 0)
    try:
        outputs = [(args[:2], run_cli_unprivileged(project, *args)) for args in commands]
    finally:
        os.chmod(store, 0o700)
    for command, done in outputs:
        assert done.returncode == 1, (command, done.stderr)
        line = one_error_line(done)
        assert line.startswith(f"error: Cannot read the backup store {store}: permission denied. "), (command, line)
        assert "read access" in line  # the hint
        assert "delete" not in line, (command, line)  # a dry-run prune deletes nothing
    assert tree(store) == before
    assert not html.exists()
    with psycopg.connect(filled, autocommit=True) as conn:
        assert conn.execute("SELECT email FROM account").fetchall() == [("changed since the backup",)]


@needs_root
def test_another_users_backups_in_a_shared_store_are_listed_as_unreadable(filled: str, tmp_path: Path) -> None:
    project = store_project(tmp_path / "project", "store")
    store = project / "store"
    theirs = take_backup(project, filled)
    partial = store / ".20260101T000000Z-abcdef.partial"
    (partial / "tables").mkdir(parents=True)
    for path in (store / theirs, partial):
        os.chown(path, nobody(), 0)
        os.chmod(path, 0o700)
    os.chmod(store, 0o2770)
    listed = run_cli_unprivileged(project, "backups", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    document = json.loads(listed.stdout)
    (unreadable,) = document["unreadable"]
    assert unreadable["id"] == theirs and "Permission denied" in unreadable["reason"]
    assert document["unfinished"] == [{"id": "20260101T000000Z-abcdef", "location": str(partial), "state": "unknown"}]


def test_a_manifest_naming_another_backup_is_listed_as_unreadable(filled: str, tmp_path: Path) -> None:
    project = store_project(tmp_path / "project", "store")
    store = project / "store"
    taken = take_backup(project, filled)
    renamed = "20991231T235959Z-abcdef"
    (store / taken).rename(store / renamed)
    text = run_cli(project, "backups", "list")
    assert text.returncode == 0, text.stderr
    assert text.stdout.strip() == "No backups that this safemigrate can read."
    expected = f"Its manifest names backup {taken}, not {renamed} (the folder's name)."
    assert text.stderr.startswith(f"warning: backup {renamed} skipped: {expected} "), text.stderr
    listed = run_cli(project, "backups", "list", "--format", "json")
    (unreadable,) = json.loads(listed.stdout)["unreadable"]
    assert unreadable["id"] == renamed and unreadable["reason"] == expected and unreadable["hint"]
    restore = run_cli(project, "restore", "--id", renamed, "--yes", "--database-url", filled)
    assert restore.returncode == 1 and expected in one_error_line(restore)


def test_an_s3_manifest_naming_another_backup_is_listed_as_unreadable(
    filled: str, bucket: str, s3_env: S3Server, tmp_path: Path
) -> None:
    import boto3

    project = store_project(tmp_path / "project", f"s3://{bucket}/p")
    taken = take_backup(project, filled)
    renamed = "20991231T235959Z-abcdef"
    client = boto3.session.Session().client("s3")
    client.copy_object(
        Bucket=bucket,
        Key=f"p/{renamed}/manifest.json",
        CopySource={"Bucket": bucket, "Key": f"p/{taken}/manifest.json"},
    )
    listed = run_cli(project, "backups", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    document = json.loads(listed.stdout)
    assert [b["id"] for b in document["backups"]] == [taken]
    (unreadable,) = document["unreadable"]
    assert unreadable["id"] == renamed
    assert unreadable["reason"] == f"Its manifest names backup {taken}, not {renamed} (the folder's name)."


@pytest.mark.parametrize("where", ["store", "store/backups"])
def test_a_store_that_is_a_file_is_a_usage_error(filled: str, tmp_path: Path, where: str) -> None:
    project = store_project(tmp_path / "project", where)
    (project / "store").write_text("not a folder\n")
    before = tree(project)
    expected = (
        f"error: The backup store {project / 'store'} is a file, not a folder. "
        if where == "store"
        else f"error: The backup store {project / where} is inside {project / 'store'}, which is a file, not a folder. "
    )
    for args in (("backups", "list"), ("backup", "--database-url", filled), ("runs",)):
        done = run_cli(project, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert one_error_line(done).startswith(expected), (args, done.stderr)
        assert done.stdout == ""
    assert tree(project) == before


def test_an_s3_url_without_a_bucket_is_a_usage_error(tmp_path: Path) -> None:
    project = store_project(tmp_path / "project", "s3://")
    done = run_cli(project, "backups", "list")
    assert done.returncode == 2
    assert one_error_line(done).startswith("error: The backup store 's3://' names no bucket. ")
