"""A webhook URL with user information (``https://user:secret@host/hook``, as some receivers use for
HTTP Basic authentication) could never be delivered: urllib took ``user:secret@host`` for the host
name. The credentials now go in an ``Authorization: Basic`` header, and are never shown."""

from __future__ import annotations

import base64

from safemigrate.notify.events import backup_failed_event
from safemigrate.notify.send import send
from safemigrate.notify.settings import parse_notifications
from tests.notify.webhook_server import webhook_server


def test_a_webhook_url_with_user_information_is_delivered_with_basic_authentication() -> None:
    config = parse_notifications(
        {"notifications": {"webhooks": [{"kind": "json", "url_env": "HOOK", "timeout": 5}]}}, "inline"
    )
    event = backup_failed_event("The disk is full.", database="db:5432/app?schema=public")
    with webhook_server() as server:
        hook = server.url.replace("http://", "http://deploy-bot:p%40ss%3Aw0rd@") + "/hooks/deploys"
        (delivery,) = send(event, config, {"HOOK": hook})
        (request,) = server.received
    assert delivery.ok, delivery.describe()
    assert request.path == "/hooks/deploys"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"deploy-bot:p@ss:w0rd").decode()
    shown = delivery.describe() + repr(delivery)
    assert "p%40ss" not in shown and "p@ss" not in shown and "w0rd" not in shown
