"""Backups and restores across encodings, and of what binary COPY or the session settings got wrong, on
a real PostgreSQL server: the client encoding pinned to the database's and recorded in the manifest, a
restore into a database of another encoding refused, ``backup --verify`` of a LATIN1 database on a
UTF8 server, tsquery / int2vector / oidvector / reg* columns copied as text, xml content under a
database's ``xmloption = document``, and extensions installed in their own schema."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from safemigrate.backup.store import find_backup
from safemigrate.backup.stores import LocalStore
from safemigrate.backup.verify import verify_backup
from safemigrate.db.url import parse_database_url
from safemigrate.errors import EXIT_CHECK_FAILED, BackupError, RestoreRefusedError
from tests.backup.roundtrip import backup as _backup
from tests.backup.roundtrip import prints as _prints
from tests.backup.roundtrip import restore as _restore
from tests.backup.roundtrip import rows as _rows
from tests.backup.roundtrip import run_sql as _run
from tests.pgserver import PgServer


def _with_client_encoding(url: str, encoding: str) -> str:
    """The URL with libpq's ``client_encoding`` (as PGCLIENTENCODING would set it)."""
    return f"{url}?client_encoding={encoding}"


@pytest.fixture
def latin1_database(pg_server: PgServer) -> Iterator[str]:
    """A fresh LATIN1 database (C locale) on the test server, whose databases are UTF8."""
    name = "t_latin1_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0").format(
                sql.Identifier(name)
            )
        )
    try:
        yield pg_server.url(name)
    finally:
        with psycopg.connect(pg_server.url(), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


WORDS = "CREATE TABLE w (id int PRIMARY KEY, s text); CREATE TABLE v (id int PRIMARY KEY, s text);"
FILL_WORDS = "INSERT INTO w VALUES (1, 'café'), (2, 'plain'); INSERT INTO v VALUES (1, 'naïve');"


# 1. Encoding: the data files hold the database's encoding, whatever the session's client_encoding.


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_backup_taken_with_another_client_encoding_restores_in_place(
    database_url: str, tmp_path: Path, jobs: int
) -> None:
    _run(database_url, WORDS + FILL_WORDS)
    store = tmp_path / "store"
    # PGCLIENTENCODING=LATIN1 in the environment does the same; jobs=2 copies on a worker session
    manifest = _backup(_with_client_encoding(database_url, "LATIN1"), store, jobs=jobs)
    _run(database_url, "UPDATE w SET s = 'changed'; DELETE FROM v")
    _restore(database_url, store)  # failed with 22021: the file held LATIN1 bytes
    assert _rows(database_url, "SELECT s FROM w ORDER BY id") == [("café",), ("plain",)]
    assert _rows(database_url, "SELECT s FROM v") == [("naïve",)]
    assert manifest.encoding == "UTF8"


def test_a_restore_session_with_another_client_encoding_loads_the_backed_up_text(
    database_url: str, tmp_path: Path
) -> None:
    _run(database_url, WORDS + FILL_WORDS)
    store = tmp_path / "store"
    _backup(database_url, store)
    _run(database_url, "UPDATE w SET s = 'changed'")
    _restore(_with_client_encoding(database_url, "LATIN1"), store)
    assert _rows(database_url, "SELECT s FROM w ORDER BY id") == [("café",), ("plain",)]


@pytest.mark.parametrize("direction", ["utf8-into-latin1", "latin1-into-utf8"])
def test_a_restore_into_a_database_of_another_encoding_is_refused(
    database_url: str, latin1_database: str, other_database: str, tmp_path: Path, direction: str
) -> None:
    if direction == "utf8-into-latin1":
        source, target, names = database_url, latin1_database, ("UTF8", "LATIN1")
        text = "café €"  # silently restored as 'cafÃ© â\x82¬' before, its fingerprint matching
    else:
        source, target, names = latin1_database, other_database, ("LATIN1", "UTF8")
        text = "Ã©tÃ©"
    _run(source, "CREATE TABLE w (id int PRIMARY KEY, s text)")
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute("INSERT INTO w VALUES (1, %s), (2, 'plain')", [text])
    store = tmp_path / "store"
    manifest = _backup(source, store)
    with pytest.raises(RestoreRefusedError) as refused:
        _restore(target, store)
    assert manifest.encoding == names[0]
    assert refused.value.message == (
        f"Backup {manifest.id} was taken of a {names[0]} database and the target database is {names[1]}: its text "
        "would not come back byte for byte, and its fingerprints can only be compared within one encoding; "
        "nothing was restored."
    )
    assert f"ENCODING '{names[0]}'" in refused.value.hint
    assert refused.value.exit_code == EXIT_CHECK_FAILED
    assert _rows(target, "SELECT to_regclass('public.w')") == [(None,)]  # nothing changed


def test_a_manifest_without_an_encoding_still_restores(database_url: str, tmp_path: Path) -> None:
    _run(database_url, WORDS + FILL_WORDS)
    store = tmp_path / "store"
    manifest = _backup(database_url, store)
    assert manifest.to_dict()["encoding"] == "UTF8"
    path = store / manifest.id / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    del data["encoding"]  # as written before the encoding was recorded
    path.write_text(json.dumps(data), encoding="utf-8")
    assert find_backup(store, manifest.id)[1].encoding is None
    _run(database_url, "UPDATE w SET s = 'changed'")
    _restore(database_url, store)
    assert _rows(database_url, "SELECT s FROM w ORDER BY id") == [("café",), ("plain",)]


def test_verify_of_a_latin1_database_on_a_utf8_server(latin1_database: str, tmp_path: Path) -> None:
    _run(latin1_database, "CREATE TABLE w (id int PRIMARY KEY, s text); INSERT INTO w VALUES (1, 'café')")
    store = tmp_path / "store"
    manifest = _backup(latin1_database, store)
    # the scratch database was UTF8 (template0's): "error: PostgreSQL error 22021"
    verified = verify_backup(parse_database_url(latin1_database), LocalStore(store), manifest)
    assert verified.manifest.verified is True
    assert verified.manifest.encoding == "LATIN1"


def test_verify_says_the_backup_is_saved_when_no_scratch_database_can_have_its_encoding(
    database_url: str, tmp_path: Path
) -> None:
    _run(database_url, WORDS + FILL_WORDS)
    store = tmp_path / "store"
    manifest = _backup(database_url, store)
    # SJIS stands for an encoding this server cannot create a database in (a client-only one)
    with pytest.raises(BackupError) as failed:
        verify_backup(parse_database_url(database_url), LocalStore(store), replace(manifest, encoding="SJIS"))
    assert failed.value.message.startswith(
        f"Backup {manifest.id} is saved, but it could not be verified: a scratch database in its encoding SJIS "
        "cannot be created on this server ("
    )
    assert f"restore --id {manifest.id} --to-url" in failed.value.hint
    assert find_backup(store, manifest.id)[1].verified is None  # nothing recorded


# 2. Types whose binary COPY form does not come back, or names objects by OID: copied as text.

_NOT_BINARY = [
    # an empty tsquery (a stop word alone) is sent, then refused: "malformed tsquery: operand not found"
    ("tsquery", "to_tsquery('english', 'cats & dogs')", "plainto_tsquery('english', 'the')"),
    ("int2vector", "'1 2 3'::int2vector", "''::int2vector"),  # 22P03 on COPY FROM
    ("oidvector", "'23 25'::oidvector", "''::oidvector"),
]


@pytest.mark.parametrize(("type_name", "first", "second"), _NOT_BINARY, ids=[t for t, _, _ in _NOT_BINARY])
def test_types_whose_binary_form_cannot_be_read_back_restore(
    database_url: str, other_database: str, tmp_path: Path, type_name: str, first: str, second: str
) -> None:
    _run(
        database_url,
        f"CREATE TABLE saved (id int PRIMARY KEY, v {type_name}, vs {type_name}[]);"
        f"INSERT INTO saved VALUES (1, {first}, ARRAY[{first}]), (2, {second}, ARRAY[{second}, NULL]), (3, NULL, NULL)",
    )
    store = tmp_path / "store"
    manifest = _backup(database_url, store)
    before = _rows(database_url, "SELECT id, v::text, vs::text FROM saved ORDER BY id")
    _restore(database_url, store)  # in place
    _restore(other_database, store)
    assert _rows(database_url, "SELECT id, v::text, vs::text FROM saved ORDER BY id") == before
    assert _rows(other_database, "SELECT id, v::text, vs::text FROM saved ORDER BY id") == before
    assert manifest.tables[0].copy_format == "text"


# Objects an OID alias names, created in each database (so with other OIDs in the second).
REFERENCED = """
CREATE SCHEMA extra;
CREATE TYPE extra.mood AS ENUM ('ok');
CREATE FUNCTION extra.plus(int, int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 + $2';
CREATE OPERATOR extra.### (LEFTARG = int, RIGHTARG = int, FUNCTION = extra.plus);
CREATE TEXT SEARCH DICTIONARY extra.dict (TEMPLATE = simple);
CREATE TEXT SEARCH CONFIGURATION extra.cfg (COPY = simple);
CREATE COLLATION extra.coll (provider = libc, locale = 'C');
CREATE DOMAIN rel AS regclass;
"""
ALIASES = """
CREATE TABLE target_tbl (id int);
CREATE TABLE meta (
  id int PRIMARY KEY, rel regclass, typ regtype, typs regtype[], fn regproc, fnsig regprocedure, op regoper,
  opsig regoperator, cfg regconfig, dict regdictionary, nsp regnamespace, role regrole, coll regcollation,
  dom rel
);
INSERT INTO meta VALUES (1, 'target_tbl', 'extra.mood', ARRAY['extra.mood', 'integer']::regtype[], 'extra.plus',
  'extra.plus(int, int)', 'extra.###', 'extra.###(int, int)', 'extra.cfg', 'extra.dict', 'extra',
  CURRENT_USER::text::regrole, 'extra.coll', 'target_tbl');
"""


def test_oid_alias_types_are_restored_by_name_into_another_database(
    database_url: str, other_database: str, tmp_path: Path
) -> None:
    _run(database_url, REFERENCED + ALIASES)
    _run(other_database, "CREATE TABLE filler (id int);" + REFERENCED)  # other OIDs than the source's
    store = tmp_path / "store"
    manifest = _backup(database_url, store)
    _restore(other_database, store)  # binary: raw OIDs, the fingerprints differed
    query = "SELECT * FROM meta"
    shown = "SELECT " + ", ".join(f"{c}::text" for c in ("rel", "typ", "typs", "fn", "fnsig", "op", "coll", "dom"))
    assert _rows(other_database, shown + " FROM meta") == _rows(database_url, shown + " FROM meta")
    assert _rows(other_database, "SELECT rel = 'target_tbl'::regclass, dom = 'target_tbl'::regclass FROM meta") == [
        (True, True)
    ]
    assert _prints(other_database)["meta"] == _prints(database_url)["meta"]
    _restore(database_url, store)  # in place
    assert len(_rows(database_url, query)) == 1
    assert [t.copy_format for t in manifest.tables if t.name == "meta"] == ["text"]


# 3. xml content restores into a database whose xmloption is document.


def test_xml_content_restores_into_a_database_whose_xmloption_is_document(
    database_url: str, pg_server: PgServer, tmp_path: Path
) -> None:
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} SET xmloption = document").format(sql.Identifier(name)))
    _run(
        database_url,
        "SET xmloption = content; CREATE TABLE doc (id int PRIMARY KEY, body xml);"
        "INSERT INTO doc VALUES (1, '<a/>'), (2, 'plain text'), (3, '<a/><b/>')",
    )
    store = tmp_path / "store"
    _backup(database_url, store)
    _run(database_url, "DELETE FROM doc")
    _restore(database_url, store)  # failed with 2200M: invalid XML document
    assert _rows(database_url, "SELECT id, body::text FROM doc ORDER BY id") == [
        (1, "<a/>"),
        (2, "plain text"),
        (3, "<a/><b/>"),
    ]
    assert _rows(database_url, "SHOW xmloption") == [("document",)]


# 4. backup --verify: an extension installed in its own schema (Supabase's "extensions").


def test_verify_creates_extensions_in_the_schema_they_live_in(database_url: str, tmp_path: Path) -> None:
    _run(
        database_url,
        "CREATE SCHEMA extensions; CREATE EXTENSION citext SCHEMA extensions;"
        'CREATE EXTENSION "uuid-ossp" SCHEMA extensions;'
        'CREATE TABLE "User" (id uuid PRIMARY KEY DEFAULT extensions.uuid_generate_v4(), '
        "email extensions.citext UNIQUE);"
        "INSERT INTO \"User\" (email) VALUES ('A@x'), ('b@X');",
    )
    store = tmp_path / "store"
    manifest = _backup(database_url, store)
    # failed: 'schema "extensions" does not exist' (the extension went to the URL's schema)
    verified = verify_backup(parse_database_url(database_url), LocalStore(store), manifest)
    assert verified.manifest.verified is True
