"""A manifest that cannot be read (newer format, damaged, a created_at that is no time) hides no other
backup; an empty --tables is refused by restore as by backup; `backups list` counts "1 table"."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import psycopg
import pytest

from safemigrate.backup.manifest import Manifest
from safemigrate.backup.project import backup_database, project_backups, prune_backups, restore_database
from safemigrate.backup.store import BackupListing, list_backups
from safemigrate.errors import BackupFormatError
from tests.backup.conftest import NO_RETENTION, S3Server
from tests.cli_run import run_cli


def _project(tmp_path: Path, store: str, retention: str = "") -> Path:
    (tmp_path / "safemigrate.toml").write_text(f'[backup]\nstore = "{store}"\n{retention}')
    return tmp_path


def _emails(url: str) -> list[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [str(r[0]) for r in conn.execute("SELECT email FROM account ORDER BY id")]


def _two_backups(project: Path, url: str) -> tuple[Manifest, Manifest]:
    first = backup_database(project, database_url=url).manifest
    second = backup_database(project, database_url=url).manifest
    assert first.id != second.id
    return first, second


def _newer_format(manifest: Manifest) -> str:
    return json.dumps({**manifest.to_dict(), "version": 2})


def _with_created_at(manifest: Manifest, created_at: Any) -> str:
    return json.dumps({**manifest.to_dict(), "created_at": created_at})


# --- the listing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_newer_format, "format version 2, newer than this safemigrate reads"),
        (lambda m: "", "Cannot read the manifest"),
        (lambda m: _with_created_at(m, 1764480000), "its created_at 1764480000 is not an ISO 8601 time"),
        (lambda m: _with_created_at(m, "30 Nov 2026"), "its created_at '30 Nov 2026' is not an ISO 8601 time"),
    ],
    ids=["newer-format", "empty", "numeric-created-at", "non-iso-created-at"],
)
def test_an_unreadable_manifest_is_skipped_and_blocks_no_other_backup(
    filled: str, tmp_path: Path, damage: Any, reason: str
) -> None:
    project = _project(tmp_path, "store", NO_RETENTION)
    first, second = _two_backups(project, filled)
    (tmp_path / "store" / second.id / "manifest.json").write_text(damage(second))

    listed = project_backups(project)
    assert isinstance(listed, BackupListing) and listed == (first,)
    (skipped,) = listed.unreadable
    assert skipped.id == second.id and reason in skipped.reason
    assert list_backups(tmp_path / "store").unreadable == listed.unreadable

    with psycopg.connect(filled, autocommit=True) as conn:
        conn.execute("UPDATE account SET email = 'changed'")
    assert restore_database(project, backup_id=first.id, database_url=filled).backup_id == first.id
    assert _emails(filled) == ["a"]
    with pytest.raises(BackupFormatError, match=reason) as named:
        restore_database(project, backup_id=second.id, database_url=filled)
    assert "--at" not in str(named.value)
    # The newest backup is the unreadable one: --latest must not restore the older one in its place.
    with pytest.raises(BackupFormatError, match=f"{second.id} would be the one to restore, but it cannot be read"):
        restore_database(project, database_url=filled)

    plan = prune_backups(project)
    assert [m.id for m in plan.removed] == [first.id]
    assert [u.id for u in plan.unreadable] == [second.id]
    assert (tmp_path / "store" / second.id).is_dir() and not (tmp_path / "store" / first.id).exists()


def test_s3_an_unreadable_manifest_is_skipped_and_never_pruned(filled: str, bucket: str, tmp_path: Path) -> None:
    import boto3

    project = _project(tmp_path, f"s3://{bucket}/p", NO_RETENTION)
    first, second = _two_backups(project, filled)
    client = boto3.session.Session().client("s3")
    client.put_object(Bucket=bucket, Key=f"p/{second.id}/manifest.json", Body=_newer_format(second).encode())

    listed = project_backups(project)
    assert isinstance(listed, BackupListing) and listed == (first,)
    assert [(u.id, u.hint) for u in listed.unreadable] == [(second.id, "Upgrade safemigrate to restore it.")]
    assert restore_database(project, backup_id=first.id, database_url=filled).backup_id == first.id
    with pytest.raises(BackupFormatError, match="format version 2"):
        restore_database(project, backup_id=second.id, database_url=filled)

    plan = prune_backups(project)
    assert [m.id for m in plan.removed] == [first.id] and [u.id for u in plan.unreadable] == [second.id]
    keys = [item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert f"p/{second.id}/manifest.json" in keys and not [k for k in keys if first.id in k]


def test_restore_at_refuses_when_the_backup_it_means_cannot_be_read(filled: str, tmp_path: Path) -> None:
    import dataclasses

    from safemigrate.backup.project import backup_setup
    from safemigrate.backup.select import parse_time

    project = _project(tmp_path, "store")
    first, second = _two_backups(project, filled)
    backup_setup(project, None).store.save_manifest(dataclasses.replace(first, created_at="2000-01-01T00:00:00Z"))
    (tmp_path / "store" / second.id / "manifest.json").write_text(_newer_format(second))
    # Before the unreadable backup was taken: the older one is the one meant.
    assert restore_database(project, at=parse_time("2000-01-02"), database_url=filled).backup_id == first.id
    with pytest.raises(BackupFormatError, match=f"{second.id} would be the one to restore.*newest readable one is"):
        restore_database(project, at=parse_time(second.created_at), database_url=filled)


# --- the commands -----------------------------------------------------------------------------------


def test_cli_list_prune_and_restore_with_an_unreadable_backup(filled: str, tmp_path: Path) -> None:
    project = _project(tmp_path, "store", NO_RETENTION)
    first, second = _two_backups(project, filled)
    (tmp_path / "store" / second.id / "manifest.json").write_text(_with_created_at(second, 1764480000))

    text = run_cli(project, "backups", "list")
    assert text.returncode == 0, text.stderr
    assert "Traceback" not in text.stderr
    assert text.stderr.splitlines() == [
        f"warning: backup {second.id} skipped: {tmp_path / 'store' / second.id / 'manifest.json'} is damaged: "
        "its created_at 1764480000 is not an ISO 8601 time."
    ]
    assert first.id in text.stdout and second.id not in text.stdout
    document = json.loads(run_cli(project, "backups", "list", "--format", "json").stdout)
    assert [b["id"] for b in document["backups"]] == [first.id]
    assert [u["id"] for u in document["unreadable"]] == [second.id]
    assert "not an ISO 8601 time" in document["unreadable"][0]["reason"]

    named = run_cli(project, "restore", "--id", second.id, "--yes", "--database-url", filled)
    assert named.returncode == 1 and named.stderr.count("\n") == 1 and "--at" not in named.stderr
    assert "created_at 1764480000 is not an ISO 8601 time" in named.stderr
    valid = run_cli(project, "restore", "--id", first.id, "--yes", "--database-url", filled)
    assert valid.returncode == 0, valid.stderr

    pruned = run_cli(project, "backups", "prune")
    assert pruned.returncode == 0, pruned.stderr
    assert "Traceback" not in pruned.stderr
    assert f"kept {second.id}: its manifest cannot be read, so it is never pruned" in pruned.stderr
    assert pruned.stdout.splitlines()[-1].endswith("kept 0 and 1 that cannot be read.")
    assert (tmp_path / "store" / second.id).is_dir()


def test_s3_cli_list_says_which_backup_it_skipped(filled: str, bucket: str, tmp_path: Path, s3_env: S3Server) -> None:
    import boto3

    project = _project(tmp_path, f"s3://{bucket}")
    first, second = _two_backups(project, filled)
    boto3.session.Session().client("s3").put_object(Bucket=bucket, Key=f"{second.id}/manifest.json", Body=b"{")
    listed = run_cli(project, "backups", "list", "--format", "json", env={**os.environ, **s3_env.environ()})
    assert listed.returncode == 0, listed.stderr
    document = json.loads(listed.stdout)
    assert [b["id"] for b in document["backups"]] == [first.id]
    assert [u["id"] for u in document["unreadable"]] == [second.id]
    assert document["unreadable"][0]["reason"].startswith(f"Cannot read the manifest s3://{bucket}/{second.id}/")


def test_restore_refuses_an_empty_tables_like_backup(filled: str, tmp_path: Path) -> None:
    project = _project(tmp_path, "store")
    backup_database(project, database_url=filled)
    with psycopg.connect(filled, autocommit=True) as conn:
        conn.execute("UPDATE account SET email = 'changed'")
    for tables in ("", " , "):
        restored = run_cli(project, "restore", "--latest", "--tables", tables, "--yes", "--database-url", filled)
        taken = run_cli(project, "backup", "--tables", tables, "--database-url", filled)
        for refused in (restored, taken):
            assert refused.returncode == 2 and refused.stdout == ""
            assert refused.stderr.startswith(f"error: --tables {tables!r} names no table.")
            assert refused.stderr.count("\n") == 1
    assert _emails(filled) == ["changed"]
    assert len(project_backups(project)) == 1


def test_backups_list_says_1_table(filled: str, tmp_path: Path) -> None:
    project = _project(tmp_path, "store")
    backup_database(project, database_url=filled)
    listed = run_cli(project, "backups", "list")
    assert listed.returncode == 0, listed.stderr
    assert "  1 table (account)  " in listed.stdout and "1 tables" not in listed.stdout


@pytest.mark.parametrize("text", ["[1, 2]", '"a run"', "null", "{broken"])
def test_a_run_record_that_is_no_json_object_is_a_one_line_error(tmp_path: Path, text: str) -> None:
    from safemigrate.backup.stores import RUNS, LocalStore

    (tmp_path / RUNS).mkdir()
    (tmp_path / RUNS / "20260101T000000Z-abcd.json").write_text(text)
    with pytest.raises(BackupFormatError) as caught:
        LocalStore(tmp_path).list_runs()
    assert "20260101T000000Z-abcd.json" in caught.value.message
    assert "\n" not in caught.value.message


def test_a_run_record_in_s3_that_is_no_json_object_is_a_one_line_error(bucket: str) -> None:
    import boto3

    from safemigrate.backup.stores import RUNS, S3Store

    boto3.client("s3").put_object(Bucket=bucket, Key=f"p/{RUNS}/20260101T000000Z-abcd.json", Body=b"[1]")
    with pytest.raises(BackupFormatError) as caught:
        S3Store(bucket, "p").list_runs()
    assert "20260101T000000Z-abcd.json" in caught.value.message
