"""A folder of the migrations directory without migration.sql is refused, as Prisma refuses it.

Prisma 6.19.3 lists every sub-folder of the migrations directory (hidden ones too; files beside
them, like migration_lock.toml, are skipped) and reads each one's migration.sql: a folder without
it counts as a migration, and `prisma migrate deploy` fails with P3015. safemigrate used to skip
such a folder, so `status`, `plan`, `lint` and `migrate` all said there was nothing to do.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from safemigrate.errors import EXIT_USAGE, ProjectError
from safemigrate.migrations import list_migrations
from tests.cli_run import run_cli
from tests.db.test_status_prisma_cli import FIXTURE, PrismaCli, prisma  # noqa: F401  (the prisma fixture)

INIT = "20240101000000_init"


def _migrations(tmp_path: Path) -> Path:
    root = tmp_path / "migrations"
    (root / INIT).mkdir(parents=True)
    (root / INIT / "migration.sql").write_text('CREATE TABLE "A" ("id" INTEGER);\n')
    (root / "migration_lock.toml").write_text('provider = "postgresql"\n')
    return root


def test_a_misspelt_migration_file_is_refused_naming_the_folder(tmp_path: Path) -> None:
    root = _migrations(tmp_path)
    (root / "20240201000000_add").mkdir()
    (root / "20240201000000_add" / "Migration.sql").write_text('ALTER TABLE "A" ADD COLUMN "b" INTEGER;\n')
    with pytest.raises(ProjectError) as raised:
        list_migrations(root)
    assert f"The folder {root / '20240201000000_add'} in the migrations directory holds no migration.sql" in (
        raised.value.message
    )
    assert "P3015" in raised.value.message
    assert raised.value.hint == "Add its migration.sql (the name is case-sensitive), or remove the folder."


def test_an_empty_folder_and_a_hidden_one_are_refused(tmp_path: Path) -> None:
    root = _migrations(tmp_path)
    (root / "20240201000000_empty").mkdir()
    with pytest.raises(ProjectError, match="20240201000000_empty in the migrations directory holds no migration"):
        list_migrations(root)
    (root / "20240201000000_empty").rmdir()
    (root / ".scratch").mkdir()  # Prisma lists hidden folders too
    with pytest.raises(ProjectError, match=r"\.scratch in the migrations directory holds no migration.sql"):
        list_migrations(root)


def test_files_beside_the_folders_are_still_skipped(tmp_path: Path) -> None:
    root = _migrations(tmp_path)
    (root / "README.md").write_text("notes\n")
    assert [m.name for m in list_migrations(root)] == [INIT]


def test_lint_and_status_refuse_the_folder_on_the_command_line(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(FIXTURE, project)
    (project / "prisma" / "migrations" / "20240201000000_typo").mkdir()
    (project / "prisma" / "migrations" / "20240201000000_typo" / "Migration.sql").write_text("SELECT 1;\n")
    for args in (("lint",), ("status", "--database-url", "postgresql://nobody@127.0.0.1:1/none")):
        completed = run_cli(project, *args)
        assert completed.returncode == EXIT_USAGE, (args, completed.stdout, completed.stderr)
        assert "20240201000000_typo in the migrations directory holds no migration.sql" in completed.stderr, args


@pytest.mark.node
def test_prisma_itself_fails_on_such_a_folder(prisma: PrismaCli, tmp_path: Path, database_url: str) -> None:  # noqa: F811
    """The parallel the refusal names: Prisma counts the folder and its deploy fails with P3015."""
    project = tmp_path / "project"
    shutil.copytree(FIXTURE, project)
    (project / "prisma" / "migrations" / "20240201000000_typo").mkdir()
    (project / "prisma" / "migrations" / "20240201000000_typo" / "Migration.sql").write_text("SELECT 1;\n")
    deployed = prisma.deploy(project, database_url)
    assert deployed.returncode != 0
    assert "P3015" in deployed.stdout + deployed.stderr
    assert "Could not find the migration file at migration.sql" in deployed.stdout + deployed.stderr
