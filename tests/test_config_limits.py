"""Settings that would crash later are refused when the configuration is read, and project files or
folders that cannot be read (or are not what --project / --config need) end in one sentence, exit 2."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from safemigrate.config import DatabaseConfig, load_config
from safemigrate.db.connect import connect
from safemigrate.db.url import parse_database_url
from safemigrate.errors import EXIT_USAGE, ConfigError
from safemigrate.lint.registry import rule_names
from tests.cli_run import UNPRIVILEGED, run_cli, run_cli_unprivileged

HUGE_INT = "1" + "0" * 400  # TOML has no size limit on integers: float() of it overflows


def _load(tmp_path: Path, text: str) -> None:
    (tmp_path / "safemigrate.toml").write_text(text)
    load_config(tmp_path, None, rule_names())


# --- [backup.retention] keep_days -------------------------------------------------------------------


@pytest.mark.parametrize("value", ["999999", "99999999999999999", "1e400", "inf", "nan", "-1", "36500.5", HUGE_INT])
def test_keep_days_beyond_what_dates_hold_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match=r"keep_days must be a number of days from 0 to 36500 \(100 years\)"):
        _load(tmp_path, f"[backup.retention]\nkeep_days = {value}\n")


@pytest.mark.parametrize("value", ["0", "30", "36500", "0.5"])
def test_keep_days_within_range_is_accepted(tmp_path: Path, value: str) -> None:
    (tmp_path / "safemigrate.toml").write_text(f"[backup.retention]\nkeep_days = {value}\n")
    assert load_config(tmp_path, None, rule_names()).backup.retention.keep_days == float(value)


def test_prune_with_keep_forever_days_is_a_config_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "safemigrate.toml").write_text("[backup.retention]\nkeep_days = 999999\n")
    for args in (("backups", "prune", "--dry-run"), ("report", "--html", str(tmp_path / "r.html"))):
        result = run_cli(tmp_path, *args)
        assert result.returncode == EXIT_USAGE, result.stderr
        assert "Traceback" not in result.stderr and "OverflowError" not in result.stderr
        assert "keep_days must be a number of days from 0 to 36500" in result.stderr
    assert not (tmp_path / "r.html").exists()


# --- durations ------------------------------------------------------------------------------------

PG_DURATIONS = [
    ("database", "lock_timeout"),
    ("database", "statement_timeout"),
    ("database", "migrate_lock_timeout"),
    ("plan", "check_timeout"),
]
OTHER_DURATIONS = [
    ("database", "prisma_handover_timeout"),
    ("plan", "check_budget"),
    ("plan", "long_transaction"),
    ("notifications", "backup_max_age"),
]


@pytest.mark.parametrize(("table", "key"), PG_DURATIONS)
@pytest.mark.parametrize(
    "value", ["inf", "nan", "1e30", "2147484", '"25d"', '"2147483648ms"', HUGE_INT, f'"{HUGE_INT}s"']
)
def test_postgresql_durations_beyond_its_limit_are_refused(tmp_path: Path, table: str, key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=rf"{key} must be a duration from 0 to 2147483647ms \(about 24\.8 days"):
        _load(tmp_path, f"[{table}]\n{key} = {value}\n")


@pytest.mark.parametrize(("table", "key"), PG_DURATIONS)
@pytest.mark.parametrize("value", ['"0.4ms"', "0.0004"])
def test_postgresql_durations_below_a_millisecond_are_refused(tmp_path: Path, table: str, key: str, value: str) -> None:
    """Sent in whole milliseconds, they would be 0: no limit at all instead of a tiny one."""
    with pytest.raises(ConfigError, match=rf"{key} must be 0 \(no limit\) or at least 1ms"):
        _load(tmp_path, f"[{table}]\n{key} = {value}\n")
    _load(tmp_path, f'[{table}]\n{key} = "1ms"\n')


@pytest.mark.parametrize(("table", "key"), PG_DURATIONS)
def test_postgresql_durations_up_to_its_limit_are_accepted(tmp_path: Path, table: str, key: str) -> None:
    _load(tmp_path, f'[{table}]\n{key} = "2147483647ms"\n')
    _load(tmp_path, f'[{table}]\n{key} = "24d"\n')


@pytest.mark.parametrize(("table", "key"), OTHER_DURATIONS)
@pytest.mark.parametrize("value", ["inf", "nan", "1e30", HUGE_INT, '"36501d"'])
def test_other_durations_must_be_finite_and_at_most_100_years(tmp_path: Path, table: str, key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=rf"{key} must be a duration from 0 to 36500d \(100 years\)"):
        _load(tmp_path, f"[{table}]\n{key} = {value}\n")


def test_webhook_timeout_must_be_finite(tmp_path: Path) -> None:
    text = '[[notifications.webhooks]]\nkind = "slack"\nurl_env = "HOOK"\ntimeout = inf\n'
    with pytest.raises(ConfigError, match=r"timeout must be a duration from 0 to 36500d"):
        _load(tmp_path, text)


@pytest.mark.parametrize(("table", "key"), OTHER_DURATIONS)
def test_other_durations_may_exceed_postgresql_limit(tmp_path: Path, table: str, key: str) -> None:
    _load(tmp_path, f'[{table}]\n{key} = "60d"\n')


def test_the_largest_accepted_timeouts_are_accepted_by_postgresql(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "safemigrate.toml").write_text(
        '[database]\nlock_timeout = "2147483647ms"\nstatement_timeout = "2147483647ms"\n'
    )
    settings = load_config(tmp_path, None, rule_names()).database
    assert isinstance(settings, DatabaseConfig)
    with connect(parse_database_url(database_url), command="test", settings=settings) as conn:
        assert conn.execute("SHOW lock_timeout").fetchone() == ("2147483647ms",)
        assert conn.execute("SHOW statement_timeout").fetchone() == ("2147483647ms",)
        with pytest.raises(psycopg.errors.InvalidParameterValue):  # one more is refused by the server
            conn.execute("SET lock_timeout = '2147483648ms'")


def test_infinite_lock_timeout_is_a_config_error_before_any_connection(database_url: str, tmp_path: Path) -> None:
    _project(tmp_path)
    (tmp_path / "safemigrate.toml").write_text("[database]\nlock_timeout = inf\n")
    result = run_cli(tmp_path, "status", "--database-url", database_url)
    assert result.returncode == EXIT_USAGE, result.stderr
    assert "Traceback" not in result.stderr
    assert "lock_timeout must be a duration from 0 to 2147483647ms" in result.stderr


# --- unreadable project files (without the capabilities that let root read anything) ---------------


def _project(root: Path) -> Path:
    migration = root / "prisma" / "migrations" / "20240101120000_init"
    migration.mkdir(parents=True)
    (migration / "migration.sql").write_text('CREATE TABLE "Post" ("id" INTEGER NOT NULL);\n')
    (root / "prisma" / "migrations" / "migration_lock.toml").write_text('provider = "postgresql"\n')
    (root / "prisma" / "schema.prisma").write_text(
        'datasource db {\n  provider = "postgresql"\n  url = env("DATABASE_URL")\n}\n'
    )
    (root / "package.json").write_text('{"name": "app"}\n')
    return root


@pytest.fixture
def unprivileged(tmp_path: Path) -> Iterator[None]:
    """Skip unless setpriv can make a 000 file unreadable to this (root) process's children."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv is not installed")
    probe = tmp_path / "probe"
    probe.write_text("x")
    probe.chmod(0)
    check = subprocess.run(
        [*UNPRIVILEGED, sys.executable, "-c", f"open({str(probe)!r})"],
        capture_output=True,
        check=False,
    )
    probe.unlink()
    if check.returncode == 0:
        pytest.skip("cannot drop the capabilities that bypass file permissions here")
    yield


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[list[Path]]:
    """Paths to chmod 000 for a test; their modes are restored so that tmp_path can be removed."""
    paths: list[Path] = []
    yield paths
    for path in paths:
        path.chmod(0o755)


