"""The configuration reference names exactly the keys the parsers accept, and its examples parse."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from safemigrate.config import load_config
from safemigrate.config_reference import SETTINGS
from safemigrate.errors import ConfigError
from safemigrate.lint.registry import rule_names

SECTIONS = sorted({s.section for s in SETTINGS if s.section != "lint.severity"})


def _toml(section: str, body: str) -> str:
    if section == "notifications.webhooks":
        return f'[[notifications.webhooks]]\nkind = "json"\nurl_env = "X"\n{body}'
    return f"[{section}]\n{body}"


def _accepted_keys(tmp_path: Path, section: str) -> set[str]:
    """What the parser allows in ``section``: its one-sentence refusal of an unknown key lists it."""
    (tmp_path / "safemigrate.toml").write_text(_toml(section, "no_such_setting_xyz = 1\n"))
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, None, rule_names())
    text = f"{caught.value.message} {caught.value.hint}"
    match = re.search(r"(?:Allowed here|Allowed|allowed)[^:]*: ([^.]+)\.", text)
    assert match, text
    return {key.strip() for key in match.group(1).split(",")}


@pytest.mark.parametrize("section", SECTIONS)
def test_every_accepted_key_is_documented_and_nothing_else(tmp_path: Path, section: str) -> None:
    documented = {s.key for s in SETTINGS if s.section == section}
    accepted = _accepted_keys(tmp_path, section)
    nested = {s.section.split(".", 1)[1] for s in SETTINGS if s.section.startswith(section + ".")}
    assert accepted - nested == documented


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: f"{s.section}.{s.key}")
def test_every_example_parses(tmp_path: Path, setting: object) -> None:
    from safemigrate.config_reference import Setting

    assert isinstance(setting, Setting)
    key = "drop-column" if setting.key == "<rule>" else setting.key
    body = f"{key} = {setting.example}\n"
    if setting.section == "notifications.webhooks" and key in ("kind", "url_env"):
        (tmp_path / "safemigrate.toml").write_text(
            "[[notifications.webhooks]]\n" + ('url_env = "X"\n' if key == "kind" else 'kind = "json"\n') + body
        )
    else:
        (tmp_path / "safemigrate.toml").write_text(_toml(setting.section, body))
    load_config(tmp_path, None, rule_names())
