"""Clone review fixes: masks reach the tables that inherit the masked column (no raw value through
inheritance), the mask length check sees through nested domains, and an older target schema is refused
before anything is read, as a refusal (exit 2). Then: the salt never reaches the target's log, masks
need a salt, a raw row is never refused (and logged) before it is masked, masked tables load into a
newer staging schema, and a constraint that refuses a mask's fakes names the mask."""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from safemigrate.backup.ddl import TargetColumn
from safemigrate.errors import EXIT_USAGE, InputError, RestoreRefusedError
from safemigrate.staging import CloneRefusedError, ColumnMask, clone_database
from safemigrate.staging.clone import Lineage, column_difference, inherited_masks
from safemigrate.staging.masked_load import MaskConflictError, MaskedColumn
from safemigrate.staging.masks import MaskSaltError
from tests.pgserver import PgServer
from tests.staging.conftest import SCHEMA
from tests.staging.test_cli_clone import run, tables_of
from tests.staging.test_clone_safety import _execute

SALT = {"SAFEMIGRATE_MASK_SALT": "a test secret"}

# "Admin" and "Guest" inherit from "User", "Root" from "Admin": SELECT email FROM "User" returns all
# their rows, yet each is a table of its own, which the backup copies on its own.
INHERITS = """
CREATE TABLE "Admin" (level int) INHERITS ("User");
CREATE TABLE "Root" (since date) INHERITS ("Admin");
CREATE TABLE "Guest" () INHERITS ("User");
INSERT INTO "Admin" (email, name, level) VALUES ('rawadmin@corp.com', 'Raw Admin', 1);
INSERT INTO "Root" (email, name, level) VALUES ('rawroot@corp.com', 'Raw Root', 9), ('rawroot2@corp.com', NULL, 9);
"""


def _inherit(source_url: str, target_url: str, more: str = "") -> None:
    """The children in the source; the target has "User" and "Post" already (staging ran the
    migrations): created by the restore, a child's id default would name "User"'s sequence first."""
    _execute(source_url, INHERITS + more)
    _execute(target_url, SCHEMA.partition("INSERT")[0])


