"""A real HTTP server on 127.0.0.1 that records the webhook requests it gets and answers as told."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# The path of a Slack incoming webhook is its secret; tests check it never shows.
SECRET_PATH = "/services/T0SECRET1/B0SECRET2/xoxSecretToken0123456789"


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: str = "ok"
    delay: float = 0.0  # seconds to wait before answering


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookServer:
    url: str = ""  # base URL, http://127.0.0.1:port
    answers: list[Answer] = field(default_factory=list)  # consumed in order; then 200 "ok"
    received: list[Received] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def secret_url(self) -> str:
        return self.url + SECRET_PATH

    def next_answer(self) -> Answer:
        with self.lock:
            return self.answers.pop(0) if self.answers else Answer()


def _handler(server: WebhookServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with server.lock:
                server.received.append(Received("POST", self.path, dict(self.headers.items()), body))
            answer = server.next_answer()
            if answer.delay:
                server.stopping.wait(answer.delay)
            data = answer.body.encode()
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (timeout test)
                pass

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

    return Handler


@contextmanager
def webhook_server() -> Iterator[WebhookServer]:
    state = WebhookServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        state.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()
