"""parse_notifications: the [notifications] table, strict, one sentence per mistake."""

from __future__ import annotations

from typing import Any

import pytest

from safemigrate.errors import ConfigError
from safemigrate.notify import EVENTS, NotificationsConfig, Webhook, parse_notifications

WHERE = "safemigrate.toml"


def parse(table: Any) -> NotificationsConfig:
    return parse_notifications({"notifications": table}, WHERE)


def test_no_table_means_no_webhooks_and_no_age_check() -> None:
    assert parse_notifications({}, WHERE) == NotificationsConfig((), None)


def test_a_full_table_is_read_with_durations_and_event_order() -> None:
    config = parse(
        {
            "backup_max_age": "26h",
            "webhooks": [
                {"kind": "slack", "url_env": "SLACK_WEBHOOK_URL", "events": ["backup_stale", "run_refused"]},
                {"kind": "json", "url_env": "OPS_HOOK", "timeout": "1500ms"},
            ],
        }
    )
    assert config.backup_max_age == 26 * 3600
    assert config.webhooks == (
        Webhook("slack", "SLACK_WEBHOOK_URL", ("run_refused", "backup_stale"), 5.0),
        Webhook("json", "OPS_HOOK", EVENTS, 1.5),
    )


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"webhook": []}, "unknown setting(s) webhook"),
        ({"webhooks": {"kind": "slack"}}, "webhooks must be a list"),
        ({"webhooks": ["slack"]}, "must be a table"),
        ({"webhooks": [{"kind": "teams", "url_env": "X"}]}, "kind must be one of slack, json, not 'teams'"),
        ({"webhooks": [{"kind": "slack"}]}, "url_env must name the environment variable"),
        ({"webhooks": [{"kind": "slack", "url_env": "https://hooks.slack.com/x"}]}, "url_env must name"),
        ({"webhooks": [{"kind": "slack", "url_env": "X", "events": ["run_done"]}]}, "unknown event 'run_done'"),
        ({"webhooks": [{"kind": "slack", "url_env": "X", "events": []}]}, "events must be a non-empty list"),
        ({"webhooks": [{"kind": "slack", "url_env": "X", "timeout": "soon"}]}, "timeout must be a duration"),
        ({"webhooks": [{"kind": "slack", "url_env": "X", "timeout": 0}]}, "timeout must be more than 0"),
        ({"webhooks": [{"kind": "slack", "url_env": "X", "retries": 3}]}, "unknown setting(s) retries"),
        ({"backup_max_age": "0s"}, "backup_max_age must be more than 0"),
        ({"backup_max_age": "a day"}, "backup_max_age must be a duration"),
    ],
)
def test_mistakes_end_in_one_sentence(table: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(table)
    assert expected in caught.value.message
    assert caught.value.message.count(". ") == 0  # one sentence


def test_a_url_in_the_file_is_refused_without_repeating_it() -> None:
    url = "https://hooks.slack.com/services/T0/B0/secret"
    with pytest.raises(ConfigError) as caught:
        parse({"webhooks": [{"kind": "slack", "url": url}]})
    assert "secret and does not belong in the file" in caught.value.message
    assert "url_env" in caught.value.hint
    assert url not in str(caught.value)


def test_the_second_webhook_is_named_in_its_error() -> None:
    with pytest.raises(ConfigError) as caught:
        parse({"webhooks": [{"kind": "slack", "url_env": "A"}, {"kind": "json", "url_env": ""}]})
    assert "[[notifications.webhooks]] #2" in caught.value.message


def test_the_table_itself_must_be_a_table() -> None:
    with pytest.raises(ConfigError, match=r"\[notifications\] must be a table"):
        parse_notifications({"notifications": "slack"}, WHERE)
