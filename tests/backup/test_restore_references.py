"""Foreign keys of a recreated table that reference a table of another schema: the backup knows
that schema, so the key comes back when that table is there (it was silently left out, the bare
name being looked up in the restored schema), is not pointed at a same-named table of the restored
schema, and a key left out is a warning line naming the table it references."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

from safemigrate.backup import restore_backup, take_backup
from safemigrate.db.url import parse_database_url


def _execute(url: str, statement: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement.encode())
        return cur.fetchall() if cur.description else []


def _in_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}schema={quote(schema)}"


FOREIGN_KEYS = (
    "SELECT conname, confrelid::regclass::text FROM pg_constraint WHERE contype = 'f' AND conrelid = '{}'::regclass"
)


def test_a_key_to_another_schema_comes_back(database_url: str, tmp_path: Path) -> None:
    _execute(
        database_url,
        "CREATE SCHEMA ref; CREATE TABLE ref.country (code text PRIMARY KEY); INSERT INTO ref.country VALUES ('DE');"
        "CREATE TABLE customer (id int PRIMARY KEY, country text REFERENCES ref.country (code));"
        "INSERT INTO customer VALUES (1, 'DE')",
    )
    store = tmp_path / "store"
    manifest = take_backup(parse_database_url(database_url), store, tables=["customer"])
    entry = manifest.table("customer")
    assert entry is not None
    assert [(fk.referenced_schema, fk.referenced_table) for fk in entry.ddl.foreign_keys] == [("ref", "country")]
    _execute(database_url, "DROP TABLE customer")

    result = restore_backup(parse_database_url(database_url, source="--to-url"), store)

    assert result.warnings == ()
    assert _execute(database_url, FOREIGN_KEYS.format("customer")) == [("customer_country_fkey", "ref.country")]
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        _execute(database_url, "INSERT INTO customer VALUES (2, 'XX')")


def test_a_key_to_another_schema_is_not_pointed_at_a_namesake(
    database_url: str, other_database: str, tmp_path: Path
) -> None:
    """``"My Schema".ref`` references ``public.t_dup``; ``"My Schema"`` has a ``t_dup`` of its own. Restored
    into an empty database, public.t_dup is not there: the key is left out with a warning, and the
    restore does not fail on it."""
    _execute(
        database_url,
        "CREATE TABLE public.t_dup (id int PRIMARY KEY); INSERT INTO public.t_dup VALUES (1);"
        'CREATE SCHEMA "My Schema"; CREATE TABLE "My Schema".t_dup (id int PRIMARY KEY);'
        'CREATE TABLE "My Schema".ref (id int PRIMARY KEY, dup int REFERENCES public.t_dup (id));'
        'INSERT INTO "My Schema".ref VALUES (1, 1)',
    )
    store = tmp_path / "store"
    take_backup(parse_database_url(_in_schema(database_url, "My Schema")), store)

    result = restore_backup(parse_database_url(_in_schema(other_database, "My Schema"), source="--to-url"), store)

    assert result.warnings == (
        "table 'ref': foreign key 'ref_dup_fkey' was left out: the table it references, public.t_dup, is not there.",
    )
    assert _execute(other_database, FOREIGN_KEYS.format('"My Schema".ref')) == []
    assert _execute(other_database, 'SELECT * FROM "My Schema".ref') == [(1, 1)]


def test_a_key_whose_table_is_not_restored_is_a_warning(database_url: str, other_database: str, tmp_path: Path) -> None:
    _execute(
        database_url,
        "CREATE TABLE parent (id int PRIMARY KEY); CREATE TABLE child (id int PRIMARY KEY, p int REFERENCES parent);"
        "INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1, 1)",
    )
    store = tmp_path / "store"
    take_backup(parse_database_url(database_url), store)

    result = restore_backup(parse_database_url(other_database, source="--to-url"), store, tables=["child"])

    assert result.warnings == (
        "table 'child': foreign key 'child_p_fkey' was left out: the table it references, public.parent, is not there.",
    )


def test_a_domain_the_target_lacks_is_one_sentence(database_url: str, other_database: str, tmp_path: Path) -> None:
    from safemigrate.errors import RestoreRefusedError

    _execute(
        database_url,
        "CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');"
        "CREATE TABLE contact (id int PRIMARY KEY, address email); INSERT INTO contact VALUES (1, 'a@b')",
    )
    store = tmp_path / "store"
    take_backup(parse_database_url(database_url), store)
    with pytest.raises(RestoreRefusedError) as refused:
        restore_backup(parse_database_url(other_database, source="--to-url"), store)
    assert refused.value.message == (
        "Table 'contact' cannot be recreated here: type \"email\" does not exist; a restore recreates the enum types "
        "a table uses and the sequences its columns own, not domains, composite or range types, sequences no column "
        "owns, other schemas, nor the functions its defaults and checks call. Nothing was restored."
    )
    assert _execute(other_database, "SELECT to_regclass('contact')") == [(None,)]
    _execute(other_database, "CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%')")
    restore_backup(parse_database_url(other_database, source="--to-url"), store)
    assert _execute(other_database, "SELECT * FROM contact") == [(1, "a@b")]


def test_a_key_an_outside_table_lost_with_the_dropped_table_is_a_warning(database_url: str, tmp_path: Path) -> None:
    """``DROP TABLE parent CASCADE`` drops child's key with it; restoring parent alone brings parent
    back and says, with the statement from the backup, that child's key is gone."""
    _execute(
        database_url,
        "CREATE TABLE parent (id int PRIMARY KEY); CREATE TABLE child (id int PRIMARY KEY, p int REFERENCES parent);"
        "INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1, 1)",
    )
    store = tmp_path / "store"
    take_backup(parse_database_url(database_url), store)
    _execute(database_url, "DROP TABLE parent CASCADE")

    result = restore_backup(parse_database_url(database_url, source="--to-url"), store, tables=["parent"])

    (warning,) = result.warnings
    assert warning == (
        "table 'child' (not restored) has lost its foreign key 'child_p_fkey' to 'parent'; the backup has it: "
        'BEGIN; SET LOCAL search_path TO "public"; ALTER TABLE "public"."child" ADD CONSTRAINT "child_p_fkey" '
        "FOREIGN KEY (p) REFERENCES parent(id); COMMIT;"
    )
    _execute(database_url, warning.partition("the backup has it: ")[2])  # the statement works as printed
    assert _execute(database_url, FOREIGN_KEYS.format("child")) == [("child_p_fkey", "parent")]

    # A partial restore whose outside tables still have their keys says nothing.
    result = restore_backup(parse_database_url(database_url, source="--to-url"), store, tables=["child"])
    assert result.warnings == ()


