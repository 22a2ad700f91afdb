"""`rollback` on a real server: a data-losing run undone byte for byte, Prisma's rows marked rolled back."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest

from safemigrate.backup.project import project_backups
from safemigrate.db.fingerprint import fingerprint
from safemigrate.errors import InputError, RestoreRefusedError
from safemigrate.migrations import list_migrations
from safemigrate.pipeline.apply import apply_migrations
from safemigrate.pipeline.migrate import migrate
from safemigrate.pipeline.rollback import RollbackPreview, rollback
from safemigrate.status import APPLIED, ROLLED_BACK, read_status

PATTERNS = Path(__file__).parents[2] / "fixtures" / "patterns"
SEED = """
INSERT INTO "User" (email, nickname) SELECT 'u' || i || '@example.com', 'nick ✓ ' || i FROM generate_series(1, 40) i;
CREATE TABLE profile (id serial PRIMARY KEY, user_id int NOT NULL REFERENCES "User"(id), bio text);
INSERT INTO profile (user_id, bio) SELECT i, 'bio ' || i FROM generate_series(1, 40) i;
CREATE VIEW user_emails AS SELECT id, email FROM "User";
"""


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(PATTERNS / "drop_column", project)
    (project / "safemigrate.toml").write_text(f'[backup]\nstore = "{tmp_path / "backups"}"\n')
    return project


def _prints(url: str) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        document = fingerprint(conn).to_dict()
    return {t["table"]: t for t in document["tables"] if t["table"] != "_prisma_migrations"}


def _states(project: Path, url: str) -> list[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        report = read_status(conn, list_migrations(project / "prisma" / "migrations"), schema="public")
    return [s.state for s in report.migrations]


def test_a_dropped_column_comes_back_byte_for_byte(tmp_path: Path, database_url: str) -> None:
    project = _project(tmp_path)
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
        conn.execute(SEED)
    before = _prints(database_url)
    run = migrate(project, database_url=database_url, allow=("data-loss",))
    assert run.verdict == "applied", run.message
    assert _prints(database_url)["User"] != before["User"]

    previews: list[RollbackPreview] = []
    result = rollback(project, database_url=database_url, confirm=lambda p: previews.append(p) or True)
    (preview,) = previews
    assert {(loss.table, loss.rows_now, loss.rows_in_backup) for loss in preview.losses} == {("User", 40, 40)}
    assert result.run_id == run.id and result.restored == ("User",) and result.rows_marked == 1
    assert _prints(database_url) == before, "every table, the dropped column included, is back"
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM user_emails").fetchone() == (40,), "the view is back"
        keys = conn.execute("SELECT conname FROM pg_constraint WHERE conrelid = 'profile'::regclass AND contype = 'f'")
        assert keys.fetchall() == [("profile_user_id_fkey",)], "the other table's foreign key is back"
    assert _states(project, database_url) == [APPLIED, ROLLED_BACK]

    again = migrate(project, database_url=database_url, allow=("data-loss",))
    assert again.verdict == "applied", "deploy applies a rolled-back migration again"


def test_declining_the_preview_changes_nothing(tmp_path: Path, database_url: str) -> None:
    project = _project(tmp_path)
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
        conn.execute(SEED)
    migrate(project, database_url=database_url, allow=("data-loss",))
    after = _prints(database_url)
    with pytest.raises(InputError, match="cancelled"):
        rollback(project, database_url=database_url, confirm=lambda p: False)
    assert _prints(database_url) == after


def test_nothing_to_roll_back_is_said_plainly(tmp_path: Path, database_url: str) -> None:
    project = _project(tmp_path)
    with pytest.raises(InputError, match="No applied run"):
        rollback(project, database_url=database_url)


def test_prune_never_removes_the_backup_an_applied_run_needs(tmp_path: Path, database_url: str) -> None:
    import dataclasses

    from safemigrate.backup.manifest import Reason
    from safemigrate.backup.project import backup_setup, project_backups, prune_backups

    project = _project(tmp_path)
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
        conn.execute(SEED)
    run = migrate(project, database_url=database_url, allow=("data-loss",))
    (backup,) = project_backups(project)
    # Old, and relabelled manual: no age, count or pre-migrate rule would keep it any more.
    store = backup_setup(project, None).store
    store.save_manifest(dataclasses.replace(backup, created_at="2020-01-01T00:00:00+00:00", reason=Reason("manual")))
    config = project / "safemigrate.toml"
    retention = "[backup.retention]\nkeep_days = 1\nkeep_last = 0\nkeep_pre_migrate = false\n"
    config.write_text(config.read_text() + retention)
    plan = prune_backups(project)
    assert plan.removed == ()
    (kept,) = plan.kept
    assert kept.manifest.id == run.backup_id and f"applied run {run.id}" in kept.reasons[0]


def test_a_run_whose_backup_is_gone_is_a_failed_rollback_not_a_usage_error(tmp_path: Path, database_url: str) -> None:
    """The run id is right; its backup was removed by hand: exit 1 (what was asked cannot be done), the
    database untouched."""
    import subprocess
    import sys

    from safemigrate.errors import EXIT_CHECK_FAILED, BackupError

    project = _project(tmp_path)
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
        conn.execute(SEED)
    run = migrate(project, database_url=database_url, allow=("data-loss",))
    shutil.rmtree(tmp_path / "backups" / str(run.backup_id))
    before = _prints(database_url)
    with pytest.raises(BackupError) as failed:
        rollback(project, database_url=database_url, run_id=run.id, confirm=lambda p: True)
    assert failed.value.exit_code == EXIT_CHECK_FAILED
    assert failed.value.message == f"Run {run.id}'s backup {run.backup_id} is not in {tmp_path / 'backups'} any more."
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "safemigrate",
            "rollback",
            "--run",
            run.id,
            "--yes",
            "--project",
            str(project),
            "--database-url",
            database_url,
        ],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == EXIT_CHECK_FAILED, done.stderr
    assert _prints(database_url) == before


def test_an_index_built_concurrently_after_the_commit_is_rolled_back_too(tmp_path: Path, database_url: str) -> None:
    """The run records the schema changes of its CONCURRENTLY files (they run after the commit), so a
    rollback drops their index on a table outside the backup, and deploy can build it again."""
    project = _project(tmp_path)
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
        conn.execute(SEED)
    folder = project / "prisma" / "migrations" / "20990101000000_profile_bio_index"
    folder.mkdir()
    (folder / "migration.sql").write_text('CREATE INDEX CONCURRENTLY "profile_bio_idx" ON "profile" ("bio");\n')
    run = migrate(project, database_url=database_url, allow=("data-loss",))
    assert run.verdict == "applied", run.message
    assert run.schema_diff is not None
    assert "index_added" in {c.kind for c in run.schema_diff.changes}, "the run records the late index"

    def bio_index(url: str) -> list[tuple[str]]:
        with psycopg.connect(url, autocommit=True) as conn:
            return conn.execute("SELECT indexname FROM pg_indexes WHERE indexname = 'profile_bio_idx'").fetchall()

    assert bio_index(database_url) == [("profile_bio_idx",)]
    result = rollback(project, database_url=database_url, confirm=lambda p: True)
    assert result.restored == ("User",), "profile is outside the backup: only the index is undone there"
    assert bio_index(database_url) == [], "the index built after the commit is gone"
    assert _states(project, database_url) == [APPLIED, ROLLED_BACK, ROLLED_BACK]

    again = migrate(project, database_url=database_url, allow=("data-loss",))
    assert again.verdict == "applied", again.message
    assert bio_index(database_url) == [("profile_bio_idx",)]


def test_a_run_that_added_an_enum_value_is_refused_before_anything_changes(tmp_path: Path, database_url: str) -> None:
    """PostgreSQL cannot remove an enum value: rolling back would leave 'GUEST' behind and the
    migration could never be deployed again, so rollback refuses up front and changes nothing."""
    project = _project(tmp_path)
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
        conn.execute(SEED)
        conn.execute("""CREATE TYPE "Role" AS ENUM ('USER', 'ADMIN')""")
    folder = list_migrations(project / "prisma" / "migrations")[1].path
    (folder / "migration.sql").write_text(
        (folder / "migration.sql").read_text() + """\nALTER TYPE "Role" ADD VALUE 'GUEST';\n"""
    )
    run = migrate(project, database_url=database_url, allow=("data-loss",))
    assert run.verdict == "applied", run.message
    before = _prints(database_url)
    with pytest.raises(RestoreRefusedError, match="cannot remove a value from an enum"):
        rollback(project, database_url=database_url, confirm=lambda p: True)
    assert _prints(database_url) == before
    assert _states(project, database_url) == [APPLIED, APPLIED]


def test_a_backed_up_table_with_an_inheritance_child_outside_the_backup_is_refused(
    tmp_path: Path, database_url: str
) -> None:
    """Dropping and recreating User would take its inheritance child with it: refused, nothing changed."""
    project = _project(tmp_path)
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
        conn.execute(SEED)
    run = migrate(project, database_url=database_url, allow=("data-loss",))
    assert run.verdict == "applied", run.message
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("""CREATE TABLE "Staff" ("badge" int) INHERITS ("User")""")
        conn.execute("""INSERT INTO "Staff" (email, "badge") VALUES ('s@example.com', 7)""")
    before = _prints(database_url)
    with pytest.raises(RestoreRefusedError, match="inherits"):
        rollback(project, database_url=database_url, confirm=lambda p: True)
    assert _prints(database_url) == before
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute('SELECT count(*) FROM ONLY "Staff"').fetchone() == (1,)


def test_a_run_that_backed_up_every_table_is_marked_rolled_back_not_erased(tmp_path: Path, database_url: str) -> None:
    """A DO block makes migrate back up every table; Prisma's _prisma_migrations is not among them, so
    the rollback marks the run's row rolled back instead of restoring the table without it."""
    project = _project(tmp_path)
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
        conn.execute(SEED)
    folder = list_migrations(project / "prisma" / "migrations")[1].path
    (folder / "migration.sql").write_text((folder / "migration.sql").read_text() + "\nDO $$ BEGIN PERFORM 1; END $$;\n")
    run = migrate(project, database_url=database_url, allow=("data-loss", "unchecked"))
    assert run.verdict == "applied", run.message
    (backup,) = project_backups(project)
    names = [t.name for t in backup.tables]
    assert "User" in names and "profile" in names and "_prisma_migrations" not in names
    rollback(project, database_url=database_url, confirm=lambda p: True)
    assert _states(project, database_url) == [APPLIED, ROLLED_BACK]