def _target_text(url: str) -> str:
    """Every row of every table of the target's public schema, as text."""
    with psycopg.connect(url) as conn:
        return "\n".join(
            str(row)
            for (table,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            for row in conn.execute(sql.SQL("SELECT * FROM ONLY {}").format(sql.Identifier(table)))
        )


def test_masks_reach_children_and_grandchildren(source_url: str, target_url: str, tmp_path: Path) -> None:
    _inherit(source_url, target_url)
    result = clone_database(
        tmp_path,
        to_url=target_url,
        database_url=source_url,
        masks={"User.email": "email", "Post.authorEmail": "email"},
        environ=SALT,
    )
    assert result.masked == (
        MaskedColumn("Admin", "email", "email", 1, inherited_from="User.email"),
        MaskedColumn("Guest", "email", "email", 0, inherited_from="User.email"),
        MaskedColumn("Post", "authorEmail", "email", 3),
        MaskedColumn("Root", "email", "email", 2, inherited_from="User.email"),
        MaskedColumn("User", "email", "email", 3),
    )
    copied = _target_text(target_url)
    assert "corp.com" not in copied and "@example.com" not in copied
    assert "Raw Root" in copied  # columns not masked are copied as they are
    with psycopg.connect(target_url) as conn:
        emails = conn.execute("""SELECT email FROM ONLY "Root" UNION ALL SELECT email FROM ONLY "Admin" """).fetchall()
    assert len(emails) == 3 and all(str(e).endswith("@example.invalid',)") for e in emails)
    # The recreated children inherit as in the source: reading "User" returns theirs too.
    with psycopg.connect(target_url) as conn:
        assert conn.execute('SELECT count(*) FROM "User"').fetchone() == (6,)
    assert all(t.warnings == () for t in result.tables)


def test_a_child_copied_without_its_parent_is_masked(source_url: str, target_url: str, tmp_path: Path) -> None:
    _inherit(source_url, target_url)
    result = clone_database(
        tmp_path,
        to_url=target_url,
        database_url=source_url,
        tables=["Root"],
        masks={"User.email": "email", "Admin.name": "name"},
        environ=SALT,
    )
    assert [(m.table, m.column, m.values, m.inherited_from) for m in result.masked] == [
        ("Root", "email", 2, "User.email"),
        ("Root", "name", 1, "Admin.name"),
    ]
    copied = _target_text(target_url)
    assert "corp.com" not in copied and "Raw Root" not in copied
    # Its parent "Admin" was not copied: the child stays a plain table, and the result says so.
    (root,) = result.tables
    assert len(root.warnings) == 1 and "recreated without inheriting from public.Admin" in root.warnings[0]

    _execute(target_url, 'DROP TABLE "Root"')  # the command line says it too
    done = run("--to", target_url, "--database-url", source_url, "--tables", "Root", "--yes", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "warning: table 'Root' was recreated without inheriting from public.Admin" in done.stderr


def test_a_childs_own_mask_wins_and_conflicts_are_refused(source_url: str, target_url: str, tmp_path: Path) -> None:
    _inherit(source_url, target_url)
    result = clone_database(
        tmp_path,
        to_url=target_url,
        database_url=source_url,
        masks={"User.email": "email", "Admin.email": "hash"},
        environ=SALT,
    )
    rules = {(m.table, m.column): (m.rule, m.inherited_from) for m in result.masked}
    # Root inherits from Admin, whose own mask is the nearer: hash, not User's email
    assert rules[("Admin", "email")] == ("hash", None) and rules[("Root", "email")] == ("hash", "Admin.email")
    assert rules[("Guest", "email")] == ("email", "User.email")
    assert "corp.com" not in _target_text(target_url)

    _execute(source_url, """CREATE TABLE "Staff" (email text); ALTER TABLE "Root" INHERIT "Staff" """)
    with pytest.raises(InputError, match=r"'Root' inherits both") as caught:
        clone_database(
            tmp_path,
            to_url=target_url,
            database_url=source_url,
            masks={"User.email": "email", "Staff.email": "hash"},
            environ=SALT,
        )
    assert "nothing was cloned" in caught.value.message and "--mask Root.email=" in caught.value.hint


def test_a_child_column_the_mask_does_not_fit_is_refused(source_url: str, target_url: str, tmp_path: Path) -> None:
    _inherit(source_url, target_url, """ALTER TABLE "Guest" ALTER COLUMN name SET NOT NULL;""")
    with pytest.raises(InputError, match=r"User.name=null applies to Guest.name too .*NOT NULL") as caught:
        clone_database(tmp_path, to_url=target_url, database_url=source_url, masks={"User.name": "null"}, environ={})
    assert "nothing was cloned" in caught.value.message and "--mask Guest.name=" in caught.value.hint
    assert tables_of(target_url) == ["Post", "User"] and _target_text(target_url) == ""


def test_the_cli_reports_what_was_really_masked(source_url: str, target_url: str, tmp_path: Path) -> None:
    _inherit(source_url, target_url)
    done = run(
        "--to", target_url, "--database-url", source_url, "--mask", "User.email=email", "--yes", cwd=tmp_path, env=SALT
    )
    assert done.returncode == 0, done.stderr
    assert "clone: masked User.email (email): 3 values" in done.stderr
    assert "clone: masked Admin.email (email, inherited from User.email): 1 values" in done.stderr
    assert "clone: masked Root.email (email, inherited from User.email): 2 values" in done.stderr
    assert "then 4 columns masked" in done.stdout


def test_partitions_never_reach_the_target(source_url: str, target_url: str, tmp_path: Path) -> None:
    """Partitions are not copied (backups do not support them yet): a mask on the partitioned table
    is refused, and so is naming a partition; a clone of the rest copies none of their rows."""
    _execute(
        source_url,
        """
        CREATE TABLE "Event" (id int, email text, at date) PARTITION BY RANGE (at);
        CREATE TABLE "Event_2024" PARTITION OF "Event" FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        INSERT INTO "Event" VALUES (1, 'rawevent@corp.com', '2024-05-01');
        """,
    )
    with pytest.raises(InputError, match="'Event' is a partitioned table"):
        clone_database(tmp_path, to_url=target_url, database_url=source_url, masks={"Event.email": "email"}, environ={})
    with pytest.raises(InputError, match="'Event_2024' is a partition"):
        clone_database(tmp_path, to_url=target_url, database_url=source_url, tables=["Event_2024"], environ={})
    result = clone_database(tmp_path, to_url=target_url, database_url=source_url, environ={})
    assert result.skipped_partitioned == ("Event", "Event_2024")
    assert tables_of(target_url) == ["Post", "User"] and "corp.com" not in _target_text(target_url)


def test_nested_domains_are_too_short_before_anything_is_read(source_url: str, target_url: str, tmp_path: Path) -> None:
    _execute(
        source_url,
        """
        CREATE DOMAIN short AS varchar(10);
        CREATE DOMAIN shorter AS short;
        CREATE DOMAIN shortest AS shorter;
        ALTER TABLE "User" ADD COLUMN nick shortest, ADD COLUMN tag short;
        """,
    )
    for column in ("nick", "tag"):
        with pytest.raises(InputError, match=r"too short for the 41 characters"):
            clone_database(
                tmp_path, to_url=target_url, database_url=source_url, masks={f"User.{column}": "email"}, environ={}
            )
    assert tables_of(target_url) == []


def test_an_older_target_schema_is_refused_before_the_backup(
    source_url: str, target_url: str, tmp_path: Path, pg_server: PgServer
) -> None:
    clone_database(tmp_path, to_url=target_url, database_url=source_url, environ={})
    _execute(source_url, """ALTER TABLE "User" ADD COLUMN nickname text""")
    with pytest.raises(CloneRefusedError, match="'User' in the target has no column 'nickname'") as caught:
        clone_database(tmp_path, to_url=target_url, database_url=source_url, environ={})
    assert caught.value.exit_code == EXIT_USAGE and "nothing was cloned" in caught.value.message
    assert "--to-url" not in caught.value.hint and "migrations" in caught.value.hint

    _execute(target_url, """ALTER TABLE "User" ADD COLUMN nickname varchar(5)""")
    done = run("--to", target_url, "--database-url", source_url, "--yes", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Column User.nickname is character varying(5) in the target but text in the source" in done.stderr
    assert "clone: read" not in done.stderr  # refused before the backup
    assert "--to-url" not in done.stderr and pg_server.password not in done.stderr


def test_inherited_masks_nearest_ancestor_wins() -> None:
    lineage = [
        Lineage("User", "Admin"),
        Lineage("User", "Root"),
        Lineage("Admin", "Root"),
        Lineage("Staff", "Root"),
        Lineage("User", "Guest"),
    ]
    user, admin = ColumnMask("User", "email", "email"), ColumnMask("Admin", "email", "hash")
    assert inherited_masks([user], lineage, ["Root", "Guest"]) == (
        ColumnMask("Guest", "email", "email", "User.email"),
        ColumnMask("Root", "email", "email", "User.email"),
    )
    assert inherited_masks([user, admin], lineage, ["Admin", "Root"]) == (
        ColumnMask("Root", "email", "hash", "Admin.email"),
    )
    same = ColumnMask("Staff", "email", "email")
    assert inherited_masks([user, same], lineage, ["Root"]) == (ColumnMask("Root", "email", "email", "Staff.email"),)
    with pytest.raises(InputError, match="'Root' inherits both"):
        inherited_masks([user, ColumnMask("Staff", "email", "null")], lineage, ["Root"])
    assert inherited_masks([user, ColumnMask("Root", "email", "null")], lineage, ["Root"]) == ()  # its own wins


def test_column_difference() -> None:
    text = TargetColumn("email", "text", "text", None)
    assert column_difference("User", [text], [text], "source") is None
    assert column_difference("User", [TargetColumn("lower", "text", "text", "lower(email)")], [], "source") is None
    assert (
        column_difference("User", [text], [], "source")
        == "Table 'User' in the target has no column 'email' that the source has"
    )
    narrow = TargetColumn("email", "character varying(5)", "character varying(5)", None)
    assert column_difference("User", [text], [narrow], "source") == (
        "Column User.email is character varying(5) in the target but text in the source"
    )


# --- The salt stays secret, raw values stay out of the log, staging's newer tables take masked rows ---

RAW = ("ada@example.com", "bob@example.com", "cy@example.com")


@contextlib.contextmanager
def _statement_log(pg_server: PgServer, url: str) -> Iterator[Callable[[], str]]:
    """Every statement of new sessions on ``url``'s database logged with its bind parameters (as
    ``log_min_duration_statement = 0`` and ``log_statement = all`` do in production), and a reader of
    what the server wrote to its log since: the log file of the cluster the suite started."""
    if pg_server.origin not in ("os", "embedded"):
        pytest.skip(f"the log of a {pg_server.origin} server is not a file this process can read")
    database = url.rpartition("/")[2].partition("?")[0]
    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        row = admin.execute("SHOW data_directory").fetchone()
        assert row is not None
        for setting, value in (("log_min_duration_statement", "0"), ("log_statement", "all")):
            admin.execute(
                sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                    sql.Identifier(database), sql.Identifier(setting), sql.Literal(value)
                )
            )
    log = Path(str(row[0])).parent / "server.log"  # pg_ctl -l, see safemigrate/clone/servers.py
    start = log.stat().st_size
    yield lambda: log.read_bytes()[start:].decode("utf-8", "replace")


def _salt_fake(salt: str, value: str) -> str:
    """The email rule's fake, computed here as masks.py documents it: sha256 of salt || value."""
    return "user_" + hashlib.sha256((salt + value).encode()).hexdigest()[:20] + "@example.invalid"


def test_the_salt_never_reaches_the_targets_log(
    source_url: str, target_url: str, tmp_path: Path, pg_server: PgServer
) -> None:
    salt = "AnotherSecret-42-" + uuid.uuid4().hex
    with _statement_log(pg_server, target_url) as logged:
        clone_database(
            tmp_path,
            to_url=target_url,
            database_url=source_url,
            masks={"User.email": "email", "User.name": "name", "User.phone": "phone", "Post.title": "hash"},
            environ={"SAFEMIGRATE_MASK_SALT": salt},
        )
        log = logged()
    assert 'INSERT INTO "public"."User"' in log and "duration:" in log  # the clone's statements were logged
    assert salt not in log
    with psycopg.connect(target_url) as conn:  # the fakes are those of sha256(salt || value), as before
        emails = [r[0] for r in conn.execute("""SELECT email FROM "User" ORDER BY id""")]
    assert emails == [_salt_fake(salt, raw) for raw in RAW]


def test_masks_without_a_salt_are_refused(source_url: str, target_url: str, tmp_path: Path) -> None:
    for environ in ({}, {"SAFEMIGRATE_MASK_SALT": ""}):
        with pytest.raises(MaskSaltError, match="no SAFEMIGRATE_MASK_SALT") as caught:
            clone_database(
                tmp_path, to_url=target_url, database_url=source_url, masks={"User.email": "email"}, environ=environ
            )
        assert caught.value.exit_code == EXIT_USAGE and "openssl rand -hex 32" in caught.value.hint
    (tmp_path / "safemigrate.toml").write_text('[clone]\nsalt_env = "STAGING_SALT"\n')
    with pytest.raises(MaskSaltError, match="no STAGING_SALT"):
        clone_database(
            tmp_path,
            to_url=target_url,
            database_url=source_url,
            masks={"User.email": "email"},
            environ={"SAFEMIGRATE_MASK_SALT": "not the configured one"},
        )
    done = run(
        "--to",
        target_url,
        "--database-url",
        source_url,
        "--mask",
        "User.email=email",
        "--yes",
        cwd=tmp_path,
        env={"SAFEMIGRATE_MASK_SALT": "", "STAGING_SALT": ""},
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert "STAGING_SALT" in done.stderr and "openssl rand -hex 32" in done.stderr
    assert tables_of(target_url) == []  # refused before anything was read or written
    # without a mask, no salt is needed; nor for the null rule, which derives nothing from the value
    clone_database(tmp_path, to_url=target_url, database_url=source_url, masks={"User.phone": "null"}, environ={})


def test_raw_values_of_masked_columns_never_reach_the_targets_log(
    source_url: str, target_url: str, tmp_path: Path, pg_server: PgServer
) -> None:
    """Staging ran a migration that made "name" NOT NULL; cy has none: the load fails, but only the
    masked row meets the constraint, so the log's "Failing row contains" shows the fake."""
    _execute(target_url, SCHEMA.partition("INSERT")[0] + """ALTER TABLE "User" ALTER COLUMN name SET NOT NULL;""")
    with _statement_log(pg_server, target_url) as logged:
        with pytest.raises(RestoreRefusedError, match="violates not-null constraint") as caught:
            clone_database(
                tmp_path, to_url=target_url, database_url=source_url, masks={"User.email": "email"}, environ=SALT
            )
        log = logged()
    assert "Failing row contains" in log and "user_" in log
    for raw in RAW:
        assert raw not in log and raw not in str(caught.value), raw
    assert _target_text(target_url) == ""


def test_masked_tables_load_into_columns_in_another_order_and_more(
    source_url: str, target_url: str, tmp_path: Path
) -> None:
    """Staging ran newer migrations: "User" has a column besides, and its columns in another order."""
    _execute(
        target_url,
        """
        CREATE TYPE "Role" AS ENUM ('USER', 'ADMIN');
        CREATE TABLE "User" (
            nickname text DEFAULT 'none',
            role "Role" NOT NULL DEFAULT 'USER',
            phone varchar(32),
            name text,
            email text NOT NULL,
            id serial PRIMARY KEY
        );
        CREATE UNIQUE INDEX "User_email_key" ON "User" (email);
        """,
    )
    result = clone_database(
        tmp_path,
        to_url=target_url,
        database_url=source_url,
        masks={"User.email": "email", "Post.authorEmail": "email"},
        environ=SALT,
    )
    assert [(m.table, m.column, m.values) for m in result.masked] == [("Post", "authorEmail", 3), ("User", "email", 3)]
    with psycopg.connect(target_url) as conn:
        users = conn.execute("""SELECT id, email, name, role::text, nickname FROM "User" ORDER BY id""").fetchall()
    assert users == [
        (1, _salt_fake("a test secret", "ada@example.com"), "Ada Lovelace", "ADMIN", "none"),
        (2, _salt_fake("a test secret", "bob@example.com"), "Bob Marley", "USER", "none"),
        (3, _salt_fake("a test secret", "cy@example.com"), None, "USER", "none"),
    ]


def test_a_constraint_that_refuses_the_fakes_names_the_mask(source_url: str, target_url: str, tmp_path: Path) -> None:
    """The name rule repeats values: a unique column refuses them, in a table the target has (the
    INSERT of the masked rows) as in one the clone creates (its unique index built after the load)."""
    _execute(
        source_url, """INSERT INTO "User" (email) SELECT 'u' || g || '@example.com' FROM generate_series(1, 300) g"""
    )
    clone_database(tmp_path, to_url=target_url, database_url=source_url, environ={})
    before = _target_text(target_url)
    with pytest.raises(MaskConflictError, match=r"mask User\.email=name break unique index 'User_email_key'") as caught:
        clone_database(tmp_path, to_url=target_url, database_url=source_url, masks={"User.email": "name"}, environ=SALT)
    assert caught.value.exit_code == EXIT_USAGE and "nothing was cloned" in caught.value.message
    assert "email, phone or hash" in caught.value.hint
    assert _target_text(target_url) == before

    # A CHECK that the fakes fail, on the command line: one line, exit 2, the mask named.
    _execute(source_url, """ALTER TABLE "User" ADD CONSTRAINT "User_phone_check" CHECK (phone NOT LIKE '+999%')""")
    _execute(target_url, """ALTER TABLE "User" ADD CONSTRAINT "User_phone_check" CHECK (phone NOT LIKE '+999%')""")
    done = run(
        "--to", target_url, "--database-url", source_url, "--mask", "User.phone=phone", "--yes", cwd=tmp_path, env=SALT
    )
    assert done.returncode == 2 and done.stdout == ""
    assert [line for line in done.stderr.splitlines() if not line.startswith("clone: read")] == [
        done.stderr.splitlines()[-1]
    ], done.stderr
    assert "mask User.phone=phone break check constraint 'User_phone_check' of table 'User'" in done.stderr
    assert _target_text(target_url) == before
    # a constraint no mask is involved in is not blamed on one: the restore's own refusal stands
    _execute(target_url, """DELETE FROM "Post"; CREATE UNIQUE INDEX "Post_authorId_key" ON "Post" ("authorId")""")
    with pytest.raises(RestoreRefusedError, match=r"table 'Post' do not fit .*\"Post_authorId_key\""):
        clone_database(
            tmp_path, to_url=target_url, database_url=source_url, masks={"Post.authorEmail": "email"}, environ=SALT
        )
