"""The [clone] configuration and the --mask option, read without a database."""

from __future__ import annotations

import pytest

from safemigrate.errors import ConfigError, InputError
from safemigrate.staging import RULES, CloneConfig, parse_clone_config, parse_mask_option


def test_parse_clone_config() -> None:
    assert parse_clone_config({}, "safemigrate.toml") == CloneConfig()
    parsed = parse_clone_config(
        {"clone": {"masks": {"User.email": "email", "my.schema.T.c": "null"}, "salt_env": "MY_SALT"}}, "x.toml"
    )
    assert dict(parsed.masks) == {"User.email": "email", "my.schema.T.c": "null"} and parsed.salt_env == "MY_SALT"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"clone": []}, r"\[clone\] must be a table"),
        ({"clone": {"mask": {}}}, r"unknown setting\(s\) mask in \[clone\]"),
        ({"clone": {"masks": ["User.email"]}}, r"masks must be a table"),
        ({"clone": {"masks": {"email": "email"}}}, r"'email' does not name a column as Table.column"),
        ({"clone": {"masks": {"User.email": "scramble"}}}, r"unknown mask rule 'scramble'"),
        ({"clone": {"masks": {"User.email": 1}}}, r"the rule of 'User.email' must be a string"),
        ({"clone": {"salt_env": ""}}, r"salt_env must name an environment variable"),
    ],
)
def test_parse_clone_config_refuses(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_clone_config(data, "x.toml")


def test_parse_mask_option() -> None:
    assert parse_mask_option("User.email=email") == ("User.email", "email")
    assert parse_mask_option(" Post.authorEmail = email ") == ("Post.authorEmail", "email")
    for text, message in (("User.email", "names no rule"), ("email=email", "Table.column"), ("U.e=x", "unknown")):
        with pytest.raises(InputError, match=message):
            parse_mask_option(text)
    assert set(RULES) == {"email", "name", "phone", "hash", "null"}