def _deployed(tmp_path: Path, database_url: str) -> Path:
    project = _project(tmp_path)
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
        conn.execute(SEED)
    run = migrate(project, database_url=database_url, allow=("data-loss",))
    assert run.verdict == "applied", run.message
    return project


@pytest.mark.parametrize(
    "app_write",
    [
        """INSERT INTO "User" (email) VALUES ('late@example.com')""",
        """UPDATE "User" SET email = 'changed@example.com' WHERE id = 7""",  # the count alone would not show it
    ],
)
def test_a_table_written_to_while_the_preview_is_shown_refuses_the_rollback(
    tmp_path: Path, database_url: str, app_write: str
) -> None:
    project = _deployed(tmp_path, database_url)

    def app_writes_then_confirm(preview: RollbackPreview) -> bool:
        with psycopg.connect(database_url, autocommit=True) as app:
            app.execute(app_write.encode())
        return True

    with pytest.raises(RestoreRefusedError, match=r"'User' was written to since the rollback's preview") as caught:
        rollback(project, database_url=database_url, confirm=lambda p: app_writes_then_confirm(p))
    written = _prints(database_url)
    assert "nothing was changed" in caught.value.message
    assert _states(project, database_url) == [APPLIED, APPLIED]
    result = rollback(project, database_url=database_url, confirm=lambda p: True)  # shown again: goes ahead
    assert result.restored == ("User",) and _prints(database_url) != written


