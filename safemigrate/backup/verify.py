"""``backup --verify``: prove a backup restores by restoring it into a scratch database and comparing
counts and fingerprints with its manifest (the restore's own check), then record the result."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from safemigrate.backup.ddl import catalog_rows, load_sql
from safemigrate.backup.manifest import Manifest
from safemigrate.backup.restore import restore_backup
from safemigrate.backup.stores import BackupStore
from safemigrate.config import DatabaseConfig
from safemigrate.db.connect import connect, database_errors
from safemigrate.db.url import DatabaseUrl
from safemigrate.errors import (
    BackupCorruptError,
    BackupError,
    BackupFormatError,
    DatabasePermissionError,
    RestoreMismatchError,
    RestoreRefusedError,
    RestoreTargetLacksError,
)

SCRATCH_PREFIX = "safemigrate_verify_"


@dataclass(frozen=True)
class Verification:
    manifest: Manifest  # as saved in the store, ``verified`` set
    scratch_database: str
    seconds: float


def verify_backup(
    url: DatabaseUrl, store: BackupStore, manifest: Manifest, *, settings: DatabaseConfig | None = None
) -> Verification:
    """Restore ``manifest``'s backup into a new database on ``url``'s server (with the source's
    extensions and collations), then drop it.

    The backup is marked ``verified: true`` when the restore's counts and fingerprints match, and
    ``verified: false`` when they do not (the error is raised after it is recorded). When the check
    cannot run (no CREATEDB privilege, server unreachable), nothing is recorded and the error says so."""
    settings = settings or DatabaseConfig()
    scratch = SCRATCH_PREFIX + manifest.id.lower().replace("-", "_") + "_" + secrets.token_hex(2)
    with connect(url, command="backup-verify", settings=settings) as admin, database_errors(url, settings):
        extensions = catalog_rows(admin, "extensions", _Extension, {})
        with admin.cursor(row_factory=class_row(_Collation)) as cur:
            collations = cur.execute(load_sql("user_collations")).fetchall()
        with admin.cursor(row_factory=class_row(_Encoding)) as cur:
            source = cur.execute(load_sql("scratch_encoding")).fetchone()
        assert source is not None
        encoding = manifest.encoding or source.encoding
        try:
            admin.execute(create_scratch_statement(scratch, encoding, source))
        except psycopg.errors.InsufficientPrivilege as err:
            raise DatabasePermissionError(
                f"Cannot verify backup {manifest.id}: user {url.user!r} may not create the scratch database.",
                "Grant CREATEDB to the user, or verify with a user that has it; the backup itself is saved.",
            ) from err
        except psycopg.Error as err:
            # The server refused the encoding or locale asked for (a lost session is said as such): a
            # scratch database of another encoding could not check the backup, its text compares in one.
            if encoding == source.template_encoding or (err.sqlstate or "08").startswith(("08", "57")):
                raise
            raise BackupError(
                f"Backup {manifest.id} is saved, but it could not be verified: a scratch database in its "
                f"encoding {encoding} cannot be created on this server ({err.diag.message_primary or err}).",
                f"Check it by restoring into a {encoding} database: `safemigrate restore --id {manifest.id} "
                "--to-url <that database's URL> --yes`.",
            ) from err
    scratch_url = url.with_database(scratch)
    try:
        with (
            connect(scratch_url, command="backup-verify", settings=settings) as conn,
            database_errors(scratch_url, settings),
        ):
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(url.schema)))
            # Types the backed-up columns may use (citext, ...), in the schema the source has them in,
            # where the columns name them (a Supabase-style "extensions" schema: extensions.citext).
            for extension in extensions:
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(extension.schema)))
                conn.execute(
                    sql.SQL("CREATE EXTENSION IF NOT EXISTS {} SCHEMA {}").format(
                        sql.Identifier(extension.name), sql.Identifier(extension.schema)
                    )
                )
            for collation in collations:  # and the collations they may use
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(collation.schema)))
                conn.execute(create_collation_statement(collation))
        with store.fetch(manifest.id) as local:
            result = restore_backup(scratch_url, local, backup_id=manifest.id, settings=settings)
    except RestoreTargetLacksError as err:
        # The scratch database lacks a domain, type or function the source has: that says nothing
        # about the backup, so nothing is recorded.
        raise RestoreTargetLacksError(
            f"Backup {manifest.id} is saved, but a scratch database cannot check it: {err.message}",
            "Check it by restoring into a database that has what it needs: `safemigrate restore --id "
            f"{manifest.id} --to-url <that database's URL> --yes`.",
        ) from err
    except (BackupCorruptError, BackupFormatError, RestoreMismatchError, RestoreRefusedError):
        # The backup itself is wrong (a corrupt file, a mismatch, DDL that does not apply): record it.
        # A store or network failure says nothing about the backup: nothing is recorded.
        store.save_manifest(replace(manifest, verified=False))
        raise
    finally:
        _drop(url, scratch, settings)
    verified = replace(manifest, verified=True)
    store.save_manifest(verified)
    return Verification(verified, scratch, result.seconds)


@dataclass(frozen=True)
class _Extension:
    name: str
    schema: str


@dataclass(frozen=True)
class _Encoding:
    encoding: str  # the source database's
    lc_collate: str
    lc_ctype: str
    template_encoding: str  # template0's: the scratch database's unless told otherwise


def create_scratch_statement(name: str, encoding: str, source: _Encoding) -> sql.Composed:
    """``CREATE DATABASE name TEMPLATE template0``, in ``encoding`` (the backup's) when template0 has
    another: a restore refuses a target of another encoding. The locale is then the source's when it
    is in that encoding (the source uses it, so it fits), else C, which fits every encoding."""
    statement = sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name))
    if encoding == source.template_encoding:
        return statement
    same = encoding == source.encoding
    return statement + sql.SQL(" ENCODING {} LC_COLLATE {} LC_CTYPE {}").format(
        sql.Literal(encoding),
        sql.Literal(source.lc_collate if same else "C"),
        sql.Literal(source.lc_ctype if same else "C"),
    )


@dataclass(frozen=True)
class _Collation:
    schema: str
    name: str
    collation: dict[str, Any]  # the pg_collation row


_PROVIDERS = {"c": "libc", "i": "icu", "b": "builtin"}


def create_collation_statement(row: _Collation) -> sql.Composed:
    """``CREATE COLLATION IF NOT EXISTS`` that makes the same collation as the catalog row."""
    c = row.collation
    provider = _PROVIDERS.get(str(c.get("collprovider")), "libc")
    options: list[sql.Composable] = [sql.SQL("provider = {}").format(sql.SQL(provider))]
    if provider == "libc":
        options.append(sql.SQL("lc_collate = {}").format(sql.Literal(c.get("collcollate") or "C")))
        options.append(sql.SQL("lc_ctype = {}").format(sql.Literal(c.get("collctype") or "C")))
    else:  # the locale's column was renamed twice (collcollate, colliculocale, colllocale)
        locale = c.get("colllocale") or c.get("colliculocale") or c.get("collcollate") or ""
        options.append(sql.SQL("locale = {}").format(sql.Literal(locale)))
    if c.get("collicurules"):
        options.append(sql.SQL("rules = {}").format(sql.Literal(c["collicurules"])))
    if c.get("collisdeterministic") is False:
        options.append(sql.SQL("deterministic = false"))
    return sql.SQL("CREATE COLLATION IF NOT EXISTS {} ({})").format(
        sql.Identifier(row.schema, row.name), sql.SQL(", ").join(options)
    )


def _drop(url: DatabaseUrl, scratch: str, settings: DatabaseConfig) -> None:
    with connect(url, command="backup-verify", settings=settings) as admin, database_errors(url, settings):
        # FORCE (PostgreSQL 13+): the check's own session may still be ending when an interrupt or an
        # error brings us here ("is being accessed by other users"); nobody else uses this database.
        force = sql.SQL(" WITH (FORCE)" if admin.info.server_version >= 130000 else "")
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}{}").format(sql.Identifier(scratch), force))
