"""S3 store problems a review reproduced on a real S3 protocol server (moto's, on 127.0.0.1):

1. credentials that may read but not write passed the store check, so every row was copied before
   the first PUT failed; the check now writes (and deletes) an empty object first;
2. an upload that failed once its last part had landed left the whole data object behind (it was not
   yet in the list of uploaded keys the clean-up deletes), and the multipart upload of a failed file
   was never aborted, its parts kept (and billed) by the bucket."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from safemigrate.backup.project import backup_database
from safemigrate.clone.servers import free_port
from safemigrate.errors import BackupStoreError
from tests.backup.conftest import S3Server


def _start_moto(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(endpoint + "/moto-api/", timeout=2):
                return process, endpoint
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.terminate()
                raise RuntimeError("moto's S3 server did not start") from None
            time.sleep(0.2)


@pytest.fixture
def read_only_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server that checks IAM permissions, a bucket, and the environment set to the keys of
    a user who may get, list and head, not put. Returns the bucket."""
    import boto3

    # The first four calls (bucket, user, policy, key) are made before permissions are enforced.
    process, endpoint = _start_moto({**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "4"})
    try:
        admin = {
            "endpoint_url": endpoint,
            "region_name": "us-east-1",
            "aws_access_key_id": "admin",
            "aws_secret_access_key": "admin",
        }
        boto3.client("s3", **admin).create_bucket(Bucket="read-only-backups")
        iam = boto3.client("iam", **admin)
        iam.create_user(UserName="reader")
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket", "s3:HeadBucket"], "Resource": "*"}
            ],
        }
        iam.put_user_policy(UserName="reader", PolicyName="read-only", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        for name in list(os.environ):
            if name.startswith("AWS_"):
                monkeypatch.delenv(name)
        monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("AWS_REGION", "us-east-1")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        yield "read-only-backups"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_credentials_that_cannot_write_are_refused_before_the_backup_is_taken(
    filled: str, read_only_s3: str, tmp_path: Path
) -> None:
    (tmp_path / "safemigrate.toml").write_text(f'[backup]\nstore = "s3://{read_only_s3}/prod"\n')
    with pytest.raises(BackupStoreError) as refused:
        backup_database(tmp_path, database_url=filled)
    assert refused.value.message.startswith(f"Cannot write a test object in s3://{read_only_s3}/prod: AccessDenied"), (
        refused.value.message
    )
    assert "may read and write this bucket" in refused.value.hint


class _DropCompletions:
    """A TCP proxy to the S3 server that forwards every request but never returns the answer to a
    CompleteMultipartUpload (``POST ...?uploadId=``): the server assembles the object, the client
    sees its connection drop (every retry too), and its upload fails."""

    def __init__(self, upstream_port: int) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.upstream_port = upstream_port
        self.dropped = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            completing = threading.Event()
            threading.Thread(target=self._requests, args=(client, upstream, completing), daemon=True).start()
            threading.Thread(target=self._answers, args=(upstream, client, completing), daemon=True).start()

    def _requests(self, client: socket.socket, upstream: socket.socket, completing: threading.Event) -> None:
        try:
            while data := client.recv(65536):
                line = data.split(b"\r\n", 1)[0]
                if line.startswith(b"POST ") and b"uploadId=" in line:
                    completing.set()
                upstream.sendall(data)
        except OSError:
            pass
        self._close(client, upstream)

    def _answers(self, upstream: socket.socket, client: socket.socket, completing: threading.Event) -> None:
        try:
            while data := upstream.recv(65536):
                if completing.is_set():
                    self.dropped += 1
                    break
                client.sendall(data)
        except OSError:
            pass
        self._close(client, upstream)

    @staticmethod
    def _close(*sockets: socket.socket) -> None:
        for each in sockets:
            with contextlib.suppress(OSError):
                each.shutdown(socket.SHUT_RDWR)
            each.close()

    def close(self) -> None:
        self.listener.close()


def test_a_failed_upload_leaves_no_object_and_no_open_multipart_upload(
    database_url: str, bucket: str, s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    with psycopg.connect(database_url, autocommit=True) as conn:
        # About 13 MB that zstd cannot shrink: above boto3's 8 MB multipart threshold.
        conn.execute(
            "CREATE TABLE blob AS SELECT i AS id, decode(md5(random()::text) || md5(random()::text) "
            "|| md5(random()::text) || md5(random()::text), 'hex') AS bytes FROM generate_series(1, 200000) i"
        )
    proxy = _DropCompletions(int(s3_env.endpoint.rsplit(":", 1)[1]))
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{proxy.port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    (tmp_path / "safemigrate.toml").write_text(f'[backup]\nstore = "s3://{bucket}/prod"\n')
    try:
        with pytest.raises(BackupStoreError, match="Cannot upload backup"):
            backup_database(tmp_path, database_url=database_url, tables=["blob"])
    finally:
        proxy.close()
    assert proxy.dropped >= 1, "the upload never reached CompleteMultipartUpload"

    client = boto3.session.Session().client("s3", endpoint_url=s3_env.endpoint)
    listed = client.list_objects_v2(Bucket=bucket, Prefix="prod/")
    assert [item.get("Key") for item in listed.get("Contents", [])] == []
    assert client.list_multipart_uploads(Bucket=bucket, Prefix="prod/").get("Uploads", []) == []
