"""Backups and restores of what a review found broken, on a real PostgreSQL server: inheritance
children, NOT VALID constraints, xml declarations, column collations, text-format COPY under other
session settings, partitioned tables."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from safemigrate.backup.stores import LocalStore
from safemigrate.backup.take import backup_tables
from safemigrate.backup.verify import verify_backup
from safemigrate.db.url import parse_database_url
from safemigrate.errors import UnknownTableError
from tests.backup.roundtrip import backup as _backup
from tests.backup.roundtrip import prints as _prints
from tests.backup.roundtrip import restore as _restore
from tests.backup.roundtrip import rows as _rows
from tests.backup.roundtrip import run_sql as _run
from tests.pgserver import PgServer

# 1. Inheritance: a child of a restored table is another table and keeps its rows.

INHERITANCE = """
CREATE TABLE parent (id int, v text);
CREATE TABLE kid (extra int) INHERITS (parent);
INSERT INTO parent VALUES (1, 'p');
INSERT INTO kid VALUES (2, 'k', 9);
"""


def test_restoring_a_parent_table_keeps_the_rows_of_its_inheritance_child(database_url: str, tmp_path: Path) -> None:
    _run(database_url, INHERITANCE)
    store = tmp_path / "store"
    _backup(database_url, store, tables=["parent"])
    _run(database_url, "INSERT INTO parent VALUES (3, 'later')")
    _restore(database_url, store)  # the whole backup: the parent alone
    assert _rows(database_url, "SELECT * FROM kid") == [(2, "k", 9)]
    assert _rows(database_url, "SELECT * FROM ONLY parent") == [(1, "p")]
    _backup(database_url, store)  # both tables
    _restore(database_url, store, tables=["parent"])
    assert _rows(database_url, "SELECT * FROM kid") == [(2, "k", 9)]


def test_a_child_using_its_parents_serial_is_restored_into_an_empty_database(
    database_url: str, other_database: str, tmp_path: Path
) -> None:
    # The child's id default is nextval of the parent's sequence: whichever table is created first,
    # the sequence must exist by then (the child came first and failed with 42P01).
    _run(
        database_url,
        """CREATE TABLE "User" (id serial PRIMARY KEY, email text);
        CREATE TABLE "Admin" (level int) INHERITS ("User");
        INSERT INTO "User" (email) VALUES ('a@example.com');
        INSERT INTO "Admin" (email, level) VALUES ('b@example.com', 3);""",
    )
    store = tmp_path / "store"
    _backup(database_url, store)
    _restore(other_database, store)
    assert _rows(other_database, 'SELECT id, email, level FROM "Admin"') == [(2, "b@example.com", 3)]
    assert _rows(other_database, 'SELECT id, email FROM ONLY "User"') == [(1, "a@example.com")]
    _run(other_database, """INSERT INTO "Admin" (email, level) VALUES ('c@example.com', 1)""")
    assert _rows(other_database, """SELECT id FROM "Admin" WHERE email = 'c@example.com'""") == [(3,)]


def test_an_empty_parent_with_a_filled_child_counts_as_an_empty_target(
    database_url: str, other_database: str, tmp_path: Path
) -> None:
    _run(database_url, INHERITANCE)
    _run(other_database, INHERITANCE + "DELETE FROM ONLY parent;")
    store = tmp_path / "store"
    _backup(database_url, store, tables=["parent"])
    _restore(other_database, store, into_empty=True)
    assert _rows(other_database, "SELECT * FROM ONLY parent") == [(1, "p")]
    assert _rows(other_database, "SELECT * FROM kid") == [(2, "k", 9)]


# 2. Constraints added NOT VALID over old rows that break them.

NOT_VALID = """
CREATE TABLE product (id int PRIMARY KEY, price int);
INSERT INTO product VALUES (1, -5);
ALTER TABLE product ADD CONSTRAINT price_pos CHECK (price >= 0) NOT VALID;
INSERT INTO product VALUES (2, 5);
CREATE TABLE line (id int PRIMARY KEY, product_id int);
INSERT INTO line VALUES (1, 99);
ALTER TABLE line ADD CONSTRAINT line_product FOREIGN KEY (product_id) REFERENCES product NOT VALID;
"""
_CONSTRAINTS = (
    "SELECT conname, convalidated FROM pg_constraint WHERE contype IN ('c', 'f') AND conrelid <> 0 ORDER BY conname"
)


def test_not_valid_constraints_do_not_stop_a_restore_in_place(database_url: str, tmp_path: Path) -> None:
    _run(database_url, NOT_VALID)
    before = _prints(database_url)
    store = tmp_path / "store"
    _backup(database_url, store)
    _run(database_url, "UPDATE product SET price = 1; DELETE FROM line")
    _restore(database_url, store, tables=["line"])
    _restore(database_url, store)
    assert _prints(database_url) == before
    assert _rows(database_url, _CONSTRAINTS) == [("line_product", False), ("price_pos", False)]
    with pytest.raises(psycopg.errors.CheckViolation):  # still enforced for new rows
        _run(database_url, "INSERT INTO product VALUES (3, -1)")


def test_not_valid_constraints_come_back_not_valid_elsewhere_and_verify(
    database_url: str, other_database: str, tmp_path: Path
) -> None:
    _run(database_url, NOT_VALID)
    store = tmp_path / "store"
    manifest = _backup(database_url, store)
    _restore(other_database, store)
    assert _prints(other_database) == _prints(database_url)
    assert _rows(other_database, _CONSTRAINTS) == [("line_product", False), ("price_pos", False)]
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        _run(other_database, "INSERT INTO line VALUES (2, 42)")
    verified = verify_backup(parse_database_url(database_url), LocalStore(store), manifest)
    assert verified.manifest.verified is True


# 3. xml values keep their XML declaration.


def test_an_xml_declaration_survives_backup_and_restore(database_url: str, other_database: str, tmp_path: Path) -> None:
    document = '<?xml version="1.0" encoding="UTF-8"?><invoice/>'
    _run(database_url, "CREATE DOMAIN xdoc AS xml")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE doc (id int PRIMARY KEY, body xml, bodies xml[], typed xdoc)")
        conn.execute(
            "INSERT INTO doc VALUES (1, %s::xml, ARRAY[%s::xml], %s::xml), (2, NULL, NULL, NULL)",
            [document, document, document],
        )
    store = tmp_path / "store"
    manifest = _backup(database_url, store)
    assert manifest.tables[0].copy_format == "text"
    _restore(database_url, store)
    _run(other_database, "CREATE DOMAIN xdoc AS xml")
    _restore(other_database, store)
    query = "SELECT body::text, bodies::text[], typed::text FROM doc WHERE id = 1"
    assert _rows(other_database, query) == [(document, [document], document)]


# 4. Column collations, an ICU nondeterministic one included.

CASE_INSENSITIVE = "CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)"
_COLLATIONS = (
    "SELECT attname, attcollation::regcollation::text FROM pg_attribute "
    "WHERE attrelid = 'users'::regclass AND attnum > 0 ORDER BY attnum"
)


def test_column_collations_come_back(database_url: str, other_database: str, tmp_path: Path) -> None:
    _run(
        database_url,
        CASE_INSENSITIVE + ";"
        'CREATE TABLE users (id int PRIMARY KEY, email text COLLATE ci UNIQUE, code text COLLATE "C", name text);'
        "INSERT INTO users VALUES (1, 'A@x.com', 'b', 'n');",
    )
    store = tmp_path / "store"
    manifest = _backup(database_url, store)
    _restore(database_url, store)  # in place: the target's columns match the backup's
    _run(other_database, CASE_INSENSITIVE)
    _restore(other_database, store)
    assert _rows(other_database, _COLLATIONS) == _rows(database_url, _COLLATIONS)
    assert _rows(other_database, _COLLATIONS)[1:3] == [("email", "ci"), ("code", '"C"')]
    with pytest.raises(psycopg.errors.UniqueViolation):
        _run(other_database, "INSERT INTO users VALUES (2, 'a@X.COM', 'z', 'm')")
    verified = verify_backup(parse_database_url(database_url), LocalStore(store), manifest)  # creates ci
    assert verified.manifest.verified is True


# 5. Text-format COPY under the database's own DateStyle / IntervalStyle / extra_float_digits.


def test_text_copy_does_not_depend_on_the_session_settings(
    database_url: str, other_database: str, pg_server: PgServer, tmp_path: Path
) -> None:
    _run(
        database_url,
        "CREATE TABLE perms (id int PRIMARY KEY, acl aclitem, x float8, d date, i interval);"
        "INSERT INTO perms VALUES (1, '=r/postgres', 0.1 + 0.2, '2024-03-04', '1 day -02:00:03.5')",
    )
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        for setting, value in (
            ("DateStyle", "SQL, DMY"),
            ("IntervalStyle", "sql_standard"),
            ("extra_float_digits", "0"),
        ):
            admin.execute(
                sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                    sql.Identifier(name), sql.Identifier(setting), sql.Literal(value)
                )
            )
    store = tmp_path / "store"
    manifest = _backup(database_url, store)
    assert manifest.tables[0].copy_format == "text"
    _restore(other_database, store)
    assert _prints(other_database) == _prints(database_url)
    _restore(database_url, store)  # and back into the database with those settings
    query = "SELECT x = (0.1 + 0.2)::float8, d = '2024-03-04', i = '1 day -02:00:03.5' FROM perms"
    assert _rows(database_url, query) == [(True, True, True)]


# 6. Partitioned tables: not supported yet, and said so.

PARTITIONED = """
CREATE TABLE events (id bigserial, at date NOT NULL, payload text) PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO events (at, payload) VALUES ('2025-05-01', 'important');
CREATE TABLE plain (id int PRIMARY KEY);
INSERT INTO plain VALUES (1);
"""


def test_a_full_backup_names_the_partitioned_tables_it_leaves_out(database_url: str, tmp_path: Path) -> None:
    _run(database_url, PARTITIONED)
    taken = backup_tables(parse_database_url(database_url), tmp_path / "store")
    assert [t.name for t in taken.manifest.tables] == ["plain"]
    assert taken.skipped_partitioned == ("events", "events_2025")
    named = backup_tables(parse_database_url(database_url), tmp_path / "store", tables=["plain"])
    assert named.skipped_partitioned == ()


@pytest.mark.parametrize(("table", "what"), [("events", "a partitioned table"), ("events_2025", "a partition")])
def test_naming_a_partitioned_table_is_refused(database_url: str, tmp_path: Path, table: str, what: str) -> None:
    _run(database_url, PARTITIONED)
    with pytest.raises(
        UnknownTableError, match=f"'{table}' is {what}: partitioned tables are not supported by backups yet"
    ):
        _backup(database_url, tmp_path / "store", tables=["plain", table])
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").iterdir())


def test_the_backup_command_says_which_partitioned_tables_it_left_out(database_url: str, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    _run(database_url, PARTITIONED)
    (tmp_path / "safemigrate.toml").write_text(f'[backup]\nstore = "{tmp_path / "store"}"\n')
    done = subprocess.run(
        [sys.executable, "-m", "safemigrate", "backup", "--project", str(tmp_path), "--database-url", database_url],
        capture_output=True,
        text=True,
        env={**os.environ},
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "left out partitioned tables (not supported by backups yet): events, events_2025" in done.stderr


def test_lists_show_backup_times_to_the_millisecond_as_runs_do() -> None:
    from safemigrate.backup.manifest import shown_time

    assert shown_time("2026-11-30T18:13:35.612236Z") == "2026-11-30T18:13:35.612Z"
    assert shown_time("2026-11-30T19:13:35+01:00") == "2026-11-30T18:13:35.000Z"
    assert shown_time("not a time") == "not a time"
