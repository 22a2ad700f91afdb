"""Find a Prisma project's schema and migrations the way the Prisma CLI does.

Order of precedence for the schema: ``--schema``; ``schema`` in ``prisma.config.ts`` (read
statically: TypeScript is never run); the ``"prisma": {"schema": ...}`` key of package.json;
``prisma/schema.prisma``; ``schema.prisma``; a multi-file ``prisma/schema/`` folder. Migrations live
in ``migrations.path`` of prisma.config.ts, else in ``migrations/`` beside the schema file (for a
schema folder: beside the file holding the ``datasource`` block).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from safemigrate.errors import ProjectError
from safemigrate.paths import cannot_read, exists, is_dir, is_file

CONFIG_NAMES = (
    "prisma.config.ts",
    "prisma.config.mts",
    "prisma.config.cts",
    "prisma.config.js",
    "prisma.config.mjs",
    "prisma.config.cjs",
)
SUPPORTED_PROVIDERS = ("postgresql", "postgres")

# prisma.config.ts is TypeScript; only literal values are read. These patterns read config text, not SQL.
_STRING = r"""(?P<q>["'`])(?P<value>(?:(?!(?P=q)).)*)(?P=q)"""
_JOIN = r"""(?:path\.)?(?:join|resolve)\((?P<args>[^()]*)\)"""
_SCHEMA_KEY = re.compile(r"(?<![\w.])schema\s*:\s*")
_MIGRATIONS_BLOCK = re.compile(r"(?<![\w.])migrations\s*:\s*\{(?P<body>[^{}]*)\}", re.DOTALL)
_PATH_KEY = re.compile(r"(?<![\w.])path\s*:\s*")
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
_DATASOURCE = re.compile(r"^\s*datasource\s+\w+\s*\{", re.MULTILINE)


@dataclass(frozen=True)
class Project:
    root: Path
    schema_path: Path | None  # a .prisma file or a folder of them; None when no schema was found
    migrations_dir: Path
    prisma_config: Path | None  # prisma.config.ts when one was read
    provider: str | None  # from migration_lock.toml


def check_project_dir(root: Path) -> None:
    """Refuse a --project that does not exist or is not a folder."""
    if not exists(root):
        raise ProjectError(f"The project directory {root} does not exist.", "Pass an existing folder with --project.")
    if not is_dir(root):
        raise ProjectError(f"{root} is not a directory.", "Pass the project folder with --project.")


def _literal_at(text: str, start: int, source: Path, key: str) -> str:
    """Read the string literal (or path.join of literals) that starts at ``start``."""
    rest = text[start:]
    match = re.match(_STRING, rest)
    if match and not (match.group("q") == "`" and "${" in match.group("value")):
        return match.group("value")
    join = re.match(_JOIN, rest)
    if join:
        parts = [p.strip() for p in join.group("args").split(",") if p.strip()]
        values = [re.fullmatch(_STRING, p) for p in parts]
        if values and all(v is not None and v.group("q") != "`" for v in values):
            return str(Path(*[v.group("value") for v in values if v is not None]))
    raise ProjectError(
        f"{source} sets `{key}` with an expression safemigrate cannot read without running TypeScript.",
        "Pass the path explicitly with --schema / --migrations.",
    )


def read_prisma_config(
    path: Path, *, schema_given: bool = False, migrations_given: bool = False
) -> tuple[Path | None, Path | None]:
    """(schema, migrations path) from prisma.config.ts, resolved against its folder; a key overridden on
    the command line (``schema_given``, ``migrations_given``) is not read, so it may be computed."""
    try:
        text = _COMMENT.sub("", path.read_text(encoding="utf-8"))
    except OSError as err:
        raise cannot_read(path, err) from err
    except UnicodeDecodeError as err:
        raise ProjectError(f"Cannot read {path}: {err}.", "Check the file's encoding (UTF-8).") from err
    base = path.parent
    schema: Path | None = None
    migrations: Path | None = None
    block = _MIGRATIONS_BLOCK.search(text)
    outside = text if block is None else text[: block.start()] + text[block.end() :]
    key = _SCHEMA_KEY.search(outside)
    if key and not schema_given:
        schema = base / _literal_at(outside, key.end(), path, "schema")
    if block and not migrations_given:
        path_key = _PATH_KEY.search(block.group("body"))
        if path_key:
            migrations = base / _literal_at(block.group("body"), path_key.end(), path, "migrations.path")
    return schema, migrations


def _package_json_schema(root: Path) -> Path | None:
    package = root / "package.json"
    if not is_file(package):
        return None
    try:
        # utf-8-sig: a byte order mark is accepted, as npm and Node accept it
        data = json.loads(package.read_text(encoding="utf-8-sig"))
    except OSError as err:
        raise cannot_read(package, err) from err
    except ValueError as err:
        raise ProjectError(f"{package} is not valid JSON ({err}).", "Fix package.json or pass --schema.") from err
    prisma = data.get("prisma") if isinstance(data, dict) else None
    schema = prisma.get("schema") if isinstance(prisma, dict) else None
    if schema is None:
        return None
    if not isinstance(schema, str):
        raise ProjectError(f'"prisma.schema" in {package} is not a string.', "Fix package.json or pass --schema.")
    return root / schema


def _default_schema(root: Path) -> Path | None:
    for candidate in (root / "prisma" / "schema.prisma", root / "schema.prisma"):
        if is_file(candidate):
            return candidate
    folder = root / "prisma" / "schema"
    if is_dir(folder) and any(folder.rglob("*.prisma")):
        return folder
    return None


def _migrations_beside(schema: Path) -> Path:
    if is_file(schema):
        return schema.parent / "migrations"
    for prisma_file in sorted(schema.rglob("*.prisma")):
        try:
            if _DATASOURCE.search(prisma_file.read_text(encoding="utf-8")):
                return prisma_file.parent / "migrations"
        except PermissionError as err:  # it may hold the datasource: guessing the folder would be wrong
            raise cannot_read(prisma_file, err) from err
        except (OSError, UnicodeDecodeError):
            continue
    return schema / "migrations"


def read_lock_provider(migrations_dir: Path) -> str | None:
    """The first ``provider = "..."`` line of migration_lock.toml, as Prisma reads it."""
    lock = migrations_dir / "migration_lock.toml"
    if not is_file(lock):
        return None
    try:
        lines = lock.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise cannot_read(lock, err) from err
    except UnicodeDecodeError as err:
        raise ProjectError(f"Cannot read {lock}: {err}.", "Check the file.") from err
    for line in lines:
        match = re.match(r"\s*provider\s*=\s*\"([^\"]*)\"", line)
        if match:
            return match.group(1)
    return None


def check_provider(migrations_dir: Path, provider: str | None) -> None:
    if provider is not None and provider not in SUPPORTED_PROVIDERS:
        raise ProjectError(
            f'The migrations in {migrations_dir} were created for provider "{provider}" '
            "(migration_lock.toml), and safemigrate only supports PostgreSQL (like Prisma's P3019).",
            "Point --migrations at a PostgreSQL migration history.",
        )


def discover_project(root: Path, schema: Path | None = None, migrations: Path | None = None) -> Project:
    """Find the schema and migrations of the Prisma project at ``root``."""
    check_project_dir(root)
    config_path = next((root / n for n in CONFIG_NAMES if is_file(root / n)), None)
    config_schema: Path | None = None
    config_migrations: Path | None = None
    if config_path is not None:
        config_schema, config_migrations = read_prisma_config(
            config_path, schema_given=schema is not None, migrations_given=migrations is not None
        )
    if schema is not None and not exists(schema):
        raise ProjectError(f"The schema {schema} does not exist.", "Check the --schema path.")
    found_schema = schema or config_schema or _package_json_schema(root) or _default_schema(root)
    if found_schema is not None and not exists(found_schema):
        raise ProjectError(
            f"The Prisma schema {found_schema} named by the project configuration does not exist.",
            "Fix the path, or pass --schema.",
        )
    migrations_dir = migrations or config_migrations
    if migrations_dir is None:
        if found_schema is None:
            raise ProjectError(
                f'No Prisma schema found in {root} (looked for prisma.config.ts, package.json "prisma.schema", '
                "prisma/schema.prisma, schema.prisma and prisma/schema/).",
                "Run safemigrate in your Prisma project, or pass --project / --schema / --migrations.",
            )
        migrations_dir = _migrations_beside(found_schema)
    provider = read_lock_provider(migrations_dir) if is_dir(migrations_dir) else None
    check_provider(migrations_dir, provider)
    return Project(root, found_schema, migrations_dir, config_path, provider)
