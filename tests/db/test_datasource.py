"""Finding the migration URL as Prisma does, in real project folders with real .env files."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from safemigrate.db.datasource import prisma_env, read_config_datasource, resolve_database_url
from safemigrate.errors import DatabaseUrlError
from safemigrate.project import Project, discover_project

DATASOURCE = """\
datasource db {
  provider  = "postgresql"
  url       = env("DATABASE_URL")
}
"""
DIRECT = """\
datasource db {
  provider  = "postgresql"
  url       = env("DATABASE_URL")   // the pooled one, used by the app
  directUrl = env("DIRECT_URL")     // Prisma Migrate connects through this one
}
"""


def project(
    root: Path, schema: str = DATASOURCE, *, package: bool = True, files: dict[str, str] | None = None
) -> Project:
    (root / "prisma").mkdir(parents=True, exist_ok=True)
    (root / "prisma" / "schema.prisma").write_text(schema + "\nmodel A {\n  id Int @id\n}\n")
    if package:
        (root / "package.json").write_text('{"name": "app"}')
    for name, text in (files or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return discover_project(root)


def test_url_from_root_env_file(tmp_path: Path) -> None:
    found = project(tmp_path, files={".env": "DATABASE_URL=postgresql://u:pw-root@root-host:5432/app?schema=s\n"})
    url = resolve_database_url(found, environ={})
    assert (url.host, url.database, url.schema, url.password) == ("root-host", "app", "s", "pw-root")
    assert url.source == "DATABASE_URL (url in prisma/schema.prisma; value from .env)"


def test_direct_url_is_used_for_migrations_and_the_pooled_url_is_not_refused(tmp_path: Path) -> None:
    found = project(
        tmp_path,
        DIRECT,
        files={
            ".env": """\
                DATABASE_URL="postgresql://u:pw@ep-x-pooler.eu-central-1.aws.neon.tech/app?pgbouncer=true"
                DIRECT_URL="postgresql://u:pw@ep-x.eu-central-1.aws.neon.tech/app"
                """
        },
    )
    url = resolve_database_url(found, environ={})
    assert url.host == "ep-x.eu-central-1.aws.neon.tech" and not url.pooled
    assert url.source.startswith("DIRECT_URL (directUrl in prisma/schema.prisma")


def test_pooled_url_without_direct_url_is_refused(tmp_path: Path) -> None:
    found = project(tmp_path, files={".env": "DATABASE_URL=postgresql://u:pw@db.supabase.co:6543/postgres\n"})
    with pytest.raises(DatabaseUrlError, match="directUrl") as info:
        resolve_database_url(found, environ={})
    assert "pw" not in str(info.value).replace("pooler", "")
    assert resolve_database_url(found, environ={}, for_migration=False).port == 6543  # read-only use may


def test_process_environment_wins_over_env_files(tmp_path: Path) -> None:
    found = project(tmp_path, files={".env": "DATABASE_URL=postgresql://u:p@from-file/app\n"})
    url = resolve_database_url(found, environ={"DATABASE_URL": "postgresql://u:p@from-env/app"})
    assert url.host == "from-env" and "value from the environment" in url.source


def test_database_url_option_wins(tmp_path: Path) -> None:
    found = project(tmp_path, files={".env": "DATABASE_URL=postgresql://u:p@from-file/app\n"})
    url = resolve_database_url(found, database_url="postgresql://u:p@from-option/app", environ={})
    assert url.host == "from-option" and url.source == "--database-url"
    with pytest.raises(DatabaseUrlError, match="directUrl"):
        resolve_database_url(None, database_url="postgresql://u:p@h:6543/app")


def test_root_and_schema_env_files_load_as_prisma_loads_them(tmp_path: Path) -> None:
    # Different values are no conflict to Prisma: the root file's wins; the schema file adds the rest.
    found = project(
        tmp_path,
        DIRECT,
        files={
            ".env": "DATABASE_URL=postgresql://u:p@root-host/app\n",
            "prisma/.env": "DATABASE_URL=postgresql://u:p@schema-host/app\nDIRECT_URL=postgresql://u:p@direct-host/app\n",
        },
    )
    env = prisma_env(found, {})
    assert env.values["DATABASE_URL"] == "postgresql://u:p@root-host/app"
    assert (env.origin["DATABASE_URL"], env.origin["DIRECT_URL"]) == (".env", "prisma/.env")
    url = resolve_database_url(found, environ={})
    assert url.host == "direct-host" and "value from prisma/.env" in url.source


def test_same_variable_with_the_same_value_in_both_files_is_prisma_conflict(tmp_path: Path) -> None:
    # Verified with Prisma 6.19: "There is a conflict between env var in .env and prisma/.env".
    same = "DATABASE_URL=postgresql://u:topsecret@h/app\n"
    found = project(tmp_path, files={".env": same, "prisma/.env": same})
    with pytest.raises(
        DatabaseUrlError, match=r"conflict between env vars in \.env and prisma/\.env: DATABASE_URL"
    ) as info:
        resolve_database_url(found, environ={})
    assert "topsecret" not in str(info.value) and "\n" not in str(info.value)


def test_without_package_json_only_the_schema_side_env_file_counts(tmp_path: Path) -> None:
    found = project(tmp_path, package=False, files={".env": "DATABASE_URL=postgresql://u:p@cwd-host/app\n"})
    assert resolve_database_url(found, environ={}).host == "cwd-host"  # ./.env is the last schema candidate
    (tmp_path / "prisma" / ".env").write_text("DATABASE_URL=postgresql://u:p@schema-host/app\n")
    assert resolve_database_url(found, environ={}).host == "schema-host"  # beside the schema comes first


def test_package_json_above_the_project_gives_the_root_env(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"name": "monorepo"}')
    (tmp_path / ".env").write_text("DATABASE_URL=postgresql://u:p@monorepo-host/app\n")
    found = project(tmp_path / "apps" / "api", package=False)
    url = resolve_database_url(found, environ={})
    assert url.host == "monorepo-host"


def test_a_package_json_with_a_byte_order_mark_still_marks_the_root_env(tmp_path: Path) -> None:
    """npm and node read a package.json that starts with a UTF-8 BOM; so does Prisma's root lookup."""
    (tmp_path / "package.json").write_bytes(b'\xef\xbb\xbf{"name": "monorepo"}')
    (tmp_path / ".env").write_text("DATABASE_URL=postgresql://u:p@monorepo-host/app\n")
    found = project(tmp_path / "apps" / "api", package=False)
    assert resolve_database_url(found, environ={}).host == "monorepo-host"


