"""`backup --scope-from-migrations`: the tables the pending migrations touch, read from `lint --pending`
and the live catalog of a real PostgreSQL database whose `_prisma_migrations` records the applied ones."""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql

from safemigrate.backup.scope import BackupScope, SkippedTable, backup_scope
from safemigrate.db import prisma_migrations as pm
from safemigrate.migrations import list_migrations

SCHEMA = """datasource db {
  provider = "postgresql"
  url      = env("DATABASE_URL")
}
"""

INIT = """
CREATE TYPE "Role" AS ENUM ('USER', 'MODERATOR', 'ADMIN');
CREATE TABLE "User" (
    "id" SERIAL NOT NULL,
    "email" TEXT NOT NULL,
    "role" "Role" NOT NULL DEFAULT 'USER',
    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "Post" (
    "id" SERIAL NOT NULL,
    "authorId" INTEGER NOT NULL,
    CONSTRAINT "Post_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "Comment" (
    "id" SERIAL NOT NULL,
    "postId" INTEGER NOT NULL,
    CONSTRAINT "Comment_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "Like" (
    "id" SERIAL NOT NULL,
    "postId" INTEGER,
    CONSTRAINT "Like_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "AuditLog" (
    "id" SERIAL NOT NULL,
    "userId" INTEGER NOT NULL,
    CONSTRAINT "AuditLog_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "Tag" (
    "id" SERIAL NOT NULL,
    "name" TEXT,
    "weight" INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT "Tag_pkey" PRIMARY KEY ("id")
);
ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id")
    ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "Comment" ADD CONSTRAINT "Comment_postId_fkey" FOREIGN KEY ("postId") REFERENCES "Post"("id")
    ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "Like" ADD CONSTRAINT "Like_postId_fkey" FOREIGN KEY ("postId") REFERENCES "Post"("id")
    ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE "AuditLog" ADD CONSTRAINT "AuditLog_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id")
    ON DELETE RESTRICT ON UPDATE CASCADE;
"""

INIT_NAME = "20240101000000_init"


def _project(tmp_path: Path, *pending_sql: str) -> Path:
    """A Prisma project: the init migration, then one migration folder per SQL text given."""
    project = tmp_path / "app"
    migrations = project / "prisma" / "migrations"
    migrations.mkdir(parents=True)
    (project / "prisma" / "schema.prisma").write_text(SCHEMA)
    (migrations / "migration_lock.toml").write_text('provider = "postgresql"\n')
    for index, text in enumerate((INIT, *pending_sql)):
        name = INIT_NAME if index == 0 else f"2024020{index}000000_change_{index}"
        (migrations / name).mkdir()
        (migrations / name / "migration.sql").write_text(text)
    return project


