"""S3 stores (a real S3 protocol server), retention and prune, restore --at, backup --verify."""

from __future__ import annotations

import dataclasses
import json
import os
import pty
import select
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest

from safemigrate.backup.manifest import Manifest, Reason
from safemigrate.backup.project import (
    backup_database,
    backup_setup,
    project_backups,
    prune_backups,
    restore_database,
)
from safemigrate.backup.retention import plan_prune
from safemigrate.backup.select import parse_time
from safemigrate.backup.stores import LocalStore
from safemigrate.backup.verify import SCRATCH_PREFIX, verify_backup
from safemigrate.config import RetentionConfig
from safemigrate.db.fingerprint import fingerprint
from safemigrate.db.url import parse_database_url
from safemigrate.errors import (
    BackupCorruptError,
    BackupNotFoundError,
    BackupStoreError,
    InputError,
)
from tests.backup.conftest import S3Server
from tests.pgserver import PgServer


@pytest.fixture
def filled(database_url: str) -> str:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE account (id serial PRIMARY KEY, email text UNIQUE NOT NULL);"
            "CREATE TABLE invoice (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
            " account_id int NOT NULL REFERENCES account, total numeric(10, 2));"
            "INSERT INTO account (email) SELECT 'user' || i || '@example.com' FROM generate_series(1, 50) i;"
            "INSERT INTO invoice (account_id, total) SELECT 1 + i % 50, i * 1.25 FROM generate_series(1, 300) i;"
        )
    return database_url


def _prints(url: str) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        return fingerprint(conn).to_dict()


def _project(tmp_path: Path, store: str) -> Path:
    (tmp_path / "safemigrate.toml").write_text(f'[backup]\nstore = "{store}"\n')
    return tmp_path


def _keys(bucket: str) -> list[str]:
    import boto3

    listed = boto3.session.Session().client("s3").list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def _backdate(project: Path, manifest: Manifest, when: str, reason: Reason | None = None) -> Manifest:
    """Rewrite a backup's time (and reason) in its manifest, as if it had been taken then."""
    changed = dataclasses.replace(manifest, created_at=when, reason=reason or manifest.reason)
    backup_setup(project, None).store.save_manifest(changed)
    return changed


# --- S3 ---------------------------------------------------------------------------------------------


def test_s3_backup_list_restore_round_trip(filled: str, bucket: str, tmp_path: Path) -> None:
    project = _project(tmp_path, f"s3://{bucket}/team/prod")
    before = _prints(filled)
    taken = backup_database(project, database_url=filled)
    assert taken.location == f"s3://{bucket}/team/prod"
    manifest = taken.manifest
    keys = _keys(bucket)
    assert f"team/prod/{manifest.id}/manifest.json" in keys
    assert all(k.startswith(f"team/prod/{manifest.id}/") for k in keys)
    assert [k for k in keys if "/tables/" in k], keys
    assert not list(tmp_path.rglob("*.zst")), "an S3 backup leaves no local copy in the project"
    assert project_backups(project) == (manifest,)

    with psycopg.connect(filled, autocommit=True) as conn:
        conn.execute("DELETE FROM invoice WHERE id > 10; UPDATE account SET email = 'x' || id")
    result = restore_database(project, database_url=filled)
    assert result.backup_id == manifest.id and {t.name for t in result.tables} == {"account", "invoice"}
    assert _prints(filled) == before


def test_s3_listing_never_shows_an_upload_without_its_manifest(filled: str, bucket: str, tmp_path: Path) -> None:
    import boto3

    project = _project(tmp_path, f"s3://{bucket}")
    half = "20260101T000000Z-abcdef"
    boto3.session.Session().client("s3").put_object(Bucket=bucket, Key=f"{half}/tables/1.copy.zst", Body=b"x")
    assert project_backups(project) == ()
    with pytest.raises(BackupNotFoundError, match=half):
        restore_database(project, backup_id=half, database_url=filled)