def test_variables_expand_like_prisma_dotenv_expand(tmp_path: Path) -> None:
    found = project(
        tmp_path,
        files={
            ".env": """\
                DB_USER=app
                DB_HOST=expanded-host
                DATABASE_URL="postgresql://${DB_USER}:${DB_PASSWORD}@${DB_HOST}:5432/app?schema=\\${literal}"
                """
        },
    )
    url = resolve_database_url(found, environ={"DB_PASSWORD": "from-env"})
    assert (url.user, url.password, url.host) == ("app", "from-env", "expanded-host")
    assert url.schema == "${literal}"


def test_schema_folder_uses_the_file_holding_the_datasource(tmp_path: Path) -> None:
    folder = tmp_path / "prisma" / "schema"
    folder.mkdir(parents=True)
    (folder / "a_models.prisma").write_text("model A {\n  id Int @id\n}\n")
    (folder / "main.prisma").write_text(DATASOURCE.replace("DATABASE_URL", "PG_URL"))
    (tmp_path / "prisma" / ".env").write_text("PG_URL=postgresql://u:p@folder-host/app\n")
    url = resolve_database_url(discover_project(tmp_path), environ={})
    assert url.host == "folder-host" and "url in prisma/schema/main.prisma" in url.source


def test_literal_url_comments_and_certificate_folder(tmp_path: Path) -> None:
    schema = """\
datasource db {
  provider = "postgresql"
  // url = env("COMMENTED_OUT")
  url      = "postgresql://u:p@literal-host:5433/app?sslmode=require&sslcert=ca.pem" // a comment
}
"""
    found = project(tmp_path, schema)
    url = resolve_database_url(found, environ={})
    assert (url.host, url.port) == ("literal-host", 5433) and url.source == "the url in prisma/schema.prisma"
    assert dict(url.params)["sslrootcert"] == str(tmp_path / "prisma" / "ca.pem")


