"""`safemigrate plan` end to end: exit codes, JSON shape, markdown, no password in any output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.pgserver import PgServer
from tests.plan.conftest import apply_first, make_project, run_sql

INIT = 'CREATE TABLE "User" ("id" SERIAL PRIMARY KEY, "email" TEXT, "name" TEXT);'


def _cli(project: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "safemigrate", "plan", "--project", str(project), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": database_url},
        check=False,
    )


def test_clean_plan_exits_0_and_failing_plan_exits_1(tmp_path: Path, database_url: str, pg_server: PgServer) -> None:
    project = make_project(tmp_path, INIT, 'CREATE UNIQUE INDEX "User_email_key" ON "User"("email");\n')
    apply_first(project, database_url)
    run_sql(database_url, """INSERT INTO "User" ("email") VALUES ('a@x.io'), ('b@x.io'); ANALYZE "User";""")

    clean = _cli(project, database_url)
    assert clean.returncode == 0, clean.stderr
    assert "passed" in clean.stdout and "No preflight check predicts a failure." in clean.stdout

    run_sql(database_url, """INSERT INTO "User" ("email") VALUES ('a@x.io');""")
    failing = _cli(project, database_url, "--format", "json")
    assert failing.returncode == 1, failing.stderr
    document = json.loads(failing.stdout)
    assert list(document) == [
        "version",
        "tool",
        "database",
        "verdict",
        "migrations",
        "findings",
        "checks",
        "blockers",
        "backup_scope",
        "clone",
        "settings",
    ]
    assert document["verdict"] == {
        "predicts_failure": True,
        "failed_checks": 1,
        "unfinished_checks": 0,
        "failed_migrations": [],
    }
    (check,) = document["checks"]
    assert check["kind"] == "duplicates" and check["outcome"] == "failed"
    assert check["count"] == 1 and check["samples"] == ["a@x.io (×2)"] and check["sample_label"] == "email"
    assert check["file"].endswith("20240201000000_change_1/migration.sql") and check["line"] == 1
    assert [m["name"] for m in document["migrations"]] == ["20240201000000_change_1"]
    assert document["clone"] == "database" and document["settings"]["check_budget"] == 60.0
    assert document["backup_scope"]["tables"] == ["User"]
    lock = next(f for f in document["findings"] if f["rule"] == "create-index-non-concurrent")
    assert lock["severity"] == "info" and lock["lint_severity"] == "warning"
    assert lock["table"]["name"] == "User" and lock["severity_reason"]

    markdown = _cli(project, database_url, "--format", "markdown")
    assert markdown.returncode == 1
    assert markdown.stdout.startswith("## safemigrate plan")
    assert "| failed | `" in markdown.stdout and "a@x.io (×2)" in markdown.stdout
    for completed in (clean, failing, markdown):
        assert pg_server.password not in completed.stdout + completed.stderr


def test_unreachable_database_exits_2(tmp_path: Path) -> None:
    project = make_project(tmp_path, INIT)
    completed = _cli(project, "postgresql://app:secret-pw@127.0.0.1:1/app")
    assert completed.returncode == 2
    assert completed.stderr.startswith("error: ") and "secret-pw" not in completed.stderr
    assert "Traceback" not in completed.stderr