def test_the_printed_statement_binds_to_the_restored_schema(database_url: str, tmp_path: Path) -> None:
    """``?schema=app``, and ``public`` has a ``parent`` too: the definition's bare ``parent`` must bind to
    ``app.parent`` when the statement is run as printed."""
    _execute(
        database_url,
        "CREATE TABLE public.parent (id int PRIMARY KEY); INSERT INTO public.parent VALUES (7);"
        "CREATE SCHEMA app; CREATE TABLE app.parent (id int PRIMARY KEY);"
        "CREATE TABLE app.child (id int PRIMARY KEY, p int REFERENCES app.parent);"
        "INSERT INTO app.parent VALUES (1); INSERT INTO app.child VALUES (1, 1)",
    )
    store = tmp_path / "store"
    app = _in_schema(database_url, "app")
    take_backup(parse_database_url(app), store)
    _execute(database_url, "DROP TABLE app.parent CASCADE")

    result = restore_backup(parse_database_url(app, source="--to-url"), store, tables=["parent"])

    (warning,) = result.warnings
    _execute(database_url, warning.partition("the backup has it: ")[2])
    assert _execute(database_url, FOREIGN_KEYS.format("app.child")) == [("child_p_fkey", "app.parent")]


def test_an_expression_index_on_a_missing_function_is_one_sentence(
    database_url: str, other_database: str, tmp_path: Path
) -> None:
    from safemigrate.errors import RestoreRefusedError

    _execute(
        database_url,
        "CREATE FUNCTION norm(t text) RETURNS text IMMUTABLE LANGUAGE sql AS $$ SELECT lower(t) $$;"
        "CREATE TABLE tag (id int PRIMARY KEY, name text); CREATE INDEX tag_norm ON tag (norm(name));"
        "INSERT INTO tag VALUES (1, 'A')",
    )
    store = tmp_path / "store"
    take_backup(parse_database_url(database_url), store)
    with pytest.raises(RestoreRefusedError) as refused:
        restore_backup(parse_database_url(other_database, source="--to-url"), store)
    assert refused.value.message.startswith("Table 'tag' cannot be recreated here: function norm(text) does not exist;")