def test_s3_corrupted_object_is_refused_before_anything_is_written(filled: str, bucket: str, tmp_path: Path) -> None:
    import boto3

    project = _project(tmp_path, f"s3://{bucket}/p")
    manifest = backup_database(project, database_url=filled).manifest
    client = boto3.session.Session().client("s3")
    key = f"p/{manifest.id}/{manifest.tables[0].file}"
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    client.put_object(Bucket=bucket, Key=key, Body=body[:-7])  # truncated
    with psycopg.connect(filled, autocommit=True) as conn:
        conn.execute("DELETE FROM invoice")
    changed = _prints(filled)
    with pytest.raises(BackupCorruptError):
        restore_database(project, database_url=filled)
    assert _prints(filled) == changed


def test_s3_missing_bucket_stops_before_the_backup_is_taken(filled: str, s3_env: S3Server, tmp_path: Path) -> None:
    project = _project(tmp_path, "s3://no-such-bucket-here/x")
    with pytest.raises(BackupStoreError, match="the bucket 'no-such-bucket-here' does not exist") as caught:
        backup_database(project, database_url=filled)
    assert "Create the bucket" in caught.value.hint


def test_s3_unreachable_endpoint_is_one_sentence_without_secrets(
    filled: str, s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safemigrate.clone.servers import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    project = _project(tmp_path, "s3://bucket/prefix")
    with pytest.raises(BackupStoreError, match=r"^Cannot reach the bucket in s3://bucket/prefix: ") as caught:
        backup_database(project, database_url=filled)
    assert "AWS_ENDPOINT_URL" in caught.value.hint
    assert "test-secret-key" not in str(caught.value) + caught.value.hint


def test_s3_cli_backup_list_and_prune(filled: str, bucket: str, tmp_path: Path, s3_env: S3Server) -> None:
    project = _project(tmp_path, f"s3://{bucket}/cli")
    env = {**os.environ, **s3_env.environ()}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "safemigrate", *args, "--project", str(project)],
            capture_output=True,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    done = run("backup", "--database-url", filled, "--tables", "account")
    assert done.returncode == 0, done.stderr
    assert f"in s3://{bucket}/cli" in done.stdout
    listed = json.loads(run("backups", "list", "--format", "json").stdout)["backups"]
    assert [b["tables"] for b in listed] == [["account"]]
    old = _backdate(project, project_backups(project)[0], "2020-01-01T00:00:00+00:00")
    (tmp_path / "safemigrate.toml").write_text(
        f'[backup]\nstore = "s3://{bucket}/cli"\n[backup.retention]\nkeep_last = 0\nkeep_days = 30\n'
    )
    pruned = run("backups", "prune")
    assert pruned.returncode == 0, pruned.stderr
    assert f"removed {old.id}" in pruned.stdout and "Removed 1 backup" in pruned.stdout
    assert _keys(bucket) == []


# --- retention --------------------------------------------------------------------------------------


def _fake(manifest: Manifest, when: str, kind: str = "manual", migrations: tuple[str, ...] = ()) -> Manifest:
    stamp = parse_time(when)
    return dataclasses.replace(
        manifest,
        id=stamp.strftime("%Y%m%dT%H%M%SZ") + "-000000",
        created_at=stamp.isoformat(),
        reason=Reason(kind, "", migrations),  # type: ignore[arg-type]
    )