def _apply(project: Path, database_url: str, count: int = 1) -> None:
    """Run the first ``count`` migrations and record them as `prisma migrate deploy` does."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        pm.create_migrations_table(conn, "public")
        for migration in list_migrations(project / "prisma" / "migrations")[:count]:
            conn.execute(migration.data, prepare=False)
            pm.record_migration_deployed(conn, "public", migration.name, migration.data)


def _scope(tmp_path: Path, database_url: str, *pending_sql: str) -> BackupScope:
    project = _project(tmp_path, *pending_sql)
    _apply(project, database_url)
    return backup_scope(project, database_url=database_url)


def _rules(scope: BackupScope, table: str) -> str:
    return " | ".join(scope.reasons[table])


def test_drop_column_scopes_its_table(tmp_path: Path, database_url: str) -> None:
    scope = _scope(tmp_path, database_url, 'ALTER TABLE "Tag" DROP COLUMN "name";')
    assert scope.tables == ("Tag",)
    assert scope.reasons["Tag"] == ("20240201000000_change_1: drop-column (data-loss, column name)",)
    assert scope.migrations == ("20240201000000_change_1",)
    assert scope.skipped == ()
    assert scope.schema == "public"


def test_set_not_null_scopes_its_table(tmp_path: Path, database_url: str) -> None:
    scope = _scope(tmp_path, database_url, 'ALTER TABLE "Tag" ALTER COLUMN "name" SET NOT NULL;')
    assert scope.tables == ("Tag",)
    assert "set-not-null (may-fail, column name)" in _rules(scope, "Tag")


def test_type_change_that_rewrites_scopes_its_table(tmp_path: Path, database_url: str) -> None:
    scope = _scope(tmp_path, database_url, 'ALTER TABLE "Tag" ALTER COLUMN "weight" SET DATA TYPE BIGINT;')
    assert scope.tables == ("Tag",)
    assert "type-change-rewrite (lock, column weight)" in _rules(scope, "Tag")


def test_new_unique_index_scopes_its_table(tmp_path: Path, database_url: str) -> None:
    scope = _scope(tmp_path, database_url, 'CREATE UNIQUE INDEX "Tag_name_key" ON "Tag"("name");')
    assert scope.tables == ("Tag",)
    assert "unique-on-existing-table (may-fail" in _rules(scope, "Tag")


def test_lock_only_findings_leave_the_scope_empty(tmp_path: Path, database_url: str) -> None:
    """A plain index build blocks writes but changes no row: nothing to back up."""
    scope = _scope(tmp_path, database_url, 'CREATE INDEX "Tag_name_idx" ON "Tag"("name");')
    assert scope.migrations == ("20240201000000_change_1",)
    assert scope.empty
    assert scope.tables == ()


def test_delete_reaches_the_children_its_foreign_keys_cascade_to(tmp_path: Path, database_url: str) -> None:
    scope = _scope(tmp_path, database_url, """DELETE FROM "User" WHERE "email" LIKE '%@example.com';""")
    # Post: ON DELETE CASCADE from User; Comment: CASCADE from Post (transitively); Like: SET NULL
    # from Post; AuditLog: ON DELETE RESTRICT, its rows cannot change.
    assert scope.tables == ("Comment", "Like", "Post", "User")
    assert scope.reasons["User"] == ("20240201000000_change_1: delete (data-loss)",)
    assert scope.reasons["Post"] == ("ON DELETE CASCADE from User (Post_authorId_fkey)",)
    assert scope.reasons["Comment"] == ("ON DELETE CASCADE from Post (Comment_postId_fkey)",)
    assert scope.reasons["Like"] == ("ON DELETE SET NULL from Post (Like_postId_fkey)",)


def test_update_reaches_the_children_of_its_on_update_actions(tmp_path: Path, database_url: str) -> None:
    scope = _scope(tmp_path, database_url, 'UPDATE "User" SET "id" = "id" + 1000;')
    assert "AuditLog" in scope.tables
    assert "ON UPDATE CASCADE from User (AuditLog_userId_fkey)" in scope.reasons["AuditLog"]
    assert "update (data-loss, column id)" in _rules(scope, "User")


def test_truncate_cascade_reaches_every_referencing_table(tmp_path: Path, database_url: str) -> None:
    scope = _scope(tmp_path, database_url, 'TRUNCATE "User" CASCADE;')
    assert scope.tables == ("AuditLog", "Comment", "Like", "Post", "User")
    assert "TRUNCATE ... CASCADE of User empties it (AuditLog_userId_fkey)" in scope.reasons["AuditLog"]
    assert "TRUNCATE ... CASCADE of Post empties it (Like_postId_fkey)" in scope.reasons["Like"]


def test_drop_table_cascade_scopes_the_tables_whose_foreign_keys_it_drops(tmp_path: Path, database_url: str) -> None:
    scope = _scope(tmp_path, database_url, 'DROP TABLE "Post" CASCADE;')
    assert scope.tables == ("Comment", "Like", "Post")
    assert "drop-table (data-loss)" in _rules(scope, "Post")
    assert "its foreign key Like_postId_fkey to Post is dropped by CASCADE" in scope.reasons["Like"]


def test_no_pending_migration_gives_an_empty_scope(tmp_path: Path, database_url: str) -> None:
    project = _project(tmp_path, 'ALTER TABLE "Tag" DROP COLUMN "name";')
    _apply(project, database_url, count=2)
    scope = backup_scope(project, database_url=database_url)
    assert scope == BackupScope("public", (), {}, ())
    assert scope.empty


def test_table_created_by_a_pending_migration_is_skipped(tmp_path: Path, database_url: str) -> None:
    scope = _scope(
        tmp_path,
        database_url,
        'CREATE TABLE "Draft" ("id" SERIAL NOT NULL, "title" TEXT, CONSTRAINT "Draft_pkey" PRIMARY KEY ("id"));',
        'ALTER TABLE "Draft" ALTER COLUMN "title" SET NOT NULL;\n'
        'CREATE UNIQUE INDEX "Draft_title_key" ON "Draft"("title");\n'
        'ALTER TABLE "Tag" DROP COLUMN "name";',
    )
    assert scope.tables == ("Tag",)
    assert scope.skipped == (SkippedTable("Draft", "created by pending migration 20240201000000_change_1"),)
    assert scope.migrations == ("20240201000000_change_1", "20240202000000_change_2")


def test_renamed_table_is_scoped_under_its_current_name(tmp_path: Path, database_url: str) -> None:
    scope = _scope(
        tmp_path,
        database_url,
        'ALTER TABLE "Tag" RENAME TO "Label";',
        'ALTER TABLE "Label" DROP COLUMN "name";',
    )
    assert scope.tables == ("Tag",)
    assert scope.reasons["Tag"] == (
        "20240202000000_change_2: drop-column (data-loss, column name) (named Label there)",
    )
    assert scope.skipped == ()


def test_enum_value_removal_scopes_the_tables_using_the_enum(tmp_path: Path, database_url: str) -> None:
    scope = _scope(
        tmp_path,
        database_url,
        # What `prisma migrate diff` writes when a value is removed from an enum.
        "BEGIN;\n"
        "CREATE TYPE \"Role_new\" AS ENUM ('USER', 'ADMIN');\n"
        'ALTER TABLE "User" ALTER COLUMN "role" DROP DEFAULT;\n'
        'ALTER TABLE "User" ALTER COLUMN "role" TYPE "Role_new" USING ("role"::text::"Role_new");\n'
        'ALTER TYPE "Role" RENAME TO "Role_old";\n'
        'ALTER TYPE "Role_new" RENAME TO "Role";\n'
        'DROP TYPE "Role_old";\n'
        'ALTER TABLE "User" ALTER COLUMN "role" SET DEFAULT \'USER\';\n'
        "COMMIT;\n",
    )
    assert "User" in scope.tables
    assert "enum-value-removed (data-loss, column role)" in _rules(scope, "User")


def test_drop_type_cascade_scopes_the_tables_with_columns_of_that_type(tmp_path: Path, database_url: str) -> None:
    scope = _scope(tmp_path, database_url, 'DROP TYPE "Role" CASCADE;')
    assert "User" in scope.tables
    assert 'drop-type-cascade (data-loss): drops column role ("Role")' in _rules(scope, "User")


def test_table_missing_from_the_database_is_skipped(tmp_path: Path, database_url: str) -> None:
    project = _project(tmp_path, 'ALTER TABLE "Tag" DROP COLUMN "name";')
    _apply(project, database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute('DROP TABLE "Tag"')  # drift: the history has it, the database does not
    scope = backup_scope(project, database_url=database_url)
    assert scope.tables == ()
    assert scope.skipped == (SkippedTable("Tag", "not in the database"),)


def test_unqualified_names_live_in_the_urls_schema(tmp_path: Path, database_url: str) -> None:
    schema = "tenant"
    project = _project(tmp_path, 'ALTER TABLE "Tag" DROP COLUMN "name";')
    url = f"{database_url}?schema={schema}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        pm.create_migrations_table(conn, schema)
        migration = list_migrations(project / "prisma" / "migrations")[0]
        conn.execute(migration.data, prepare=False)
        pm.record_migration_deployed(conn, schema, migration.name, migration.data)
    scope = backup_scope(project, database_url=url)
    assert scope.schema == schema
    assert scope.tables == ("Tag",)


def test_dropped_column_of_a_parent_leaves_its_children_out(tmp_path: Path, database_url: str) -> None:
    """DROP COLUMN changes no row of another table: Post (ON DELETE CASCADE from User) stays out."""
    scope = _scope(tmp_path, database_url, 'ALTER TABLE "User" DROP COLUMN "email";')
    assert scope.tables == ("User",)


def test_drop_schema_cascade_scopes_every_table_but_prismas_history(tmp_path: Path, database_url: str) -> None:
    scope = _scope(tmp_path, database_url, 'DROP SCHEMA "public" CASCADE;')
    assert scope.tables == ("AuditLog", "Comment", "Like", "Post", "Tag", "User")
    assert "drop-schema (data-loss): drops schema public" in _rules(scope, "Tag")


def test_drop_owned_by_scopes_every_table_but_prismas_history(tmp_path: Path, database_url: str) -> None:
    """DROP OWNED BY drops whatever its roles own: which tables is not in the SQL, so all of them."""
    scope = _scope(tmp_path, database_url, "DROP OWNED BY app_user;")
    assert scope.tables == ("AuditLog", "Comment", "Like", "Post", "Tag", "User")
    assert "drop-owned (data-loss): DROP OWNED BY drops the tables its roles own" in _rules(scope, "Tag")


def test_statements_the_linter_cannot_read_are_reported(tmp_path: Path, database_url: str) -> None:
    scope = _scope(tmp_path, database_url, 'DO $$ BEGIN DELETE FROM "Tag"; END $$;')
    assert scope.tables == ()
    assert scope.unread == ("20240201000000_change_1: line 1",)


def test_sequence_reset_scopes_the_table_that_owns_the_sequence(tmp_path: Path, database_url: str) -> None:
    """No row changes, but a rollback restores the table's sequence with it; a sequence no table
    owns is no table to back up (nor one "missing from the database")."""
    project = _project(
        tmp_path,
        'ALTER SEQUENCE "Tag_id_seq" RESTART WITH 1;\n'
        "SELECT setval('\"User_id_seq\"', 5);\n"
        'ALTER SEQUENCE "ticket_seq" RESTART WITH 7;',
    )
    _apply(project, database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute('CREATE SEQUENCE "ticket_seq"')
    scope = backup_scope(project, database_url=database_url)
    assert scope.tables == ("Tag", "User")
    assert "sequence-reset (may-fail, column id)" in _rules(scope, "Tag")
    assert "sequence-reset (may-fail, column id)" in _rules(scope, "User")
    assert scope.skipped == ()