def test_ids_handed_out_since_the_run_are_not_handed_out_again(tmp_path: Path, database_url: str) -> None:
    project = _deployed(tmp_path, database_url)
    with psycopg.connect(database_url, autocommit=True) as app:
        app.execute("""INSERT INTO "User" (email) SELECT 'after' || i || '@example.com' FROM generate_series(1, 5) i""")
    rollback(project, database_url=database_url, confirm=lambda p: True)  # the 5 rows are lost, as shown
    with psycopg.connect(database_url, autocommit=True) as app:
        assert app.execute("""SELECT count(*) FROM "User" """).fetchone() == (40,)
        new_id = app.execute("""INSERT INTO "User" (email) VALUES ('next@example.com') RETURNING id""").fetchone()
    assert new_id == (46,), "ids 41-45 went to rows the rollback removed: never again"


def test_rows_of_another_table_referencing_removed_rows_refuse_the_rollback(tmp_path: Path, database_url: str) -> None:
    """profile (not in the backup) gets a row for a user written since the run: putting its foreign key
    back would fail. One sentence, nothing changed, exit 1 (not a raw database error, exit 2)."""
    project = _deployed(tmp_path, database_url)
    with psycopg.connect(database_url, autocommit=True) as app:
        app.execute("""INSERT INTO "User" (id, email) VALUES (500, 'late@example.com')""")
        app.execute("INSERT INTO profile (user_id, bio) VALUES (500, 'late')")
    before = _prints(database_url)
    with pytest.raises(RestoreRefusedError) as caught:
        rollback(project, database_url=database_url, confirm=lambda p: True)
    assert caught.value.message.startswith("Table 'profile' (not in the backup) has rows referencing rows the rollback")
    assert "(user_id)=(500)" in caught.value.message and caught.value.message.endswith("nothing was changed.")
    assert _prints(database_url) == before and _states(project, database_url) == [APPLIED, APPLIED]