def _lock(locked: list[Path], path: Path) -> Path:
    path.chmod(0)
    locked.append(path)
    return path


def _assert_denied(result: subprocess.CompletedProcess[str], path: Path) -> None:
    assert result.returncode == EXIT_USAGE, result.stderr
    assert "Traceback" not in result.stderr and "Errno" not in result.stderr
    assert f"Cannot read {path}: permission denied." in result.stderr


@pytest.mark.usefixtures("unprivileged")
@pytest.mark.parametrize("command", ["lint", "status", "plan"])
def test_unreadable_migrations_folder(tmp_path: Path, locked: list[Path], database_url: str, command: str) -> None:
    root = _project(tmp_path / "app")
    migrations = _lock(locked, root / "prisma" / "migrations")
    args = [command] if command == "lint" else [command, "--database-url", database_url]
    _assert_denied(run_cli_unprivileged(root, *args), migrations)


@pytest.mark.usefixtures("unprivileged")
def test_unreadable_prisma_folder(tmp_path: Path, locked: list[Path]) -> None:
    root = _project(tmp_path / "app")
    path = _lock(locked, root / "prisma")
    _assert_denied(run_cli_unprivileged(root, "lint"), path)


@pytest.mark.usefixtures("unprivileged")
def test_unreadable_migration_lock(tmp_path: Path, locked: list[Path]) -> None:
    root = _project(tmp_path / "app")
    lock = _lock(locked, root / "prisma" / "migrations" / "migration_lock.toml")
    _assert_denied(run_cli_unprivileged(root, "lint"), lock)


