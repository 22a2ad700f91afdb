"""A real S3 protocol server (moto's server mode) on 127.0.0.1 for the S3 store tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from safemigrate.clone.servers import free_port


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    def environ(self) -> dict[str, str]:
        """The standard AWS settings a user would set for an S3-compatible endpoint."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "test-key-id",
            "AWS_SECRET_ACCESS_KEY": "test-secret-key",
            "AWS_REGION": "us-east-1",
        }


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(endpoint + "/moto-api/", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto's S3 server did not start") from None
                time.sleep(0.2)
        yield S3Server(endpoint)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    """The AWS settings in this process's environment (what boto3 reads), none from the machine."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    for key, value in s3_server.environ().items():
        monkeypatch.setenv(key, value)
    yield s3_server


@pytest.fixture
def bucket(s3_env: S3Server) -> str:
    import boto3

    name = f"backups-{uuid.uuid4().hex[:12]}"
    boto3.session.Session().client("s3").create_bucket(Bucket=name)
    return name


# Retention that keeps nothing by its rules (only what the run ledger protects, and unreadable backups).
NO_RETENTION = "[backup.retention]\nkeep_days = 0\nkeep_last = 0\nkeep_pre_migrate = false\n"


def store_project(folder: Path, store: str, retention: str = NO_RETENTION) -> Path:
    """A project folder whose safemigrate.toml names the backup ``store`` (and ``retention``)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "safemigrate.toml").write_text(f'[backup]\nstore = "{store}"\n{retention}')
    return folder


@pytest.fixture
def filled(database_url: str) -> str:
    """A database with one small table to back up (modules with richer data define their own)."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE account (id int PRIMARY KEY, email text); INSERT INTO account VALUES (1, 'a')")
    return database_url