def test_a_run_that_renamed_the_serial_column_rolls_back(tmp_path: Path, database_url: str) -> None:
    """The sequences are read by name before the drop: the run renamed the column that owns one."""
    project = _project(tmp_path)
    pending = list_migrations(project / "prisma" / "migrations")[1].sql_path
    pending.write_text(pending.read_text() + 'ALTER TABLE "User" RENAME COLUMN "id" TO "uid";\n')
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
        conn.execute(SEED.partition("CREATE TABLE profile")[0])  # no key into "User"(id) to follow the rename
    before = _prints(database_url)
    run = migrate(project, database_url=database_url, allow=("data-loss", "breaking"))
    assert run.verdict == "applied", run.message
    result = rollback(project, database_url=database_url, confirm=lambda p: True)
    assert result.restored == ("User",) and _prints(database_url) == before
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute("""INSERT INTO "User" (email) VALUES ('new@example.com') RETURNING id""").fetchone() == (
            41,
        )


def test_a_descending_sequence_is_not_moved_back_either(tmp_path: Path, database_url: str) -> None:
    project = _project(tmp_path)
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
        conn.execute("""ALTER SEQUENCE "User_id_seq" INCREMENT BY -1 MINVALUE -1000 RESTART WITH -1""")
        conn.execute("""INSERT INTO "User" (email) SELECT 'u' || i FROM generate_series(1, 3) i""")  # -1, -2, -3
    run = migrate(project, database_url=database_url, allow=("data-loss",))
    assert run.verdict == "applied", run.message
    with psycopg.connect(database_url, autocommit=True) as app:
        app.execute("""INSERT INTO "User" (email) VALUES ('after1'), ('after2')""")  # -4, -5: lost by the rollback
    rollback(project, database_url=database_url, confirm=lambda p: True)
    with psycopg.connect(database_url, autocommit=True) as app:
        assert app.execute("""INSERT INTO "User" (email) VALUES ('next') RETURNING id""").fetchone() == (-6,)


def test_a_rollback_under_another_client_encoding_brings_the_text_back(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pre-migrate backup holds the database's encoding (UTF8) whatever PGCLIENTENCODING says; the
    rollback reads it back in that encoding, so 'nick ✓ 1' is restored as it was."""
    project = _project(tmp_path)
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
        conn.execute(SEED)
    before = _prints(database_url)
    assert migrate(project, database_url=database_url, allow=("data-loss",)).verdict == "applied"
    monkeypatch.setenv("PGCLIENTENCODING", "LATIN1")
    result = rollback(project, database_url=database_url, confirm=lambda _: True)
    assert result.restored == ("User",)
    assert _prints(database_url) == before
