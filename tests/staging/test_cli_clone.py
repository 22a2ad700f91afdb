"""`safemigrate clone` as a user runs it: a real process, a real server, no terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

from tests.pgserver import PgServer

# safemigrate's own main(), as the console script runs it (argv[0] named as it would be).
ENTRY = """
import sys
from safemigrate import cli

sys.argv[0] = "safemigrate"
cli.main()
"""


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", ENTRY, "clone", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def tables_of(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").fetchall()
    return [str(r[0]) for r in rows]


def test_clone_with_masks(source_url: str, target_url: str, tmp_path: Path, pg_server: PgServer) -> None:
    done = run(
        "--to",
        target_url,
        "--database-url",
        source_url,
        "--mask",
        "User.email=email",
        "--mask",
        "Post.authorEmail=email",
        "--yes",
        cwd=tmp_path,
        env={"SAFEMIGRATE_MASK_SALT": "cli secret"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Cloned 127.0.0.1:") and "2 tables, 7 rows" in done.stdout
    assert "2 columns masked" in done.stdout
    assert "clone: masked User.email (email): 3 values" in done.stderr
    assert 'clone: "User": 3 rows (created)' in done.stderr
    with psycopg.connect(target_url) as conn:
        joined = conn.execute("""SELECT count(*) FROM "Post" p JOIN "User" u ON u.email = p."authorEmail" """)
        assert joined.fetchone() == (3,)
    assert pg_server.password not in done.stdout + done.stderr


def test_refusals_in_one_line_without_the_password(
    source_url: str, target_url: str, tmp_path: Path, pg_server: PgServer
) -> None:
    no_yes = run("--to", target_url, "--database-url", source_url, cwd=tmp_path)
    assert no_yes.returncode == 2 and "refusing without --yes" in no_yes.stderr
    same = run("--to", source_url, "--database-url", source_url, "--yes", cwd=tmp_path)
    assert same.returncode == 2 and "is the source database itself" in same.stderr
    unknown = run("--to", target_url, "--database-url", source_url, "--mask", "User.mail=email", "--yes", cwd=tmp_path)
    assert unknown.returncode == 2 and "table 'User' has no column 'mail'" in unknown.stderr
    bad_rule = run("--to", target_url, "--database-url", source_url, "--mask", "User.email=scramble", cwd=tmp_path)
    assert bad_rule.returncode == 2 and "unknown mask rule 'scramble'" in bad_rule.stderr
    wrong_password = target_url.replace(pg_server.password, "not-" + pg_server.password[::-1], 1)
    unreachable = run("--to", wrong_password, "--database-url", source_url, "--yes", cwd=tmp_path)
    assert unreachable.returncode == 2 and "rejected the password" in unreachable.stderr
    assert "not-" + pg_server.password[::-1] not in unreachable.stderr
    for output in (no_yes, same, unknown, bad_rule, unreachable):
        assert output.stderr.startswith("error: ") and output.stderr.count("\n") == 1, output.stderr
        assert output.stdout == ""
        assert pg_server.password not in output.stderr
    assert tables_of(target_url) == []
