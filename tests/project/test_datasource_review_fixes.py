"""Review fixes for finding the migration URL: a prisma.config.ts that configures a driver adapter.

With a driver adapter (Prisma 6: ``experimental: { adapter: true }``, ``engine: "js"``,
``adapter: async () => new PrismaPg(...)``), Prisma Migrate connects through the adapter and ignores
the schema's ``url`` ("The values from your schema will NOT be used!"). The adapter's URL is computed
by TypeScript, so safemigrate refuses to guess and asks for ``--database-url``.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from safemigrate.db.datasource import config_adapter, resolve_database_url
from safemigrate.errors import EXIT_USAGE, DatabaseUrlError, ProjectError
from safemigrate.project import Project, discover_project
from tests.cli_run import run_cli

SCHEMA = """\
datasource db {
  provider = "postgresql"
  url      = env("DATABASE_URL")
}

model A {
  id Int @id
}
"""
ADAPTER_CONFIG = """\
import "dotenv/config";
import { defineConfig } from "prisma/config";
import { PrismaPg } from "@prisma/adapter-pg";

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: "prisma/schema.prisma",
  adapter: async () => new PrismaPg({ connectionString: process.env.MIGRATE_DATABASE_URL }),
});
"""
MIGRATION = 'CREATE TABLE "A" ("id" INTEGER NOT NULL, CONSTRAINT "A_pkey" PRIMARY KEY ("id"));\n'
PRISMA_OFFLINE_CONFIG = Path(__file__).resolve().parents[3] / "shared" / "prisma-offline" / "prisma.config.ts"


def adapter_project(root: Path, config: str = ADAPTER_CONFIG) -> Project:
    write_project(root, config)
    return discover_project(root)


def write_project(root: Path, config: str) -> None:
    (root / "prisma" / "migrations" / "20240101000000_init").mkdir(parents=True)
    (root / "prisma" / "schema.prisma").write_text(SCHEMA)
    (root / "prisma" / "migrations" / "20240101000000_init" / "migration.sql").write_text(MIGRATION)
    (root / "prisma" / "migrations" / "migration_lock.toml").write_text('provider = "postgresql"\n')
    (root / "package.json").write_text('{"name": "app"}')
    (root / "prisma.config.ts").write_text(config)


def test_adapter_config_is_refused_instead_of_using_the_schema_url(tmp_path: Path) -> None:
    found = adapter_project(tmp_path)
    environ = {"DATABASE_URL": "postgresql://u:p@schema-host/app", "MIGRATE_DATABASE_URL": "postgresql://u:p@a/b"}
    with pytest.raises(DatabaseUrlError) as info:
        resolve_database_url(found, environ=environ)
    assert info.value.message == (
        "prisma.config.ts configures a driver adapter (adapter), so Prisma connects through it, with a URL "
        "safemigrate cannot read without running TypeScript, and does not use the schema's url."
    )
    assert "--database-url" in info.value.hint and "?schema=" in info.value.hint
    assert info.value.exit_code == EXIT_USAGE
    given = resolve_database_url(found, database_url="postgresql://u:p@adapter-host/app", environ=environ)
    assert given.host == "adapter-host" and given.source == "--database-url"


@pytest.mark.parametrize(
    ("body", "mark"),
    [
        ("  async adapter() {\n    return new PrismaPg({ connectionString: process.env.X });\n  },\n", "adapter"),
        ("  adapter,\n", "adapter"),
        ('  "adapter": makeAdapter,\n', "adapter"),
        ("  experimental: { adapter: true },\n", "adapter"),
        ("  engine: 'js',\n", 'engine: "js"'),
    ],
)
def test_every_way_of_configuring_an_adapter_is_seen(tmp_path: Path, body: str, mark: str) -> None:
    config = tmp_path / "prisma.config.ts"
    config.write_text(f'import {{ defineConfig }} from "prisma/config";\nexport default defineConfig({{\n{body}}});\n')
    assert config_adapter(config) == mark


@pytest.mark.parametrize(
    "body",
    [
        "  experimental: { adapter: false },\n",
        '  engine: "classic",\n',
        "  // adapter: async () => new PrismaPg({ connectionString: process.env.X }),\n",
        '  schema: "prisma/schema.prisma",\n',
    ],
)
def test_configs_without_an_adapter_still_use_the_schema_url(tmp_path: Path, body: str) -> None:
    config = (
        'import { defineConfig } from "prisma/config";\nimport { PrismaPg as adapter } from "@prisma/adapter-pg";\n'
        f"export default defineConfig({{\n{body}}});\n"
    )
    found = adapter_project(tmp_path, config)
    url = resolve_database_url(found, environ={"DATABASE_URL": "postgresql://u:p@schema-host/app"})
    assert url.host == "schema-host"


def test_the_prisma_offline_config_is_refused(tmp_path: Path) -> None:
    """The real adapter config of ../shared/prisma-offline: ``async adapter() {...}``, and a computed
    ``schema`` that --schema overrides (its hint says so; the config is then not asked for it)."""
    if not PRISMA_OFFLINE_CONFIG.is_file():
        pytest.skip(f"{PRISMA_OFFLINE_CONFIG} is not here")
    write_project(tmp_path, PRISMA_OFFLINE_CONFIG.read_text())
    with pytest.raises(ProjectError, match="sets `schema` with an expression"):
        discover_project(tmp_path)
    found = discover_project(tmp_path, tmp_path / "prisma" / "schema.prisma")
    assert found.migrations_dir == tmp_path / "prisma" / "migrations"
    with pytest.raises(DatabaseUrlError, match="driver adapter"):
        resolve_database_url(found, environ={"DATABASE_URL": "postgresql://u:p@h/app"})


@pytest.mark.parametrize("command", ["status", "migrate"])
def test_status_and_migrate_leave_the_schema_url_database_alone(
    tmp_path: Path, database_url: str, command: str
) -> None:
    adapter_project(tmp_path)
    args = [command, "--yes"] if command == "migrate" else [command]
    result = run_cli(tmp_path, *args, env={"DATABASE_URL": database_url, "CI": "true"})
    assert result.returncode == EXIT_USAGE, result.stdout + result.stderr
    assert "driver adapter" in result.stderr and "--database-url" in result.stderr
    with psycopg.connect(database_url) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
    assert tables == (0,)