def test_retention_keeps_young_newest_and_pre_migrate_backups(filled: str, tmp_path: Path) -> None:
    real = backup_database(_project(tmp_path, "store"), database_url=filled, tables=["account"]).manifest
    now = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
    old_pre_a = _fake(real, "2026-08-01 00:00", "pre-migrate", ("20260801_a",))
    newer_pre_a = _fake(real, "2026-08-02 00:00", "pre-migrate", ("20260801_a",))
    pre_b = _fake(real, "2026-08-03 00:00", "pre-migrate", ("20260803_b",))
    old_manual = [_fake(real, f"2026-09-{day:02d} 00:00") for day in range(1, 8)]
    young = _fake(real, "2026-11-20 00:00")
    backups = [old_pre_a, newer_pre_a, pre_b, *old_manual, young]

    plan = plan_prune(backups, RetentionConfig(keep_days=30, keep_last=5, keep_pre_migrate=True), now)
    reasons = {k.manifest.id: k.reasons for k in plan.kept}
    assert [m.id for m in plan.removed] == [old_pre_a.id, *(m.id for m in old_manual[:3])]
    assert reasons[young.id] == ("younger than 30 days", "one of the newest 5")
    assert reasons[newer_pre_a.id] == ("newest pre-migrate backup of 20260801_a",)
    assert reasons[pre_b.id] == ("newest pre-migrate backup of 20260803_b",)
    assert reasons[old_manual[-1].id] == ("one of the newest 5",)

    nothing_kept = plan_prune(backups, RetentionConfig(keep_days=0, keep_last=0, keep_pre_migrate=False), now)
    assert nothing_kept.kept == () and len(nothing_kept.removed) == len(backups)


def test_prune_dry_run_removes_nothing_and_prune_removes_what_it_printed(filled: str, tmp_path: Path) -> None:
    project = _project(tmp_path, "store")
    taken = [backup_database(project, database_url=filled, tables=["account"]).manifest for _ in range(3)]
    _backdate(project, taken[0], "2026-01-01T00:00:00+00:00", Reason("pre-migrate", "", ("20260101_init",)))
    _backdate(project, taken[1], "2026-01-02T00:00:00+00:00")
    (tmp_path / "safemigrate.toml").write_text('[backup]\nstore = "store"\n[backup.retention]\nkeep_last = 1\n')

    dry = prune_backups(project, dry_run=True)
    assert [m.id for m in dry.removed] == [taken[1].id]
    assert len(project_backups(project)) == 3
    done = prune_backups(project)
    assert [m.id for m in done.removed] == [taken[1].id]
    assert {m.id for m in project_backups(project)} == {taken[0].id, taken[2].id}
    assert not (tmp_path / "store" / taken[1].id).exists()


