"""A migrations directory read exactly as Prisma reads it: folders, order, checksums."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from safemigrate.collation import UnorderableNamesError, sort_like_prisma
from safemigrate.errors import ProjectError
from safemigrate.paths import cannot_read

# Files of a migration folder in the layout of Prisma's TypeScript migrations (not SQL).
_FOREIGN_LAYOUT_FILES = ("migration.ts", "migration.js", "ops.json")


@dataclass(frozen=True)
class Migration:
    name: str  # the folder name, as stored in _prisma_migrations.migration_name
    path: Path  # the folder
    sql_path: Path
    data: bytes = field(repr=False)

    @property
    def checksum(self) -> str:
        """Lowercase hex SHA-256 of migration.sql's bytes, as Prisma stores it."""
        return hashlib.sha256(self.data).hexdigest()


def checksum_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def list_migrations(migrations_dir: Path) -> tuple[Migration, ...]:
    """Every sub-folder, in Prisma's order (JavaScript localeCompare); files beside them
    (migration_lock.toml) are skipped. Like Prisma 6, which lists every sub-folder (hidden ones too)
    as a migration and fails on one without a migration.sql (P3015), a folder without it is refused."""
    if not migrations_dir.is_dir():
        raise ProjectError(
            f"The migrations directory {migrations_dir} does not exist.",
            "Create migrations with `prisma migrate dev`, or pass --migrations.",
        )
    # One directory listing per folder (histories hold thousands of them; pathlib probes cost more).
    folders: dict[str, Path] = {}
    try:
        with os.scandir(migrations_dir) as entries:
            for entry in entries:
                if not entry.is_dir():
                    continue
                try:
                    names = set(os.listdir(entry.path))
                except OSError as err:
                    raise cannot_read(migrations_dir / entry.name, err) from err
                foreign = sorted(names.intersection(_FOREIGN_LAYOUT_FILES))
                if "migration.sql" in names:
                    folders[entry.name] = migrations_dir / entry.name
                elif foreign:
                    raise ProjectError(
                        f"The migration {entry.name} holds {', '.join(foreign)} instead of migration.sql: "
                        "this is a newer Prisma migration layout that safemigrate cannot read.",
                        "Use SQL migrations (migration.sql), or a safemigrate version that supports this layout.",
                    )
                else:
                    raise ProjectError(
                        f"The folder {migrations_dir / entry.name} in the migrations directory holds no "
                        "migration.sql: Prisma counts it as a migration and `prisma migrate deploy` fails on it "
                        "(P3015, could not find the migration file).",
                        "Add its migration.sql (the name is case-sensitive), or remove the folder.",
                    )
    except OSError as err:
        raise cannot_read(migrations_dir, err) from err
    try:
        ordered = sort_like_prisma(folders)
    except UnorderableNamesError as err:
        raise ProjectError(
            "Cannot tell the order in which Prisma applies these migrations, because their names "
            f"hold characters whose sorting depends on the locale: {', '.join(err.names)}.",
            "Rename the folders using ASCII letters, digits, '_' and '-' only.",
        ) from err
    migrations = []
    for name in ordered:
        sql_path = folders[name] / "migration.sql"
        try:
            data = sql_path.read_bytes()
        except OSError as err:
            raise cannot_read(sql_path, err) from err
        migrations.append(Migration(name, folders[name], sql_path, data))
    return tuple(migrations)
