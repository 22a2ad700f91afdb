"""Sending to a real HTTP server on 127.0.0.1: what arrives, and failures that come back as Deliveries."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace

import pytest

from safemigrate.notify import (
    Delivery,
    NotificationsConfig,
    Webhook,
    json_payload,
    notify_backup_failed,
    notify_rollback,
    notify_run,
    notify_stale_backups,
    run_event,
    send,
    slack_payload,
)
from safemigrate.pipeline.rollback import RollbackResult
from tests.notify.ledger import MIGRATIONS, blocker, ledger_entry
from tests.notify.webhook_server import SECRET_PATH, Answer, WebhookServer, webhook_server

SLACK = Webhook("slack", "TEST_SLACK_URL", timeout=2.0)
GENERIC = Webhook("json", "TEST_JSON_URL", timeout=2.0)


@pytest.fixture
def server() -> Iterator[WebhookServer]:
    with webhook_server() as running:
        yield running


def _assert_no_secret(deliveries: tuple[Delivery, ...]) -> None:
    for delivery in deliveries:
        assert SECRET_PATH not in repr(delivery)
        assert "xoxSecretToken0123456789" not in repr(delivery)
        assert "xoxSecretToken0123456789" not in delivery.describe()


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_refused_run_reaches_slack_as_its_payload(server: WebhookServer) -> None:
    entry = ledger_entry("refused", blockers=(blocker(),))
    deliveries = notify_run(entry, NotificationsConfig((SLACK,)), {"TEST_SLACK_URL": server.secret_url})
    assert [(d.ok, d.status, d.attempts, d.kind) for d in deliveries] == [(True, 200, 1, "slack")]
    assert deliveries[0].target == f"{server.url}/…"
    (request,) = server.received
    assert request.path == SECRET_PATH
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    event = run_event(entry)
    assert event is not None
    assert request.json() == slack_payload(event)
    assert "Migration refused" in request.json()["text"]
    _assert_no_secret(deliveries)


def test_the_json_webhook_gets_the_versioned_body(server: WebhookServer) -> None:
    entry = ledger_entry("applied")
    deliveries = notify_run(entry, NotificationsConfig((GENERIC,)), {"TEST_JSON_URL": server.secret_url})
    assert [d.ok for d in deliveries] == [True]
    body = server.received[0].json()
    event = run_event(entry)
    assert event is not None
    assert body == json_payload(event)
    assert (body["schema"], body["version"], body["event"]) == ("safemigrate-notification", 1, "run_finished")


def test_only_webhooks_that_want_the_event_are_sent_to(server: WebhookServer) -> None:
    config = NotificationsConfig((replace(SLACK, events=("run_refused", "run_failed")), GENERIC))
    environ = {"TEST_SLACK_URL": server.url + "/slack", "TEST_JSON_URL": server.url + "/json"}
    finished = notify_run(ledger_entry("applied"), config, environ)
    refused = notify_run(ledger_entry("refused"), config, environ)
    assert [d.kind for d in finished] == ["json"]
    assert [d.kind for d in refused] == ["slack", "json"]
    assert [r.path for r in server.received] == ["/json", "/slack", "/json"]


def test_a_500_is_tried_twice_and_reported_without_raising(server: WebhookServer) -> None:
    server.answers = [Answer(500, "no_service"), Answer(500, "no_service")]
    deliveries = notify_run(
        ledger_entry("failed"), NotificationsConfig((SLACK,)), {"TEST_SLACK_URL": server.secret_url}
    )
    (delivery,) = deliveries
    assert (delivery.ok, delivery.status, delivery.attempts) == (False, 500, 2)
    assert delivery.error == (
        f"Notifying run_failed to the slack webhook TEST_SLACK_URL ({server.url}/…) failed after 2 attempts: "
        "HTTP 500 (no_service)."
    )
    assert len(server.received) == 2
    _assert_no_secret(deliveries)


def test_a_second_attempt_after_a_429_delivers(server: WebhookServer) -> None:
    server.answers = [Answer(429, "rate_limited")]
    (delivery,) = notify_run(ledger_entry("applied"), NotificationsConfig((SLACK,)), {"TEST_SLACK_URL": server.url})
    assert (delivery.ok, delivery.status, delivery.attempts) == (True, 200, 2)


def test_a_4xx_is_not_retried_and_an_echoed_secret_is_hidden(server: WebhookServer) -> None:
    server.answers = [Answer(403, f"invalid_token for {server.secret_url} (xoxSecretToken0123456789)")]
    deliveries = notify_run(
        ledger_entry("applied"), NotificationsConfig((SLACK,)), {"TEST_SLACK_URL": server.secret_url}
    )
    (delivery,) = deliveries
    assert (delivery.ok, delivery.status, delivery.attempts) == (False, 403, 1)
    assert "HTTP 403 (invalid_token for … (…))" in delivery.error
    _assert_no_secret(deliveries)


def test_a_redirect_is_not_followed(server: WebhookServer) -> None:
    server.answers = [Answer(302, "moved")]
    (delivery,) = notify_run(ledger_entry("applied"), NotificationsConfig((SLACK,)), {"TEST_SLACK_URL": server.url})
    assert (delivery.ok, delivery.status) == (False, 302)
    assert len(server.received) == 1


def test_an_unreachable_webhook_is_reported_without_raising() -> None:
    url = f"http://127.0.0.1:{_unused_port()}{SECRET_PATH}"
    deliveries = notify_run(ledger_entry("refused"), NotificationsConfig((SLACK,)), {"TEST_SLACK_URL": url})
    (delivery,) = deliveries
    assert (delivery.ok, delivery.status, delivery.attempts) == (False, None, 2)
    assert "failed after 2 attempts: cannot connect:" in delivery.error
    _assert_no_secret(deliveries)


def test_a_missing_or_invalid_environment_variable_is_reported(server: WebhookServer) -> None:
    config = NotificationsConfig((SLACK, GENERIC))
    deliveries = notify_run(
        ledger_entry("refused"), config, {"TEST_JSON_URL": "hooks.example.com/xoxSecretToken0123456789"}
    )
    assert [(d.ok, d.attempts, d.target) for d in deliveries] == [(False, 0, ""), (False, 0, "")]
    assert deliveries[0].error == (
        "Not notified run_refused to the slack webhook TEST_SLACK_URL: "
        "the environment variable TEST_SLACK_URL is not set."
    )
    assert deliveries[1].error == (
        "Not notified run_refused to the json webhook TEST_JSON_URL: TEST_JSON_URL does not hold an http(s) URL."
    )
    assert server.received == []
    _assert_no_secret(deliveries)


def test_a_slow_webhook_times_out_into_a_failed_delivery(server: WebhookServer) -> None:
    server.answers = [Answer(delay=5.0), Answer(delay=5.0)]
    config = NotificationsConfig((replace(SLACK, timeout=0.2),))
    deliveries = notify_run(ledger_entry("applied"), config, {"TEST_SLACK_URL": server.secret_url})
    (delivery,) = deliveries
    assert (delivery.ok, delivery.status, delivery.attempts) == (False, None, 2)
    assert delivery.error.endswith("failed after 2 attempts: no answer within 0.2 s.")
    _assert_no_secret(deliveries)


def test_one_failing_webhook_does_not_stop_the_next(server: WebhookServer) -> None:
    config = NotificationsConfig((SLACK, GENERIC))
    deliveries = notify_run(ledger_entry("refused"), config, {"TEST_JSON_URL": server.url + "/json"})
    assert [d.ok for d in deliveries] == [False, True]
    assert [r.path for r in server.received] == ["/json"]


def test_rollback_backup_failure_and_stale_backup_notifications_arrive(server: WebhookServer) -> None:
    config = NotificationsConfig((GENERIC,), backup_max_age=3600.0)
    environ = {"TEST_JSON_URL": server.url}
    result = RollbackResult("20261201T101500Z-a1b2c3", "20261201T101501Z-d4e5f6", MIGRATIONS, ('"User"',), (), 2)
    sent = [
        *notify_rollback(result, config, environ, database="db.internal:5432/app?schema=public"),
        *notify_backup_failed("Cannot write the backup store: disk full.", config, environ, database="db:5432/app"),
        *notify_stale_backups([], config, environ, store=".safemigrate/backups"),
    ]
    assert [d.ok for d in sent] == [True, True, True]
    bodies = [r.json() for r in server.received]
    assert [b["event"] for b in bodies] == ["run_rolled_back", "backup_failed", "backup_stale"]
    assert bodies[0]["run"]["rolled_back_by"] == "rollback"
    assert bodies[1]["backup"]["error"] == "Cannot write the backup store: disk full."
    assert bodies[2]["backup"] == {
        "id": None,
        "database": "",
        "created_at": "",
        "age_seconds": None,
        "max_age_seconds": 3600.0,
        "error": "",
        "store": ".safemigrate/backups",
    }


def test_no_webhooks_means_nothing_is_sent() -> None:
    event = run_event(ledger_entry("refused"))
    assert event is not None
    assert send(event, NotificationsConfig(), {}) == ()


def test_a_malformed_ledger_entry_sends_nothing_and_does_not_raise(server: WebhookServer) -> None:
    entry = {"id": "x", "verdict": "rolled back", "rolled_back": "not a table"}
    assert notify_run(entry, NotificationsConfig((GENERIC,)), {"TEST_JSON_URL": server.url}) == ()
    assert server.received == []