@pytest.mark.usefixtures("unprivileged")
def test_unreadable_package_json_is_not_called_invalid_json(tmp_path: Path, locked: list[Path]) -> None:
    root = _project(tmp_path / "app")
    package = _lock(locked, root / "package.json")
    result = run_cli_unprivileged(root, "lint")
    _assert_denied(result, package)
    assert "not valid JSON" not in result.stderr


@pytest.mark.usefixtures("unprivileged")
def test_unreadable_prisma_config(tmp_path: Path, locked: list[Path]) -> None:
    root = _project(tmp_path / "app")
    config = root / "prisma.config.ts"
    config.write_text('export default { schema: "prisma/schema.prisma" }\n')
    path = _lock(locked, config)
    _assert_denied(run_cli_unprivileged(root, "lint"), path)


@pytest.mark.usefixtures("unprivileged")
def test_unreadable_schema_folder_file(tmp_path: Path, locked: list[Path]) -> None:
    root = _project(tmp_path / "app")
    (root / "prisma" / "schema.prisma").unlink()
    folder = root / "prisma" / "schema"
    folder.mkdir()
    (folder / "models.prisma").write_text("model Post {\n  id Int @id\n}\n")
    (folder / "main.prisma").write_text('datasource db {\n  provider = "postgresql"\n}\n')
    path = _lock(locked, folder / "main.prisma")
    _assert_denied(run_cli_unprivileged(root, "lint"), path)


@pytest.mark.usefixtures("unprivileged")
def test_unreadable_safemigrate_toml(tmp_path: Path, locked: list[Path]) -> None:
    root = _project(tmp_path / "app")
    config = root / "safemigrate.toml"
    config.write_text("[lint]\n")
    path = _lock(locked, config)
    _assert_denied(run_cli_unprivileged(root, "lint"), path)


# --- --project a file, --config a folder ----------------------------------------------------------

PROJECT_COMMANDS = [
    ("backup",),
    ("backups", "list"),
    ("backups", "prune", "--dry-run"),
    ("restore", "--latest", "--yes"),
    ("rollback", "--latest", "--yes"),
    ("clone", "--to", "postgresql://nobody@127.0.0.1:1/target", "--yes"),
    ("report", "--html", "report.html"),
    ("runs",),
    ("notify", "check"),
    ("lint",),
    ("status",),
]


@pytest.mark.parametrize("args", PROJECT_COMMANDS, ids=lambda args: " ".join(args[:2]))
def test_project_that_is_a_file_is_not_a_directory(tmp_path: Path, args: tuple[str, ...]) -> None:
    regular = tmp_path / "package.json"
    regular.write_text("{}\n")
    result = run_cli(regular, *args)
    assert result.returncode == EXIT_USAGE, result.stderr
    assert f"{regular} is not a directory." in result.stderr
    assert "does not exist" not in result.stderr


@pytest.mark.parametrize("args", PROJECT_COMMANDS[:3], ids=lambda args: " ".join(args[:2]))
def test_missing_project_still_does_not_exist(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = run_cli(tmp_path / "nope", *args)
    assert result.returncode == EXIT_USAGE, result.stderr
    assert f"The project directory {tmp_path / 'nope'} does not exist." in result.stderr


def test_config_that_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory, not a file"):
        load_config(tmp_path, tmp_path, rule_names())
    result = run_cli(_project(tmp_path / "app"), "lint", "--config", str(tmp_path))
    assert result.returncode == EXIT_USAGE, result.stderr
    assert f"The configuration file {tmp_path} is a directory, not a file." in result.stderr


@pytest.mark.usefixtures("unprivileged")
@pytest.mark.parametrize("command", ["lint", "status"])
def test_unreadable_migration_sql(tmp_path: Path, locked: list[Path], database_url: str, command: str) -> None:
    root = _project(tmp_path / "app")
    sql = _lock(locked, root / "prisma" / "migrations" / "20240101120000_init" / "migration.sql")
    args = [command] if command == "lint" else [command, "--database-url", database_url]
    _assert_denied(run_cli_unprivileged(root, *args), sql)


@pytest.mark.usefixtures("unprivileged")
@pytest.mark.parametrize("command", ["lint", "status"])
def test_unreadable_migration_folder_is_named(
    tmp_path: Path, locked: list[Path], database_url: str, command: str
) -> None:
    root = _project(tmp_path / "app")
    folder = _lock(locked, root / "prisma" / "migrations" / "20240101120000_init")
    args = [command] if command == "lint" else [command, "--database-url", database_url]
    _assert_denied(run_cli_unprivileged(root, *args), folder)