def test_retention_settings_are_checked(tmp_path: Path) -> None:
    from safemigrate.errors import ConfigError

    (tmp_path / "safemigrate.toml").write_text("[backup.retention]\nkeep_last = -1\n")
    with pytest.raises(ConfigError, match="keep_last must be a whole number"):
        backup_setup(tmp_path, None)
    (tmp_path / "safemigrate.toml").write_text("[backup.retention]\nkeep_weeks = 3\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        backup_setup(tmp_path, None)


# --- restore --at -----------------------------------------------------------------------------------


def test_restore_at_picks_the_newest_backup_at_or_before_the_time(filled: str, tmp_path: Path) -> None:
    project = _project(tmp_path, "store")
    first = backup_database(project, database_url=filled).manifest
    with psycopg.connect(filled, autocommit=True) as conn:
        conn.execute("INSERT INTO account (email) VALUES ('late@example.com')")
    second = backup_database(project, database_url=filled).manifest
    _backdate(project, first, "2026-11-20T10:00:00+00:00")
    _backdate(project, second, "2026-11-20T15:00:00+00:00")

    result = restore_database(project, at=parse_time("2026-11-20 14:00"), database_url=filled)
    assert result.backup_id == first.id and {t.name: t.rows for t in result.tables}["account"] == 50
    result = restore_database(project, at=parse_time("2026-11-20T16:00:00+01:00"), database_url=filled)
    assert result.backup_id == second.id and {t.name: t.rows for t in result.tables}["account"] == 51
    with pytest.raises(BackupNotFoundError, match=r"no backup at or before 2026-11-20 09:59:00 UTC.*oldest is"):
        restore_database(project, at=parse_time("2026-11-20 09:59"), database_url=filled)
    with pytest.raises(InputError, match="is not a date and time"):
        parse_time("yesterday at noon")


def test_restore_at_on_the_command_line(filled: str, tmp_path: Path) -> None:
    project = _project(tmp_path, "store")
    manifest = backup_database(project, database_url=filled).manifest
    _backdate(project, manifest, "2026-11-20T10:00:00+00:00")
    args = [sys.executable, "-m", "safemigrate", "restore", "--project", str(project), "--database-url", filled]
    ok = subprocess.run([*args, "--at", "2026-11-20 10:00", "--yes"], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert f"Restored backup {manifest.id}" in ok.stdout
    both = subprocess.run([*args, "--at", "2026-11-20", "--latest", "--yes"], capture_output=True, text=True)
    assert both.returncode == 2 and "not several" in both.stderr
    early = subprocess.run([*args, "--at", "2026-11-19", "--yes"], capture_output=True, text=True, check=False)
    assert early.returncode != 0 and "no backup at or before 2026-11-19 00:00:00 UTC" in early.stderr
    assert "Traceback" not in early.stderr


# --- backup --verify --------------------------------------------------------------------------------


def _scratch_databases(pg_server: PgServer) -> list[str]:
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (SCRATCH_PREFIX + "%",))
        return [str(r[0]) for r in rows]


def test_backup_verify_marks_the_backup_verified(filled: str, tmp_path: Path, pg_server: PgServer) -> None:
    project = _project(tmp_path, "store")
    before = _prints(filled)
    taken = backup_database(project, database_url=filled, verify=True)
    assert taken.verification is not None and taken.manifest.verified is True
    assert project_backups(project)[0].verified is True
    assert _scratch_databases(pg_server) == []
    assert _prints(filled) == before


def test_backup_verify_in_s3(filled: str, bucket: str, tmp_path: Path) -> None:
    project = _project(tmp_path, f"s3://{bucket}/v")
    taken = backup_database(project, database_url=filled, verify=True)
    assert taken.manifest.verified is True
    assert project_backups(project)[0].verified is True


def test_verify_records_a_corrupted_backup_as_failed(filled: str, tmp_path: Path, pg_server: PgServer) -> None:
    project = _project(tmp_path, "store")
    manifest = backup_database(project, database_url=filled).manifest
    data = tmp_path / "store" / manifest.id / manifest.tables[0].file
    os.chmod(data, 0o600)
    data.write_bytes(data.read_bytes()[:-3])
    with pytest.raises(BackupCorruptError):
        verify_backup(parse_database_url(filled), LocalStore(tmp_path / "store"), manifest)
    assert project_backups(project)[0].verified is False
    assert _scratch_databases(pg_server) == []


def test_verify_without_the_sources_domain_records_nothing(filled: str, tmp_path: Path, pg_server: PgServer) -> None:
    """The scratch database has the source's extensions and collations, not its domains: the check
    cannot run there, which says nothing about the backup, so it is not marked failed."""
    from safemigrate.errors import RestoreRefusedError

    with psycopg.connect(filled, autocommit=True) as conn:
        conn.execute("CREATE DOMAIN email AS text; CREATE TABLE contact (id int PRIMARY KEY, address email)")
    project = _project(tmp_path, "store")
    manifest = backup_database(project, database_url=filled).manifest
    with pytest.raises(RestoreRefusedError) as refused:
        verify_backup(parse_database_url(filled), LocalStore(tmp_path / "store"), manifest)
    assert refused.value.message.startswith(
        f"Backup {manifest.id} is saved, but a scratch database cannot check it: Table 'contact' cannot be "
        'recreated here: type "email" does not exist;'
    )
    assert f"safemigrate restore --id {manifest.id} --to-url" in refused.value.hint
    assert project_backups(project)[0].verified is None
    assert _scratch_databases(pg_server) == []


@pytest.mark.parametrize(
    ("setup", "lacking"),
    [
        (
            "CREATE SEQUENCE order_no; CREATE TABLE contact (id int PRIMARY KEY DEFAULT nextval('order_no'))",
            'relation "order_no" does not exist',  # a sequence no column owns
        ),
        (
            "CREATE SCHEMA ext; CREATE TYPE ext.color AS ENUM ('red'); CREATE TABLE contact (id int, c ext.color)",
            'schema "ext" does not exist',
        ),
    ],
)
def test_verify_without_the_sources_sequence_or_schema_records_nothing(
    filled: str, tmp_path: Path, pg_server: PgServer, setup: str, lacking: str
) -> None:
    from safemigrate.errors import RestoreRefusedError

    with psycopg.connect(filled, autocommit=True) as conn:
        conn.execute(setup)
    project = _project(tmp_path, "store")
    manifest = backup_database(project, database_url=filled).manifest
    with pytest.raises(RestoreRefusedError) as refused:
        verify_backup(parse_database_url(filled), LocalStore(tmp_path / "store"), manifest)
    assert refused.value.message.startswith(
        f"Backup {manifest.id} is saved, but a scratch database cannot check it: Table 'contact' cannot be "
        f"recreated here: {lacking};"
    )
    assert project_backups(project)[0].verified is None
    assert _scratch_databases(pg_server) == []


def test_cli_backup_verify_and_list(filled: str, tmp_path: Path) -> None:
    project = _project(tmp_path, "store")
    args = [sys.executable, "-m", "safemigrate"]
    done = subprocess.run(
        [*args, "backup", "--verify", "--database-url", filled, "--project", str(project)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Verified: restored into a scratch database" in done.stdout
    listed = subprocess.run([*args, "backups", "list", "--project", str(project)], capture_output=True, text=True)
    assert listed.stdout.rstrip().endswith("verified")


# --- the interactive picker -------------------------------------------------------------------------


def _talk(command: list[str], replies: list[tuple[str, str]], cwd: Path) -> tuple[int, str]:
    """Run ``command`` on a pseudo-terminal; answer each prompt (text to wait for, reply)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(command, stdin=follower, stdout=follower, stderr=follower, cwd=cwd, close_fds=True)
    os.close(follower)
    seen = b""
    pending = list(replies)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1)
        if ready:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            if pending and pending[0][0].encode() in seen:
                os.write(leader, (pending.pop(0)[1] + "\n").encode())
                seen += b"\n<answered>\n"
        elif process.poll() is not None:
            break
    os.close(leader)
    return process.wait(timeout=30), seen.decode(errors="replace")


def test_restore_without_a_selector_asks_which_backup_on_a_terminal(filled: str, tmp_path: Path) -> None:
    project = _project(tmp_path, "store")
    older = backup_database(project, database_url=filled, reason=Reason("manual", "older"))
    backup_database(project, database_url=filled, reason=Reason("manual", "newer"))
    with psycopg.connect(filled, autocommit=True) as conn:
        conn.execute("INSERT INTO account (email) VALUES ('added@example.com')")
    command = [sys.executable, "-m", "safemigrate", "restore", "--project", str(project), "--database-url", filled]
    code, seen = _talk(command, [("Restore which backup", "2"), ("replacing their rows?", "y")], tmp_path)
    assert code == 0, seen
    assert "1. " in seen and "newer" in seen and "2. " in seen and "older" in seen
    assert f"Restored backup {older.manifest.id}" in seen
    with psycopg.connect(filled) as conn:
        assert conn.execute("SELECT count(*) FROM account").fetchone() == (50,)


def test_s3_delete_refuses_an_id_that_is_not_a_backup_id(filled: str, bucket: str, tmp_path: Path) -> None:
    from safemigrate.backup.stores import S3Store

    project = _project(tmp_path, f"s3://{bucket}/p")
    backup_database(project, database_url=filled, tables=["account"])
    before = _keys(bucket)
    for bad in ("", "..", "20260101T000000Z-abcdef/.."):
        with pytest.raises(BackupNotFoundError):
            S3Store(bucket, "p").delete(bad)
    assert _keys(bucket) == before
