"""Each npm script init adds, run through the real npm with `safemigrate` on PATH and DATABASE_URL set,
as a developer (on a terminal) or CI (no terminal) runs it."""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from safemigrate.backup.project import project_backups
from safemigrate.init import apply_init, plan_init
from safemigrate.migrations import list_migrations
from safemigrate.pipeline.apply import apply_migrations
from safemigrate.status import APPLIED, PENDING, read_status

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(shutil.which("npm") is None, reason="npm (Node.js) is not installed"),
]

VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def npm_project(prisma_project: Path, database_url: str) -> tuple[Path, dict[str, str]]:
    """The project after `init --force` (so db:lint is ours), with the first four blog migrations deployed."""
    apply_init(plan_init(prisma_project, force=True))
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn, "public", list_migrations(prisma_project / "prisma" / "migrations")[:4])
        conn.execute("""INSERT INTO "User" (email, name) VALUES ('ada@example.com', 'Ada')""")
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "DATABASE_URL": database_url,
        "npm_config_update_notifier": "false",
        "npm_config_cache": str(prisma_project.parent / "npm-cache"),
        "NO_COLOR": "1",
    }
    return prisma_project, env


def npm(project: Path, env: dict[str, str], script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`npm run script [-- args]` without a terminal, as in CI."""
    command = ["npm", "run", script, *(["--", *args] if args else [])]
    return subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
    )


def npm_on_terminal(project: Path, env: dict[str, str], script: str, answers: list[tuple[str, str]]) -> tuple[int, str]:
    """`npm run script` on a pseudo-terminal, typing each answer once its prompt has appeared."""
    main, child = pty.openpty()
    process = subprocess.Popen(
        ["npm", "run", script], cwd=project, env=env, stdin=child, stdout=child, stderr=child, start_new_session=True
    )
    os.close(child)
    output, searched = "", 0
    pending = list(answers)
    try:
        while True:
            ready, _, _ = select.select([main], [], [], 120)
            if not ready:
                process.kill()
                raise AssertionError(f"npm run {script} stopped answering; output so far:\n{output}")
            try:
                chunk = os.read(main, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk.decode("utf-8", errors="replace")
            if pending and pending[0][0] in output[searched:]:
                searched = output.index(pending[0][0], searched) + len(pending[0][0])
                os.write(main, pending.pop(0)[1].encode())
    finally:
        os.close(main)
    return process.wait(), output


def _user_names(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [str(r[0]) for r in conn.execute('SELECT name FROM "User" ORDER BY id')]


def _states(project: Path, url: str) -> list[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        report = read_status(conn, list_migrations(project / "prisma" / "migrations"), schema="public")
    return [s.state for s in report.migrations]


def test_read_only_scripts_report_with_the_exit_codes_of_their_commands(
    npm_project: tuple[Path, dict[str, str]],
) -> None:
    project, env = npm_project
    lint = npm(project, env, "db:lint")
    assert lint.returncode == 1, lint.stderr  # the blog drops a column and a table: findings
    assert "drop-column" in lint.stdout
    plan = npm(project, env, "db:plan")
    assert plan.returncode == 0, plan.stderr
    assert "Backup scope: Comment, Post" in plan.stdout
    dry_run = npm(project, env, "db:dry-run")
    assert dry_run.returncode == 0, dry_run.stderr
    assert "Rehearsal passed." in dry_run.stdout
    validate = npm(project, env, "db:validate")
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "No problems found" in validate.stdout


def test_backup_scripts_then_restore_latest_needs_yes_off_a_terminal(npm_project: tuple[Path, dict[str, str]]) -> None:
    project, env = npm_project
    url = env["DATABASE_URL"]
    auto = npm(project, env, "db:backup:auto")
    assert auto.returncode == 0, auto.stderr
    full = npm(project, env, "db:backup")
    assert full.returncode == 0, full.stderr
    scoped, everything = project_backups(project)
    assert scoped.reason.kind == "pre-migrate" and {t.name for t in scoped.tables} == {"Comment", "Post"}
    assert {"User", "Post", "Comment"} <= {t.name for t in everything.tables}

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("""UPDATE "User" SET name = 'changed'""")
    refused = npm(project, env, "db:restore:latest")
    assert refused.returncode == 2
    assert "refusing without --yes when not run on a terminal" in refused.stderr
    assert _user_names(url) == ["changed"]
    restored = npm(project, env, "db:restore:latest", "--yes")
    assert restored.returncode == 0, restored.stderr
    assert f"Restored backup {everything.id}" in restored.stdout
    assert _user_names(url) == ["Ada"]

    no_choice = npm(project, env, "db:restore")
    assert no_choice.returncode == 2 and "Name the backup to restore with --id ID" in no_choice.stderr


def test_restore_on_a_terminal_asks_which_backup_and_confirms(npm_project: tuple[Path, dict[str, str]]) -> None:
    project, env = npm_project
    url = env["DATABASE_URL"]
    assert npm(project, env, "db:backup").returncode == 0
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("""UPDATE "User" SET name = 'changed'""")
    code, output = npm_on_terminal(
        project, env, "db:restore", [("Restore which backup", "1\n"), ("replacing their rows?", "y\n")]
    )
    assert code == 0, output
    assert "counts and fingerprints match" in output
    assert _user_names(url) == ["Ada"]


def test_migrate_safe_needs_yes_in_ci_then_rollback_is_interactive(npm_project: tuple[Path, dict[str, str]]) -> None:
    project, env = npm_project
    url = env["DATABASE_URL"]
    pending = [APPLIED] * 4 + [PENDING] * 3
    refused = npm(project, env, "db:migrate:safe")
    assert refused.returncode == 2 and "refusing without --yes" in refused.stderr
    assert _states(project, url) == pending
    risky = npm(project, env, "db:migrate:safe", "--yes")
    assert risky.returncode == 1 and "drop-table (data-loss)" in risky.stdout  # the blog drops a table
    assert _states(project, url) == pending
    applied = npm(project, env, "db:migrate:safe", "--yes", "--allow", "data-loss")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "verification passed" in applied.stdout
    assert _states(project, url) == [APPLIED] * 7
    validate = npm(project, env, "db:validate")
    assert validate.returncode == 0, validate.stdout

    off_terminal = npm(project, env, "db:rollback")
    assert off_terminal.returncode == 2 and "--interactive needs a terminal" in off_terminal.stderr
    code, output = npm_on_terminal(project, env, "db:rollback", [("Undo which run", "1\n"), ("Go ahead?", "y\n")])
    assert code == 0, output
    assert "Rolled back run" in output
    rolled_back = _states(project, url)
    assert rolled_back[:4] == [APPLIED] * 4 and APPLIED not in rolled_back[4:]
    assert _user_names(url) == ["Ada"]


def test_clone_to_staging_needs_yes_off_a_terminal_then_copies_the_database(
    npm_project: tuple[Path, dict[str, str]],
) -> None:
    project, env = npm_project
    staging = "staging_" + uuid.uuid4().hex[:8]
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(staging)))
    staging_env = {**env, "STAGING_DATABASE_URL": env["DATABASE_URL"].rsplit("/", 1)[0] + "/" + staging}
    try:
        refused = npm(project, staging_env, "db:clone:to-staging")
        assert refused.returncode == 2 and "refusing without --yes" in refused.stderr
        cloned = npm(project, staging_env, "db:clone:to-staging", "--yes")
        assert cloned.returncode == 0, cloned.stdout + cloned.stderr
        assert _user_names(staging_env["STAGING_DATABASE_URL"]) == ["Ada"]
    finally:
        with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(staging)))
