from __future__ import annotations

from pathlib import Path

import pytest

from safemigrate.config import load_config
from safemigrate.errors import ConfigError
from safemigrate.lint.registry import rule_names
from safemigrate.lint.rule import Severity


def test_defaults_without_any_file(tmp_path: Path) -> None:
    config = load_config(tmp_path, None, rule_names())
    assert config.path is None
    assert (config.lint.fail_on, config.lint.pg_version) == ("error", 16)


def test_safemigrate_toml_severities_and_disable(tmp_path: Path) -> None:
    (tmp_path / "safemigrate.toml").write_text(
        '[lint]\nfail_on = "warning"\npg_version = 15\ndisable = ["drop-table"]\n'
        '[lint.severity]\ndrop-column = "info"\nSM501 = "error"\n'
    )
    config = load_config(tmp_path, None, rule_names())
    assert config.lint.fail_on == "warning" and config.lint.pg_version == 15
    assert config.lint.severities == {
        "drop-table": Severity.OFF,
        "drop-column": Severity.INFO,
        "unparsed-statement": Severity.ERROR,
    }


def test_pyproject_tool_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.safemigrate.lint]\nfail_on = "never"\n')
    assert load_config(tmp_path, None, rule_names()).lint.fail_on == "never"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[lint]\ndisable = ["drop-colum"]\n', "unknown rule 'drop-colum'"),
        ('[lint.severity]\nnot-a-rule = "off"\n', "unknown rule 'not-a-rule'"),
        ('[lint.severity]\ndrop-column = "fatal"\n', "must be error, warning, info or off"),
        ('[lint]\nfail_on = "sometimes"\n', "fail_on must be one of"),
        ('[lint]\npg_version = "sixteen"\n', "pg_version must be"),
        ('[lint]\nfailon = "error"\n', "unknown setting"),
        ("[lint\n", "not valid TOML"),
    ],
)
def test_invalid_config_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "safemigrate.toml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path, None, rule_names())


def test_missing_explicit_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path, tmp_path / "nope.toml", rule_names())
