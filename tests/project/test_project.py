from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from safemigrate.errors import ProjectError
from safemigrate.migrations import list_migrations
from safemigrate.project import discover_project

FIXTURES = Path(__file__).parents[2] / "fixtures"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def migration(root: Path, name: str, sql: str = "SELECT 1;") -> None:
    write(root / name / "migration.sql", sql)


def test_default_layout(tmp_path: Path) -> None:
    schema = write(tmp_path / "prisma" / "schema.prisma", 'datasource db { provider = "postgresql" }')
    project = discover_project(tmp_path)
    assert project.schema_path == schema
    assert project.migrations_dir == tmp_path / "prisma" / "migrations"


def test_package_json_schema_key(tmp_path: Path) -> None:
    write(tmp_path / "db" / "main.prisma", "")
    write(tmp_path / "package.json", json.dumps({"name": "x", "prisma": {"schema": "db/main.prisma"}}))
    project = discover_project(tmp_path)
    assert project.schema_path == tmp_path / "db" / "main.prisma"
    assert project.migrations_dir == tmp_path / "db" / "migrations"


def test_prisma_config_ts_is_read_statically(tmp_path: Path) -> None:
    write(tmp_path / "database" / "schema.prisma", "")
    write(
        tmp_path / "prisma.config.ts",
        'import path from "node:path";\nimport { defineConfig } from "prisma/config";\n'
        "// schema: 'wrong.prisma'\n"
        "export default defineConfig({\n  schema: path.join('database', 'schema.prisma'),\n"
        "  migrations: { path: \"database/history\", seed: 'tsx seed.ts' },\n});\n",
    )
    project = discover_project(tmp_path)
    assert project.schema_path == tmp_path / "database" / "schema.prisma"
    assert project.migrations_dir == tmp_path / "database" / "history"
    assert project.prisma_config == tmp_path / "prisma.config.ts"


def test_prisma_config_with_computed_path_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "prisma.config.ts", "export default { schema: process.env.SCHEMA_PATH }\n")
    with pytest.raises(ProjectError, match="cannot read without running TypeScript"):
        discover_project(tmp_path)


def test_multi_file_schema_folder_migrations_beside_datasource(tmp_path: Path) -> None:
    write(tmp_path / "prisma" / "schema" / "models" / "user.prisma", "model User { id Int @id }")
    write(tmp_path / "prisma" / "schema" / "base.prisma", 'datasource db {\n provider = "postgresql"\n}')
    project = discover_project(tmp_path)
    assert project.schema_path == tmp_path / "prisma" / "schema"
    assert project.migrations_dir == tmp_path / "prisma" / "schema" / "migrations"


def test_other_provider_is_refused_like_p3019(tmp_path: Path) -> None:
    write(tmp_path / "prisma" / "schema.prisma", "")
    write(tmp_path / "prisma" / "migrations" / "migration_lock.toml", '# comment\nprovider = "mysql"\n')
    with pytest.raises(ProjectError, match=r'provider "mysql".*only supports PostgreSQL'):
        discover_project(tmp_path)


def test_missing_project_and_schema_messages(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="does not exist"):
        discover_project(tmp_path / "nope")
    with pytest.raises(ProjectError, match="No Prisma schema found"):
        discover_project(tmp_path)


def test_migrations_are_ordered_like_prisma_not_bytewise(tmp_path: Path) -> None:
    root = tmp_path / "migrations"
    for name in ("20240101000000_b", "20240101000000_B", "20240101000000_a_x", "20240101000000_ab"):
        migration(root, name)
    write(root / "migration_lock.toml", 'provider = "postgresql"')
    names = [m.name for m in list_migrations(root)]
    # localeCompare: '_' sorts before letters, lower case before upper case on a tie.
    assert names == ["20240101000000_a_x", "20240101000000_ab", "20240101000000_b", "20240101000000_B"]
    assert sorted(names) != names


def test_checksum_is_sha256_of_the_bytes(tmp_path: Path) -> None:
    data = b'-- CreateTable\r\nCREATE TABLE "A" ("id" INTEGER);\r\n'
    write(tmp_path / "m" / "20240101000000_init" / "migration.sql", "")
    (tmp_path / "m" / "20240101000000_init" / "migration.sql").write_bytes(data)
    (only,) = list_migrations(tmp_path / "m")
    assert only.checksum == hashlib.sha256(data).hexdigest()
    assert only.checksum == only.checksum.lower() and len(only.checksum) == 64


def test_typescript_migration_layout_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "m" / "20250101000000_x" / "migration.ts", "export default {}")
    with pytest.raises(ProjectError, match="newer Prisma migration layout"):
        list_migrations(tmp_path / "m")


def test_non_ascii_names_whose_order_is_ambiguous_are_refused(tmp_path: Path) -> None:
    migration(tmp_path / "m", "20240101000000_é")
    migration(tmp_path / "m", "20240101000000_e")
    with pytest.raises(ProjectError, match="locale"):
        list_migrations(tmp_path / "m")


def test_bundled_blog_fixture_is_discovered() -> None:
    project = discover_project(FIXTURES / "blog")
    assert project.provider == "postgresql"
    migrations = list_migrations(project.migrations_dir)
    assert len(migrations) >= 5
    assert migrations[0].name.endswith("_init")
