"""A role whose password holds every awkward character: real commands on a real server never show it.

The password is built from marker words joined by ' " blank < > @ : / # ? % \\ and non-ASCII letters;
Prisma accepts the URL with ' " blank < > @ : \\ and the letters unencoded, as here. No marker word may
appear in any command's stdout or stderr, nor in any file the commands write (the run ledger under
.safemigrate/backups/runs/ included).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg
import pytest
from psycopg import sql

BLOG = Path(__file__).parents[2] / "fixtures" / "blog"
MARKERS = ("Alpha1", "Bravo2", "Charlie3", "Delta4", "Echo5", "Foxtrot6", "Golf7", "Hotel8", "India9")
JOINERS = ("'", '"', " <", "> @", ":/", "#?", "%\\", "é名")  # between the markers, in this order
PASSWORD = "".join(marker + joiner for marker, joiner in zip(MARKERS, (*JOINERS, ""), strict=True))
MUST_ENCODE = "/#?%"  # a URL parser (Prisma's or ours) cannot take these unencoded in a password


@pytest.fixture
def awkward_role(database_url: str) -> Iterator[str]:
    """A login role with PASSWORD; yields its URL to the test's database, password written as Prisma takes it."""
    role = "awkward_" + uuid.uuid4().hex[:8]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD {}").format(sql.Identifier(role), sql.Literal(PASSWORD))
        )
    parts = urlsplit(database_url)
    written = "".join(quote(char, safe="") if char in MUST_ENCODE else char for char in PASSWORD)
    try:
        yield f"postgresql://{role}:{written}@{parts.hostname}:{parts.port}{parts.path}"
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("REASSIGN OWNED BY {} TO CURRENT_USER").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _safemigrate(project: Path, url: str, *args: str, via_option: bool = False) -> subprocess.CompletedProcess[str]:
    option = ["--database-url", url] if via_option else []
    return subprocess.run(
        [sys.executable, "-m", "safemigrate", *args, "--project", str(project), *option],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
        timeout=300,
    )


def test_no_command_shows_an_awkward_password(awkward_role: str, tmp_path: Path) -> None:
    url = awkward_role
    role = urlsplit(url).username
    project = tmp_path / "blog"
    shutil.copytree(BLOG, project)
    outputs: dict[str, str] = {}

    def run(*args: str, via_option: bool = False) -> subprocess.CompletedProcess[str]:
        done = _safemigrate(project, url, *args, via_option=via_option)
        outputs[" ".join(args) + (" --database-url" if via_option else "")] = done.stdout + done.stderr
        return done

    status = run("status")
    assert status.returncode in (0, 1), status.stderr
    assert f"postgresql://{role}:****@" in status.stdout  # it connected, and shows the URL masked
    run("status", "--format", "json")
    run("status", via_option=True)
    assert run("validate").returncode in (0, 1)
    run("validate", "--format", "json")
    run("plan")
    run("plan", "--format", "json")
    migrate = run("migrate", "--yes")
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    run("migrate", "--yes", "--format", "json")
    run("status", "--format", "json")
    failing = _safemigrate(project, url.rsplit("/", 1)[0] + "/no_such_database", "--debug", "status")
    assert failing.returncode == 2 and "no_such_database" in failing.stderr
    outputs["failing status --debug"] = failing.stdout + failing.stderr

    runs = list((project / ".safemigrate" / "backups" / "runs").glob("*.json"))
    assert runs, "migrate --yes wrote no run file"
    written = {str(path): path.read_text(errors="replace") for path in tmp_path.rglob("*") if path.is_file()}
    for where, text in (*outputs.items(), *written.items()):
        for marker in MARKERS:
            assert marker not in text, f"{marker} in {where}:\n{text[:3000]}"
