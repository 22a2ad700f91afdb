"""Found by review: a webhook that answers one byte at a time held the command without limit (the
timeout limited each socket read, not the request); a webhook URL with a tab or DEL in its path
printed the secret (http.client's message quotes the URL escaped, so the scrubbing missed it); a
failed `safemigrate backup` notified "Backup failed on the database" without naming it."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from safemigrate.notify.events import Event, backup_failed_event
from safemigrate.notify.send import send
from safemigrate.notify.settings import NotificationsConfig, parse_notifications
from tests.cli_run import run_cli
from tests.notify.webhook_server import SECRET_PATH, webhook_server

TIMEOUT = 1.0  # seconds, the webhook's `timeout`
DRIP_EVERY = 0.2  # seconds between two bytes of a dripped answer
DRIP_BYTES = 40  # 8 s of dripping: eight times the timeout, which each attempt must not outlast


@dataclass
class Dripped:
    url: str
    hung_up_after: list[int | None] = field(default_factory=list)  # per request: bytes dripped; None: all


@contextmanager
def dripping_server(head: bytes, drip: bytes) -> Iterator[Dripped]:
    """A real HTTP server on 127.0.0.1 that reads each request, sends ``head`` at once, then ``drip``
    one byte every DRIP_EVERY seconds, and records for each request how many bytes it had dripped when
    the client hung up (None when it sent them all)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)  # so that the server notices it is stopped
    stopping = threading.Event()
    state = Dripped(f"http://127.0.0.1:{listener.getsockname()[1]}")

    def answer(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(30)
            received = b""
            sent = 0
            try:
                while b"\r\n\r\n" not in received:
                    received += conn.recv(65536)
                conn.sendall(head)
                for byte in drip:
                    if stopping.wait(DRIP_EVERY):
                        return
                    conn.sendall(bytes([byte]))
                    sent += 1
                state.hung_up_after.append(None)
            except OSError:  # the client gave up: what the fix makes it do
                state.hung_up_after.append(sent)

    def serve() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        stopping.set()
        listener.close()
        thread.join(5)


def _config(timeout: float = TIMEOUT) -> NotificationsConfig:
    return parse_notifications(
        {"notifications": {"webhooks": [{"kind": "json", "url_env": "HOOK", "timeout": timeout}]}}, "inline"
    )


def _event() -> Event:
    return backup_failed_event("The disk is full.", database="db:5432/app?schema=public")


@pytest.mark.parametrize(
    ("head", "drip", "problem"),
    [
        (b"", b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * DRIP_BYTES, f"no answer within {TIMEOUT:g} s"),
        (b"HTTP/1.1 500 Oops\r\nContent-Length: 600\r\n\r\n", b"e" * DRIP_BYTES, "HTTP 500"),
    ],
    ids=["status-and-headers-dripped", "error-body-dripped"],
)
def test_a_dripping_webhook_is_given_up_within_each_attempts_timeout(head: bytes, drip: bytes, problem: str) -> None:
    """The timeout bounds each attempt as a whole: the client hangs up in the middle of an answer that
    takes eight times the timeout to arrive (it read every byte before, since each one came within the
    timeout of the last), on both attempts."""
    with dripping_server(head, drip) as server:
        (delivery,) = send(_event(), _config(), {"HOOK": server.url + SECRET_PATH})
        for _ in range(100):  # the server sees a hang-up at its next byte
            if len(server.hung_up_after) == 2:
                break
            threading.Event().wait(DRIP_EVERY)
    assert not delivery.ok and delivery.attempts == 2
    assert problem in delivery.error, delivery.error
    assert len(server.hung_up_after) == 2
    assert all(sent is not None and sent < len(drip) for sent in server.hung_up_after), server.hung_up_after


@pytest.mark.parametrize("character", ["\t", "\x7f", " ", "\x1b"], ids=["tab", "del", "space", "escape"])
def test_a_webhook_url_with_a_control_character_is_refused_without_showing_it(character: str) -> None:
    with webhook_server() as server:
        secret = f"/services/T0SECRET1/B0SECRET2/XoxSecret{character}Token0123456789"
        (delivery,) = send(_event(), _config(), {"HOOK": server.url + secret})
        assert server.received == [], "no request is made"
    assert not delivery.ok and delivery.attempts == 0
    assert delivery.target == f"{server.url}/…"
    shown = delivery.describe()
    assert shown == (
        f"Not notified backup_failed to the json webhook HOOK ({server.url}/…): HOOK holds a URL with a space "
        "or a control character (a tab, a line break, DEL...), which no request can carry."
    )
    for piece in ("XoxSecret", "Token0123456789", "SECRET", "services"):
        assert piece not in shown and piece not in repr(delivery)


def test_a_failed_backup_names_its_database_without_the_password(tmp_path: Path) -> None:
    """`safemigrate backup` that cannot connect: the backup_failed notification names the database in
    the form the backups' manifests (and backup_stale) use, host:port/database?schema=."""
    (tmp_path / "safemigrate.toml").write_text(
        '[backup]\nstore = "store"\n\n[[notifications.webhooks]]\nkind = "json"\nurl_env = "HOOK"\n'
    )
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    url = f"postgresql://app:Pa55wordSecret@127.0.0.1:{port}/shop?schema=sales"
    with webhook_server() as server:
        result = run_cli(tmp_path, "backup", "--database-url", url, env={"HOOK": server.url + "/hook"})
        bodies = [json.loads(r.body) for r in server.received]
    assert result.returncode != 0, result.stdout + result.stderr
    assert [b["event"] for b in bodies] == ["backup_failed"], result.stderr
    body = bodies[0]
    assert body["backup"]["database"] == f"127.0.0.1:{port}/shop?schema=sales"
    assert body["title"] == f"Backup failed on 127.0.0.1:{port}/shop?schema=sales"
    assert "Pa55wordSecret" not in json.dumps(body)
