"""The bodies: Slack's incoming-webhook message and the versioned JSON body."""

from __future__ import annotations

import json

from safemigrate import __version__
from safemigrate.notify import Event, json_payload, run_event, slack_payload
from tests.notify.ledger import blocker, ledger_entry, problem


def _event(verdict: str, message: str = "", **changes: object) -> Event:
    event = run_event(ledger_entry(verdict, message, **changes))
    assert event is not None
    return event


def test_slack_message_has_text_and_blocks_as_slack_documents() -> None:
    body = slack_payload(_event("rolled back", problems=(problem(),)))
    assert set(body) == {"text", "blocks"}
    assert body["text"].startswith(":rewind: Migration rolled back on postgresql://app:****@db.internal")
    header, facts, first_problem, context = body["blocks"]
    assert header["type"] == "header"
    assert header["text"]["type"] == "plain_text"
    assert len(header["text"]["text"]) <= 150
    assert facts["type"] == "section"
    assert [f["type"] for f in facts["fields"]] == ["mrkdwn"] * 4
    assert [f["text"] for f in facts["fields"]] == [
        "*Verdict*\nrolled back (by the run itself)",
        "*Database*\npostgresql://app:****@db.internal:5432/app?schema=public",
        "*Migrations*\n20261130_add_email, 20261201_drop_legacy",
        "*Backup*\n20261201T101501Z-d4e5f6",
    ]
    assert first_problem == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": '*First problem*\n"User": rows 120 before, 119 after'},
    }
    assert context["type"] == "context"
    assert context["elements"][0]["text"] == (
        f"safemigrate {__version__} · run_rolled_back · run 20261201T101500Z-a1b2c3 · 2026-12-01T10:15:42.000Z"
    )


def test_slack_escapes_its_markup_characters() -> None:
    body = slack_payload(_event("refused", blockers=(blocker(message="<!channel> a & b > c"),)))
    problem_text = body["blocks"][2]["text"]["text"]
    assert "&lt;!channel&gt; a &amp; b &gt; c" in problem_text
    assert "<!channel>" not in json.dumps(body)


def test_slack_keeps_within_the_header_and_section_limits() -> None:
    long = "x" * 5000
    body = slack_payload(_event("failed", long, database="db.internal:5432/" + "d" * 300))
    assert len(body["blocks"][0]["text"]["text"]) == 150
    assert all(len(f["text"]) <= 2000 for f in body["blocks"][1]["fields"])
    assert len(body["blocks"][2]["text"]["text"]) <= 3000
    assert len(body["text"]) <= 3000


def test_an_applied_run_has_no_problem_block() -> None:
    body = slack_payload(_event("applied"))
    assert [b["type"] for b in body["blocks"]] == ["header", "section", "context"]


def test_json_body_is_versioned_and_carries_the_run() -> None:
    body = json_payload(_event("refused", blockers=(blocker(),)))
    assert body["schema"] == "safemigrate-notification"
    assert body["version"] == 1
    assert body["event"] == "run_refused"
    assert body["time"] == "2026-12-01T10:15:42.000Z"
    assert body["tool"] == {"name": "safemigrate", "version": __version__}
    assert body["backup"] is None
    assert body["run"] == {
        "id": "20261201T101500Z-a1b2c3",
        "verdict": "refused",
        "database": "postgresql://app:****@db.internal:5432/app?schema=public",
        "migrations": ["20261130_add_email", "20261201_drop_legacy"],
        "backup_id": "20261201T101501Z-d4e5f6",
        "started_at": "2026-12-01T10:15:00.000Z",
        "finished_at": "2026-12-01T10:15:42.000Z",
        "message": "The run was refused.",
        "first_problem": "drop-column at prisma/migrations/20261201_drop_legacy/migration.sql:3: "
        'Dropping "User"."legacy" loses its data.',
        "rolled_back_by": "",
        "restored": [],
    }
    json.dumps(body)  # serialisable as is
