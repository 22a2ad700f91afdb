"""Which backup a restore takes, and which of its tables.

One store may hold the backups of several databases (staging and prod share a bucket): ``--latest``
and ``--at`` choose among the backups of the database they restore into, never another database's
newer one; ``--id`` of another database's backup is refused unless the target is named with
``--to-url``; ``backups list`` says which database each backup is of. A full restore into a database
that has its ``_prisma_migrations`` leaves that table as it is: the restore brings rows back, not
the tables' structure, so rewinding the history would make Prisma re-run applied migrations."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import psycopg
import pytest

from safemigrate.backup.manifest import Manifest
from safemigrate.backup.project import backup_database, backup_setup, restore_database
from safemigrate.backup.select import choose_backup, parse_time
from safemigrate.db.url import parse_database_url
from safemigrate.errors import BackupNotFoundError, RestoreRefusedError
from tests.backup.conftest import store_project
from tests.cli_run import run_cli
from tests.pgserver import PgServer

HISTORY = """
CREATE TABLE "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL, "checksum" VARCHAR(64) NOT NULL, "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL, "logs" TEXT, "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(), "applied_steps_count" INTEGER NOT NULL DEFAULT 0);
CREATE TABLE "User" (id serial PRIMARY KEY, email text NOT NULL);
INSERT INTO "_prisma_migrations" VALUES ('1', 'abc', now(), '20240101000000_init', NULL, NULL, now(), 1);
INSERT INTO "User" (email) VALUES ('a@x');
"""


def _shop(url: str, email: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE account (id int PRIMARY KEY, email text)")
        conn.execute("INSERT INTO account VALUES (1, %s)", (email,))
    return url


def _emails(url: str) -> list[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [str(r[0]) for r in conn.execute("SELECT email FROM account ORDER BY id")]


def _spoil(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE account SET email = 'bad-migration'")


def _where(url: str) -> str:
    return parse_database_url(url).display()


def _backdate(project: Path, manifest: Manifest, when: str) -> Manifest:
    changed = dataclasses.replace(manifest, created_at=when)
    backup_setup(project, None).store.save_manifest(changed)
    return changed


@pytest.fixture
def prod(database_url: str) -> str:
    return _shop(database_url, "prod-user@x")


@pytest.fixture
def staging(other_database: str) -> str:
    return _shop(other_database, "staging-user@x")


# --- --latest and --at: the target's backups only ----------------------------------------------------


def test_latest_restores_the_newest_backup_of_the_target_not_a_newer_one_of_another_database(
    prod: str, staging: str, tmp_path: Path
) -> None:
    """The reviewer's case: one store for staging and prod, a staging backup taken after prod's."""
    project = store_project(tmp_path / "p", str(tmp_path / "store"))
    of_prod = backup_database(project, database_url=prod).manifest
    of_staging = backup_database(project, database_url=staging).manifest
    assert of_staging.created_at > of_prod.created_at
    _spoil(prod)

    done = run_cli(project, "restore", "--latest", "--yes", "--database-url", prod)
    assert done.returncode == 0, done.stderr
    assert f"Restored backup {of_prod.id} into {_where(prod)}:" in done.stdout
    assert _emails(prod) == ["prod-user@x"]
    assert _emails(staging) == ["staging-user@x"]


def test_at_chooses_among_the_backups_of_the_target(prod: str, staging: str, tmp_path: Path) -> None:
    project = store_project(tmp_path / "p", str(tmp_path / "store"))
    of_prod = _backdate(project, backup_database(project, database_url=prod).manifest, "2026-11-20T10:00:00Z")
    _backdate(project, backup_database(project, database_url=staging).manifest, "2026-11-20T12:00:00Z")
    _spoil(prod)

    result = restore_database(project, at=parse_time("2026-11-20 13:00"), database_url=prod)
    assert result.backup_id == of_prod.id and _emails(prod) == ["prod-user@x"]
    # Before prod's backup: there is none of prod that old, whatever staging has.
    with pytest.raises(BackupNotFoundError, match=r"no backup at or before 2026-11-20 09:00:00 UTC of .*oldest is"):
        restore_database(project, at=parse_time("2026-11-20 09:00"), database_url=prod)


def test_latest_without_a_backup_of_the_target_is_refused_naming_the_backups_there_are(
    prod: str, staging: str, tmp_path: Path, pg_server: PgServer
) -> None:
    project = store_project(tmp_path / "p", str(tmp_path / "store"))
    older = backup_database(project, database_url=staging).manifest
    newer = backup_database(project, database_url=staging).manifest
    _spoil(prod)

    for selector in (["--latest"], ["--at", "2999-01-01"]):
        refused = run_cli(project, "restore", *selector, "--yes", "--database-url", prod)
        assert refused.returncode == 2, refused.stderr
        (line,) = refused.stderr.splitlines()
        assert line.startswith("error: There is no backup "), line
        held = f"it holds 2 backups of {_where(staging)} (the newest {newer.id})."
        assert f" of {_where(prod)} in {tmp_path / 'store'}: {held}" in line
        assert f"--id {newer.id} --to-url" in line and older.id not in line
        assert pg_server.password not in refused.stdout + refused.stderr
    assert _emails(prod) == ["bad-migration"]


def test_choose_backup_without_a_target_keeps_choosing_among_all(prod: str, staging: str, tmp_path: Path) -> None:
    """Library callers that name no target (a store's own tools) get the newest of the store, as before."""
    project = store_project(tmp_path / "p", str(tmp_path / "store"))
    backup_database(project, database_url=prod)
    of_staging = backup_database(project, database_url=staging).manifest
    listing = backup_setup(project, None).store.list()
    assert choose_backup(listing, backup_id=None, at=None, location="here").id == of_staging.id


def test_a_host_name_in_another_case_is_the_same_database(prod: str, tmp_path: Path) -> None:
    """Host names are case-insensitive; database and schema names are not."""
    project = store_project(tmp_path / "p", str(tmp_path / "store"))
    manifest = backup_database(project, database_url=prod).manifest
    shouting = dataclasses.replace(manifest, database="DB.Internal:5432/app?schema=public")
    target = "db.internal:5432/app?schema=public"
    assert choose_backup((shouting,), backup_id=None, at=None, location="here", database=target) == shouting
    for other in ("db.internal:5432/App?schema=public", "db.internal:5433/app?schema=public"):
        with pytest.raises(BackupNotFoundError, match="There is no backup of"):
            choose_backup((shouting,), backup_id=None, at=None, location="here", database=other)


# --- --id of another database's backup --------------------------------------------------------------


def test_an_id_of_another_database_is_refused_unless_the_target_is_named_with_to_url(
    prod: str, staging: str, tmp_path: Path, pg_server: PgServer
) -> None:
    project = store_project(tmp_path / "p", str(tmp_path / "store"))
    backup_database(project, database_url=prod)
    of_staging = backup_database(project, database_url=staging).manifest
    _spoil(prod)

    refused = run_cli(project, "restore", "--id", of_staging.id, "--yes", "--database-url", prod)
    assert refused.returncode == 1, refused.stderr
    (line,) = refused.stderr.splitlines()
    assert line.startswith(
        f"error: Backup {of_staging.id} was taken of {_where(staging)}, not of {_where(prod)}, the database "
        "it would restore into; nothing was restored."
    )
    assert "--to-url" in line
    assert pg_server.password not in refused.stdout + refused.stderr
    assert _emails(prod) == ["bad-migration"]
    with pytest.raises(RestoreRefusedError, match="was taken of"):
        restore_database(project, backup_id=of_staging.id, database_url=prod)

    # Named explicitly: done, and the summary says where the backup comes from.
    done = run_cli(project, "restore", "--id", of_staging.id, "--yes", "--to-url", prod)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Restored backup {of_staging.id} (taken of {_where(staging)}) into {_where(prod)}:")
    assert _emails(prod) == ["staging-user@x"]
    assert pg_server.password not in done.stdout + done.stderr


def test_an_id_of_the_same_database_is_restored_as_before(prod: str, tmp_path: Path) -> None:
    project = store_project(tmp_path / "p", str(tmp_path / "store"))
    manifest = backup_database(project, database_url=prod).manifest
    _spoil(prod)
    done = run_cli(project, "restore", "--id", manifest.id, "--yes", "--database-url", prod)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Restored backup {manifest.id} into {_where(prod)}:")
    assert _emails(prod) == ["prod-user@x"]


# --- backups list --------------------------------------------------------------------------------------


def test_backups_list_says_which_database_each_backup_is_of(prod: str, staging: str, tmp_path: Path) -> None:
    project = store_project(tmp_path / "p", str(tmp_path / "store"))
    of_prod = backup_database(project, database_url=prod).manifest
    of_staging = backup_database(project, database_url=staging).manifest
    text = run_cli(project, "backups", "list")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{of_prod.id}  ") and f"  {_where(prod)}  " in lines[0]
    assert lines[1].startswith(f"{of_staging.id}  ") and f"  {_where(staging)}  " in lines[1]
    document = json.loads(run_cli(project, "backups", "list", "--format", "json").stdout)
    assert [b["database"] for b in document["backups"]] == [_where(prod), _where(staging)]


# --- _prisma_migrations ---------------------------------------------------------------------------------


def _history(url: str) -> list[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [str(r[0]) for r in conn.execute("SELECT migration_name FROM _prisma_migrations ORDER BY id")]


def _migrate(url: str) -> None:
    """What `prisma migrate deploy` of a migration adding a column leaves: the column and its history row."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute('ALTER TABLE "User" ADD COLUMN nickname text')
        conn.execute(
            "INSERT INTO _prisma_migrations VALUES "
            "('2', 'def', now(), '20240201000000_add_nickname', NULL, NULL, now(), 1)"
        )
        conn.execute("""UPDATE "User" SET email = 'changed'""")


@pytest.fixture
def prisma_db(database_url: str) -> str:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(HISTORY)
    return database_url


def test_a_full_restore_in_place_keeps_the_migration_history_of_the_schema_it_leaves(
    prisma_db: str, tmp_path: Path
) -> None:
    """The reviewer's case: the column a migration added stays, so its history row must stay too."""
    project = store_project(tmp_path / "p", str(tmp_path / "store"))
    manifest = backup_database(project, database_url=prisma_db).manifest
    _migrate(prisma_db)

    done = run_cli(project, "restore", "--latest", "--yes", "--database-url", prisma_db)
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if "_prisma_migrations" in line]
    assert notes == [
        'note: "_prisma_migrations" was left out: a restore brings back rows, not the tables\' structure, so '
        "the migration history stays as it is, matching the tables; name it in --tables to restore it too."
    ]
    assert 'restore: "_prisma_migrations"' not in done.stderr
    assert done.stdout.startswith(f"Restored backup {manifest.id} into {_where(prisma_db)}: 1 table,")
    assert _history(prisma_db) == ["20240101000000_init", "20240201000000_add_nickname"]
    with psycopg.connect(prisma_db, autocommit=True) as conn:
        assert conn.execute('SELECT email, nickname FROM "User"').fetchall() == [("a@x", None)]

    result = restore_database(project, database_url=prisma_db)
    assert [t.name for t in result.tables] == ["User"]
    assert getattr(result, "left_out", None) == ("_prisma_migrations",)


def test_the_migration_history_is_restored_when_named_in_tables(prisma_db: str, tmp_path: Path) -> None:
    project = store_project(tmp_path / "p", str(tmp_path / "store"))
    backup_database(project, database_url=prisma_db)
    _migrate(prisma_db)
    done = run_cli(
        project, "restore", "--latest", "--tables", "_prisma_migrations", "--yes", "--database-url", prisma_db
    )
    assert done.returncode == 0, done.stderr
    assert "note:" not in done.stderr
    assert _history(prisma_db) == ["20240101000000_init"]


def test_a_restore_into_an_empty_database_recreates_the_migration_history(
    prisma_db: str, other_database: str, tmp_path: Path
) -> None:
    project = store_project(tmp_path / "p", str(tmp_path / "store"))
    manifest = backup_database(project, database_url=prisma_db).manifest
    done = run_cli(project, "restore", "--id", manifest.id, "--yes", "--to-url", other_database)
    assert done.returncode == 0, done.stderr
    assert "note:" not in done.stderr
    assert 'restore: "_prisma_migrations": 1 row (recreated)' in done.stderr
    assert _history(other_database) == ["20240101000000_init"]