def test_missing_variable_is_named(tmp_path: Path) -> None:
    found = project(tmp_path)
    with pytest.raises(DatabaseUrlError, match=r"Environment variable not found: DATABASE_URL \(url in prisma/schema"):
        resolve_database_url(found, environ={})
    found = project(tmp_path / "other", DIRECT, files={".env": "DIRECT_URL=postgresql://u:p@h/app\n"})
    with pytest.raises(DatabaseUrlError, match="Environment variable not found: DATABASE_URL"):
        resolve_database_url(found, environ={})  # Prisma checks every env() of the datasource


def test_other_providers_are_refused(tmp_path: Path) -> None:
    found = project(tmp_path, DATASOURCE.replace("postgresql", "mysql"))
    with pytest.raises(DatabaseUrlError, match='provider "mysql"'):
        resolve_database_url(found, environ={"DATABASE_URL": "mysql://u:p@h/app"})


PRISMA7_CONFIG = """\
import "dotenv/config";
import { defineConfig, env } from "prisma/config";

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: {
    url: env("DATABASE_URL"), // "postgresql://ignored:x@commented/app"
  },
});
"""


def test_prisma7_config_datasource_with_dotenv(tmp_path: Path) -> None:
    schema = 'datasource db {\n  provider = "postgresql"\n}\n'
    found = project(
        tmp_path,
        schema,
        files={"prisma.config.ts": PRISMA7_CONFIG, ".env": "DATABASE_URL=postgresql://u:p@config-host/app\n"},
    )
    url = resolve_database_url(found, environ={})
    assert url.host == "config-host" and url.source == "DATABASE_URL (url in prisma.config.ts; value from .env)"


def test_prisma_config_without_dotenv_means_no_env_files(tmp_path: Path) -> None:
    config = PRISMA7_CONFIG.replace('import "dotenv/config";\n', "")
    found = project(
        tmp_path,
        'datasource db {\n  provider = "postgresql"\n}\n',
        files={"prisma.config.ts": config, ".env": "DATABASE_URL=postgresql://u:p@config-host/app\n"},
    )
    with pytest.raises(DatabaseUrlError, match="Environment variable not found: DATABASE_URL") as info:
        resolve_database_url(found, environ={})
    assert "dotenv/config" in str(info.value)
    assert resolve_database_url(found, environ={"DATABASE_URL": "postgresql://u:p@env-host/app"}).host == "env-host"


def test_prisma6_config_without_datasource_reads_the_schema_with_process_env_only(tmp_path: Path) -> None:
    config = (
        'import { defineConfig } from "prisma/config";\n'
        'export default defineConfig({ schema: "prisma/schema.prisma" });\n'
    )
    found = project(tmp_path, files={"prisma.config.ts": config, ".env": "DATABASE_URL=postgresql://u:p@file/app\n"})
    with pytest.raises(DatabaseUrlError, match=r"Prisma does not load \.env files"):
        resolve_database_url(found, environ={})
    assert resolve_database_url(found, environ={"DATABASE_URL": "postgresql://u:p@env/app"}).host == "env"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("process.env.DIRECT_URL!", ("DIRECT_URL", None)),
        ('process.env["DIRECT_URL"] as string', ("DIRECT_URL", None)),
        ("env<Env>('DIRECT_URL')", ("DIRECT_URL", None)),
        ("'postgresql://u:p@h/db'", (None, "postgresql://u:p@h/db")),
    ],
)
def test_config_expressions_read_statically(
    tmp_path: Path, expression: str, expected: tuple[str | None, str | None]
) -> None:
    config = tmp_path / "prisma.config.ts"
    config.write_text(
        f"export default {{\n  datasource: {{\n    url: env('DATABASE_URL'),\n    directUrl: {expression},\n  }},\n}}\n"
    )
    datasource = read_config_datasource(config)
    assert datasource is not None and datasource.direct_url is not None
    assert (datasource.direct_url.env, datasource.direct_url.literal) == expected


@pytest.mark.parametrize(
    "expression",
    ["process.env.DIRECT_URL ?? process.env.DATABASE_URL", "`postgresql://${user}@h/db`", "getUrl()"],
)
def test_computed_config_url_asks_for_database_url(tmp_path: Path, expression: str) -> None:
    config = tmp_path / "prisma.config.ts"
    config.write_text(f"export default defineConfig({{\n  datasource: {{ url: {expression} }},\n}});\n")
    with pytest.raises(DatabaseUrlError, match="--database-url"):
        read_config_datasource(config)
