"""Posting an event to the configured webhooks, with the standard library's urllib.

Each webhook whose ``events`` include the event gets one POST of JSON (at most two attempts: a
second one after a connection failure, a timeout, HTTP 429 or 5xx; never after another 4xx, which
will not change), each attempt bounded as a whole by the webhook's ``timeout``. Nothing here
raises: each webhook's outcome comes back as a :class:`Delivery` for the caller to report, because
a notification must never fail a migration.

A webhook URL is a secret (whoever has it can post), so it is read from the environment at send
time and never put in a Delivery, a message or a log: only ``scheme://host/…`` is shown.
Redirects are not followed (a POST would be replayed as a GET, or sent to another host).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from safemigrate import __version__
from safemigrate.db.url import redact_url
from safemigrate.notify.events import (
    BackupLike,
    Event,
    RollbackLike,
    backup_failed_event,
    rollback_event,
    run_event,
    stale_backup_event,
)
from safemigrate.notify.payloads import json_payload, slack_payload
from safemigrate.notify.settings import EventKind, NotificationsConfig, Webhook, WebhookKind

if TYPE_CHECKING:
    import urllib.error
    import urllib.request

ATTEMPTS = 2
RETRY_PAUSE = 0.5  # seconds between the two attempts
_ANSWER_CHARS = 120  # of the webhook's error body, e.g. Slack's "invalid_token" or "no_service"


@dataclass(frozen=True)
class Delivery:
    """What happened to one webhook; never holds its URL."""

    event: EventKind
    kind: WebhookKind
    url_env: str  # the environment variable the URL came from
    target: str  # scheme://host/… ("" when the variable is unset or not an http(s) URL)
    ok: bool
    attempts: int  # HTTP requests made (0 when none could be)
    status: int | None = None  # the last HTTP status, when there was an answer
    error: str = ""  # one sentence when not ok

    def describe(self) -> str:
        """One line for a report: where it went and how it ended."""
        if self.ok:
            return f"Notified {self.event} to the {self.kind} webhook {self.url_env} ({self.target})."
        return self.error


def send(event: Event, config: NotificationsConfig, environ: Mapping[str, str] = os.environ) -> tuple[Delivery, ...]:
    """Post ``event`` to each webhook that wants it; one Delivery per webhook tried. Never raises."""
    return tuple(_deliver(event, webhook, environ) for webhook in config.webhooks if event.kind in webhook.events)


def notify_run(
    run: Mapping[str, object], config: NotificationsConfig, environ: Mapping[str, str] = os.environ
) -> tuple[Delivery, ...]:
    """Notify a `migrate` run from its ledger entry (``run_to_dict``). Never raises."""
    return _send_built(lambda: run_event(run), config, environ)


def notify_rollback(
    result: RollbackLike,
    config: NotificationsConfig,
    environ: Mapping[str, str] = os.environ,
    *,
    database: str = "",
) -> tuple[Delivery, ...]:
    """Notify a finished `safemigrate rollback` (a ``RollbackResult``). Never raises."""
    return _send_built(lambda: rollback_event(result, database=database), config, environ)


def notify_backup_failed(
    error_message: str,
    config: NotificationsConfig,
    environ: Mapping[str, str] = os.environ,
    *,
    database: str = "",
    store: str = "",
) -> tuple[Delivery, ...]:
    """Notify a backup that could not be taken (``error_message``: the error's sentence). Never raises."""
    return _send_built(lambda: backup_failed_event(error_message, database=database, store=store), config, environ)


def notify_stale_backups(
    backups: Sequence[BackupLike],
    config: NotificationsConfig,
    environ: Mapping[str, str] = os.environ,
    *,
    now: datetime | None = None,
    store: str = "",
    database: str = "",
) -> tuple[Delivery, ...]:
    """Notify ``backup_stale`` when the newest backup is older than ``backup_max_age``. Never raises."""
    moment = now or datetime.now(timezone.utc)
    return _send_built(
        lambda: stale_backup_event(backups, config.backup_max_age, moment, store=store, database=database),
        config,
        environ,
    )


def _send_built(
    build: Callable[[], Event | None], config: NotificationsConfig, environ: Mapping[str, str]
) -> tuple[Delivery, ...]:
    """``send`` the event ``build`` makes; nothing when there is none or no webhook to send it to."""
    if not config.webhooks:
        return ()
    try:
        event = build()
    except Exception:  # a malformed ledger entry or backup must not fail the work it reports
        return ()
    return send(event, config, environ) if event is not None else ()


def redact_webhook_url(url: str) -> str:
    """``scheme://host[:port]/…`` of an http(s) URL; "" for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ""
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        return ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}/…"


def _deliver(event: Event, webhook: Webhook, environ: Mapping[str, str]) -> Delivery:
    name = f"{webhook.kind} webhook {webhook.url_env}"
    url = environ.get(webhook.url_env, "").strip()
    if not url:
        return Delivery(
            event.kind,
            webhook.kind,
            webhook.url_env,
            "",
            ok=False,
            attempts=0,
            error=f"Not notified {event.kind} to the {name}: the environment variable {webhook.url_env} is not set.",
        )
    target = redact_webhook_url(url)
    if not target:
        return Delivery(
            event.kind,
            webhook.kind,
            webhook.url_env,
            "",
            ok=False,
            attempts=0,
            error=f"Not notified {event.kind} to the {name}: {webhook.url_env} does not hold an http(s) URL.",
        )
    if any(char <= " " or char == "\x7f" for char in url):
        # Refused before any request: http.client's own refusal quotes the URL escaped ('\\t'), which
        # the scrubbing cannot recognise, and urlsplit drops a tab, so the secret would show.
        return Delivery(
            event.kind,
            webhook.kind,
            webhook.url_env,
            target,
            ok=False,
            attempts=0,
            error=f"Not notified {event.kind} to the {name} ({target}): {webhook.url_env} holds a URL with a "
            "space or a control character (a tab, a line break, DEL...), which no request can carry.",
        )
    try:
        payload = slack_payload(event) if webhook.kind == "slack" else json_payload(event)
        body = json.dumps(payload, ensure_ascii=False).encode()
        status, attempts, problem = _post(url, body, webhook.timeout)
    except Exception as err:  # whatever goes wrong, the caller's work goes on; say what it was
        status, attempts, problem = None, 1, f"{type(err).__name__}: {_scrub(str(err), url)}"
    if not problem:
        return Delivery(event.kind, webhook.kind, webhook.url_env, target, ok=True, attempts=attempts, status=status)
    tries = "after 2 attempts" if attempts == 2 else "after 1 attempt"
    return Delivery(
        event.kind,
        webhook.kind,
        webhook.url_env,
        target,
        ok=False,
        attempts=attempts,
        status=status,
        error=f"Notifying {event.kind} to the {name} ({target}) failed {tries}: {problem}.",
    )


def _post(url: str, body: bytes, timeout: float) -> tuple[int | None, int, str]:
    """(last status, attempts, problem) of POSTing ``body``; problem "" when a 2xx came back."""
    # Imported here: every command reads the notification settings, few send anything, and these
    # (with ssl and email) would weigh on every start-up.
    import http.client
    import urllib.error
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None  # the 3xx then surfaces as an HTTPError: a failed delivery

    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": f"safemigrate/{__version__}"}
    url, authorization = _without_userinfo(url)
    if authorization:
        headers["Authorization"] = authorization
    status: int | None = None
    problem = ""
    attempt = 0
    for attempt in range(1, ATTEMPTS + 1):
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        retry = True
        # ``timeout`` bounds the attempt as a whole (connect, send, every read of the answer): a server
        # answering one byte at a time must not hold the command longer than documented.
        opener = urllib.request.build_opener(NoRedirect(), *_deadline_handlers(time.monotonic() + timeout))
        try:
            with opener.open(request, timeout=timeout) as response:
                return response.status, attempt, ""
        except urllib.error.HTTPError as err:
            with err:
                status = err.code
                answer = _scrub(_read_answer(err), url)
            problem = f"HTTP {err.code}" + (f" ({answer})" if answer else "")
            retry = err.code == 429 or err.code >= 500
        except urllib.error.URLError as err:
            status = None
            if isinstance(err.reason, TimeoutError):
                problem = f"no answer within {timeout:g} s"
            else:
                problem = f"cannot connect: {_scrub(str(err.reason), url) or type(err.reason).__name__}"
        except TimeoutError:
            status, problem = None, f"no answer within {timeout:g} s"
        except (http.client.HTTPException, OSError) as err:
            status, problem = None, f"the connection failed: {_scrub(str(err), url) or type(err).__name__}"
        if not retry or attempt == ATTEMPTS:
            break
        time.sleep(RETRY_PAUSE)
    return status, attempt, problem


def _without_userinfo(url: str) -> tuple[str, str]:
    """``https://user:secret@host/path`` as the URL without its user information and the HTTP Basic
    ``Authorization`` header that carries it (urllib would take ``user:secret@host`` for the host
    name, so such a webhook could never be reached); ``(url, "")`` when there is none."""
    import base64
    from urllib.parse import unquote, urlunsplit

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, ""
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode("ascii")
    return urlunsplit(parts._replace(netloc=host)), f"Basic {token}"


def _deadline_handlers(deadline: float) -> tuple[urllib.request.BaseHandler, ...]:
    """HTTP and HTTPS handlers whose connections give up at ``deadline`` (``time.monotonic()``).

    urllib's timeout is a socket timeout: it limits each read, so a server that sends one byte a
    second never trips it. Here the connection's timeout is what remains of the attempt when it
    connects (a TLS handshake keeps to its socket's timeout as a whole), and every read of the
    answer (status line, headers, body) waits at most what remains, then raises TimeoutError."""
    import http.client
    import io
    import socket
    import urllib.request

    def remaining() -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the webhook did not answer in time")
        return left

    class DeadlineReader(io.RawIOBase):
        """The socket's reads, each waiting at most until the deadline."""

        def __init__(self, inner: io.BufferedReader, sock: socket.socket) -> None:
            super().__init__()
            self._inner = inner  # the response's own socket file: holding it keeps the socket open
            self._sock = sock

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int | None:
            self._sock.settimeout(remaining())
            return self._inner.raw.readinto(buffer)

        def close(self) -> None:
            if not self.closed:
                self._inner.close()
            super().close()

    class DeadlineResponse(http.client.HTTPResponse):
        def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
            super().__init__(sock, *args, **kwargs)
            self.fp = io.BufferedReader(DeadlineReader(self.fp, sock))

    def bounded(connection_class: type[http.client.HTTPConnection]) -> type[http.client.HTTPConnection]:
        class Bounded(connection_class):  # type: ignore[valid-type,misc]
            response_class = DeadlineResponse

            def connect(self) -> None:
                self.timeout = remaining()
                super().connect()

        return Bounded

    class HTTPHandler(urllib.request.HTTPHandler):
        def do_open(self, http_class: Any, req: urllib.request.Request, **kwargs: Any) -> http.client.HTTPResponse:
            return super().do_open(bounded(http_class), req, **kwargs)

    class HTTPSHandler(urllib.request.HTTPSHandler):
        def do_open(self, http_class: Any, req: urllib.request.Request, **kwargs: Any) -> http.client.HTTPResponse:
            return super().do_open(bounded(http_class), req, **kwargs)

    return HTTPHandler(), HTTPSHandler()


def _read_answer(err: urllib.error.HTTPError) -> str:
    import http.client

    try:
        return err.read(_ANSWER_CHARS * 4).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        return ""


def _scrub(text: str, url: str) -> str:
    """``text`` on one short line, without the webhook URL or any part of its secret path."""
    parts = urlsplit(url)
    for secret in (url, url.rstrip("/"), parts.path + (f"?{parts.query}" if parts.query else ""), parts.path):
        if len(secret) > 1:
            text = text.replace(secret, "…")
    # A server may echo only a piece of the path (a token): hide any long segment too.
    pieces = [*parts.path.split("/"), *parts.query.split("&")]
    pieces += [piece.partition("=")[2] for piece in parts.query.split("&")]  # a bare token value, echoed
    for piece in sorted(pieces, key=len, reverse=True):
        if len(piece) >= 8:
            text = text.replace(piece, "…")
    for credential in (parts.password, parts.username):  # https://TOKEN@host/... carries a secret too
        if credential:
            text = text.replace(credential, "****")
    text = " ".join(redact_url(text).split())
    return text if len(text) <= _ANSWER_CHARS else text[: _ANSWER_CHARS - 1] + "…"
