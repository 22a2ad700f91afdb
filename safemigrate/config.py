"""safemigrate.toml (or ``[tool.safemigrate]`` in pyproject.toml): schema, defaults, validation.

Example::

    [lint]
    fail_on = "error"          # error | warning | never
    pg_version = 16            # the server version migrations run on
    default_schema = "public"  # where unqualified names live (Prisma's ?schema=)
    disable = ["update"]       # rules to turn off
    [lint.severity]
    drop-column = "warning"    # per-rule severity: error | warning | info | off
    [database]
    lock_timeout = "10s"           # every session: how long a statement may wait for a lock
    statement_timeout = "1h"       # every session: how long one statement may run
    migrate_lock_timeout = "10s"   # how long to wait for Prisma's migration lock (pg_advisory_lock)
    prisma_handover_timeout = "60s"  # --engine prisma: how long `prisma migrate deploy` may take to queue for it
    [backup]
    store = ".safemigrate/backups"  # where backups are kept: a folder (relative to the project) or s3://bucket/prefix
    [backup.retention]             # what `safemigrate backups prune` keeps (a backup any rule keeps stays)
    keep_days = 30                 # every backup younger than this many days
    keep_last = 5                  # the newest N backups, whatever their age
    keep_pre_migrate = true        # the newest pre-migrate backup of each migration (what a rollback restores)
    [dry_run]
    clone = "database"             # database | embedded | url | container | neon
    clone_url_env = "SAFEMIGRATE_CLONE_URL"  # where --clone url finds its URL when --clone-url is not given

Durations are seconds (``10``, ``2.5``) or PostgreSQL-style strings (``"500ms"``, ``"10s"``,
``"5min"``, ``"1h"``); ``0`` means no limit. Those PostgreSQL applies (lock_timeout,
statement_timeout, migrate_lock_timeout, [plan] check_timeout) are at most 2147483647ms (about 24.8
days, PostgreSQL's limit), the others at most 100 years; keep_days is at most 36500 (100 years).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safemigrate.errors import ConfigError
from safemigrate.lint.rule import Severity
from safemigrate.paths import cannot_read, is_dir, is_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

FAIL_ON = ("error", "warning", "never")
_DURATION = re.compile(r"\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|min|h|d)?\s*")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
# PostgreSQL keeps lock_timeout and statement_timeout as an int of milliseconds (INT_MAX).
PG_MAX_MILLISECONDS = 2_147_483_647
# Any other duration, and keep_days: generous, yet within what dates, sockets and intervals hold.
MAX_DAYS = 36_500
CONFIG_FILE = "safemigrate.toml"


@dataclass(frozen=True)
class LintConfig:
    fail_on: str = "error"
    pg_version: int = 16
    default_schema: str = "public"
    severities: Mapping[str, Severity] = field(default_factory=dict)  # rule name -> severity


@dataclass(frozen=True)
class DatabaseConfig:
    """Session limits, in seconds (0 = no limit)."""

    lock_timeout: float = 10.0
    statement_timeout: float = 3600.0
    migrate_lock_timeout: float = 10.0  # Prisma waits 10 s for the same lock (ADVISORY_LOCK_TIMEOUT)
    # --engine prisma: how long `prisma migrate deploy` may take to start and queue for the lock
    # safemigrate hands it (npx may be installing the CLI first); then it is stopped, nothing applied.
    prisma_handover_timeout: float = 60.0


@dataclass(frozen=True)
class RetentionConfig:
    """What ``backups prune`` keeps: a backup is kept when any rule keeps it."""

    keep_days: float = 30.0  # every backup younger than this
    keep_last: int = 5  # the newest N backups, whatever their age
    keep_pre_migrate: bool = True  # the newest pre-migrate backup of each migration (what a rollback restores)


@dataclass(frozen=True)
class BackupConfig:
    store: str = ".safemigrate/backups"  # a directory (relative to the project directory unless absolute) or s3://
    retention: RetentionConfig = RetentionConfig()


CLONE_PROVIDERS = ("database", "embedded", "url", "container", "neon")


@dataclass(frozen=True)
class DryRunConfig:
    clone: str = "database"  # where rehearsals run: database | embedded | url | container | neon
    clone_url_env: str = "SAFEMIGRATE_CLONE_URL"  # the environment variable holding the url clone's URL
    neon_project_id: str = ""  # --clone neon: the Neon project of the target
    neon_parent_branch: str = ""  # the branch to branch from (default: the project's default branch)
    neon_api_url: str = "https://console.neon.tech/api/v2"  # the API key comes from NEON_API_KEY


def _plan_defaults() -> Any:
    from safemigrate.plan.settings import PlanSettings

    return PlanSettings()


def _notifications_defaults() -> Any:
    from safemigrate.notify.settings import NotificationsConfig

    return NotificationsConfig()


def _clone_defaults() -> Any:
    from safemigrate.staging.masks import CloneConfig

    return CloneConfig()


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    lint: LintConfig = LintConfig()
    database: DatabaseConfig = DatabaseConfig()
    backup: BackupConfig = BackupConfig()
    dry_run: DryRunConfig = DryRunConfig()
    plan: Any = field(default_factory=_plan_defaults)  # safemigrate.plan.settings.PlanSettings
    notifications: Any = field(default_factory=_notifications_defaults)  # safemigrate.notify.settings
    clone: Any = field(default_factory=_clone_defaults)  # safemigrate.staging.masks.CloneConfig


def _table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{key}] must be a table.", "See docs/configuration.md.")
    return value


def _check_keys(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting(s) {', '.join(unknown)}.",
            f"Allowed here: {', '.join(sorted(allowed))}.",
        )


def parse_config(data: Mapping[str, Any], where: str, rule_names: Mapping[str, str]) -> LintConfig:
    """Validate the settings; ``rule_names`` maps names and ids to rule names."""
    _check_keys(data, {"lint", "database", "backup", "dry_run", "plan", "notifications", "clone"}, where)
    lint = _table(data, "lint", where)
    _check_keys(lint, {"fail_on", "pg_version", "default_schema", "disable", "severity"}, f"{where} [lint]")
    fail_on = lint.get("fail_on", "error")
    if fail_on not in FAIL_ON:
        raise ConfigError(f"{where}: fail_on must be one of {', '.join(FAIL_ON)}, not {fail_on!r}.")
    pg_version = lint.get("pg_version", 16)
    if not isinstance(pg_version, int) or isinstance(pg_version, bool) or not 9 <= pg_version <= 30:
        raise ConfigError(f"{where}: pg_version must be a PostgreSQL major version such as 16, not {pg_version!r}.")
    default_schema = lint.get("default_schema", "public")
    if not isinstance(default_schema, str) or not default_schema:
        raise ConfigError(f"{where}: default_schema must be a schema name.")

    def rule_name(name: object) -> str:
        if not isinstance(name, str) or name not in rule_names:
            raise ConfigError(f"{where}: unknown rule {name!r}.", "Run `safemigrate rules` for the list of rule names.")
        return rule_names[name]

    severities: dict[str, Severity] = {}
    disable = lint.get("disable", [])
    if not isinstance(disable, list):
        raise ConfigError(f"{where}: disable must be a list of rule names.")
    for name in disable:
        severities[rule_name(name)] = Severity.OFF
    for name, value in _table(lint, "severity", f"{where} [lint]").items():
        try:
            severities[rule_name(name)] = Severity(value)
        except ValueError as err:
            raise ConfigError(
                f"{where}: severity of {name} must be error, warning, info or off, not {value!r}."
            ) from err
    return LintConfig(fail_on, pg_version, default_schema, severities)


def _duration(value: object, key: str, where: str, *, postgresql: bool = False) -> float:
    """Seconds from a number or a PostgreSQL-style duration string: finite, at most 100 years, or with
    ``postgresql`` (a setting the server applies, sent in milliseconds) at most its 2147483647ms."""
    seconds: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value  # negative, nan and inf are refused below with the range
    elif isinstance(value, str):
        match = _DURATION.fullmatch(value)
        if match:
            seconds = float(match.group("number")) * _UNIT_SECONDS[match.group("unit") or "s"]
    if seconds is None:
        raise ConfigError(
            f'{where}: {key} must be a duration such as 10, "500ms", "10s", "5min" or "1h", not {value!r}.'
        )
    if postgresql and not _postgresql_accepts(seconds):
        raise ConfigError(
            f"{where}: {key} must be a duration from 0 to {PG_MAX_MILLISECONDS}ms (about 24.8 days, "
            f"PostgreSQL's limit), not {value!r}."
        )
    if postgresql and seconds > 0 and round(seconds * 1000) == 0:  # sent as 0ms, which means no limit at all
        raise ConfigError(f"{where}: {key} must be 0 (no limit) or at least 1ms, not {value!r}.")
    if not 0 <= seconds <= MAX_DAYS * 86400:  # false for nan; compared before float(), which a huge int overflows
        raise ConfigError(f"{where}: {key} must be a duration from 0 to {MAX_DAYS}d (100 years), not {value!r}.")
    return float(seconds)


def _postgresql_accepts(seconds: float) -> bool:
    """Whether ``seconds``, sent as a whole number of milliseconds, fits PostgreSQL's int setting."""
    return 0 <= seconds <= MAX_DAYS * 86400 and round(seconds * 1000) <= PG_MAX_MILLISECONDS


def parse_database_config(data: Mapping[str, Any], where: str) -> DatabaseConfig:
    """Validate the [database] table (the top-level keys are checked by parse_config)."""
    database = _table(data, "database", where)
    _check_keys(
        database,
        {"lock_timeout", "statement_timeout", "migrate_lock_timeout", "prisma_handover_timeout"},
        f"{where} [database]",
    )
    applied_by_postgresql = {"lock_timeout", "statement_timeout", "migrate_lock_timeout"}
    return DatabaseConfig(
        **{
            key: _duration(value, key, f"{where} [database]", postgresql=key in applied_by_postgresql)
            for key, value in database.items()
        }
    )


def parse_backup_config(data: Mapping[str, Any], where: str) -> BackupConfig:
    """Validate the [backup] table (the top-level keys are checked by parse_config)."""
    backup = _table(data, "backup", where)
    _check_keys(backup, {"store", "retention"}, f"{where} [backup]")
    store = backup.get("store", BackupConfig.store)
    if not isinstance(store, str) or not store:
        raise ConfigError(f"{where}: [backup] store must be a directory path or an s3://bucket/prefix URL.")
    return BackupConfig(store, _parse_retention(_table(backup, "retention", f"{where} [backup]"), where))


def _parse_retention(retention: Mapping[str, Any], where: str) -> RetentionConfig:
    where = f"{where} [backup.retention]"
    _check_keys(retention, {"keep_days", "keep_last", "keep_pre_migrate"}, where)
    keep_days = retention.get("keep_days", RetentionConfig.keep_days)
    # At most 100 years: the cutoff (now - keep_days) must stay a date; nan and inf are refused too.
    if not isinstance(keep_days, (int, float)) or isinstance(keep_days, bool) or not 0 <= keep_days <= MAX_DAYS:
        raise ConfigError(
            f"{where}: keep_days must be a number of days from 0 to {MAX_DAYS} (100 years), not {keep_days!r}."
        )
    keep_last = retention.get("keep_last", RetentionConfig.keep_last)
    if not isinstance(keep_last, int) or isinstance(keep_last, bool) or keep_last < 0:
        raise ConfigError(f"{where}: keep_last must be a whole number (0 or more), not {keep_last!r}.")
    keep_pre_migrate = retention.get("keep_pre_migrate", RetentionConfig.keep_pre_migrate)
    if not isinstance(keep_pre_migrate, bool):
        raise ConfigError(f"{where}: keep_pre_migrate must be true or false, not {keep_pre_migrate!r}.")
    return RetentionConfig(float(keep_days), keep_last, keep_pre_migrate)


def parse_dry_run_config(data: Mapping[str, Any], where: str) -> DryRunConfig:
    """Validate the [dry_run] table."""
    dry_run = _table(data, "dry_run", where)
    _check_keys(
        dry_run,
        {"clone", "clone_url_env", "neon_project_id", "neon_parent_branch", "neon_api_url"},
        f"{where} [dry_run]",
    )
    clone = dry_run.get("clone", DryRunConfig.clone)
    if clone not in CLONE_PROVIDERS:
        raise ConfigError(f"{where}: [dry_run] clone must be one of {', '.join(CLONE_PROVIDERS)}, not {clone!r}.")
    env = dry_run.get("clone_url_env", DryRunConfig.clone_url_env)
    if not isinstance(env, str) or not env:
        raise ConfigError(f"{where}: [dry_run] clone_url_env must name an environment variable.")
    neon = {}
    for key in ("neon_project_id", "neon_parent_branch", "neon_api_url"):
        value = dry_run.get(key, getattr(DryRunConfig, key))
        if not isinstance(value, str):
            raise ConfigError(f"{where}: [dry_run] {key} must be a string.")
        neon[key] = value
    return DryRunConfig(clone, env, **neon)


_SIZE = re.compile(r"\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>B|kB|KB|MB|GB|TB)?\s*")
_UNIT_BYTES = {"B": 1, "kB": 1024, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def _bytes(value: object, key: str, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        match = _SIZE.fullmatch(value)
        if match:
            return int(float(match.group("number")) * _UNIT_BYTES[match.group("unit") or "B"])
    raise ConfigError(f'{where}: {key} must be a size such as 104857600, "100MB" or "10GB", not {value!r}.')


def parse_plan_config(data: Mapping[str, Any], where: str, clone: str) -> Any:
    """Validate the [plan] table; the clone the plan reports is [dry_run] clone."""
    from safemigrate.plan.settings import PlanSettings

    plan = _table(data, "plan", where)
    sizes = {"large_table_rows", "small_table_rows"}
    byte_sizes = {"small_table_bytes", "large_table_bytes"}
    durations = {"check_budget", "check_timeout", "long_transaction"}
    _check_keys(plan, sizes | byte_sizes | durations, f"{where} [plan]")
    values: dict[str, Any] = {"clone": clone}
    for key, value in plan.items():
        if key in sizes:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{where}: [plan] {key} must be a whole number of rows, not {value!r}.")
            values[key] = value
        elif key in byte_sizes:
            values[key] = _bytes(value, key, f"{where} [plan]")
        else:
            seconds = _duration(value, key, f"{where} [plan]", postgresql=key == "check_timeout")
            if seconds <= 0:
                raise ConfigError(f"{where}: [plan] {key} must be more than 0.")
            values[key] = seconds
    return PlanSettings(**values)


def _parse_notifications(data: Mapping[str, Any], where: str) -> Any:
    from safemigrate.notify.settings import parse_notifications

    return parse_notifications(data, where)


def _parse_clone(data: Mapping[str, Any], where: str) -> Any:
    from safemigrate.staging.masks import parse_clone_config

    return parse_clone_config(data, where)


def load_config(project_root: Path, explicit: Path | None, rule_names: Mapping[str, str]) -> Config:
    """Read --config, else safemigrate.toml, else [tool.safemigrate] of pyproject.toml, else defaults."""
    candidates: list[tuple[Path, bool]] = []
    if explicit is not None:
        if is_dir(explicit, ConfigError):
            raise ConfigError(
                f"The configuration file {explicit} is a directory, not a file.", "Pass the file with --config."
            )
        if not is_file(explicit, ConfigError):
            raise ConfigError(f"The configuration file {explicit} does not exist.", "Check the --config path.")
        candidates.append((explicit, explicit.name == "pyproject.toml"))
    else:
        candidates.append((project_root / CONFIG_FILE, False))
        candidates.append((project_root / "pyproject.toml", True))
    for path, is_pyproject in candidates:
        if not is_file(path, ConfigError):
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except PermissionError as err:
            raise cannot_read(path, err, ConfigError) from err
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"Cannot read {path}: {err}.") from err
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path} is not valid TOML: {err}.", "Fix the syntax.") from err
        if is_pyproject:
            tool = data.get("tool", {})
            if not isinstance(tool, dict) or "safemigrate" not in tool:
                continue
            data = tool["safemigrate"]
            if not isinstance(data, dict):
                raise ConfigError(f"{path}: [tool.safemigrate] must be a table.")
            where = f"{path} [tool.safemigrate]"
        else:
            where = str(path)
        return Config(
            path,
            parse_config(data, where, rule_names),
            parse_database_config(data, where),
            parse_backup_config(data, where),
            dry_run := parse_dry_run_config(data, where),
            parse_plan_config(data, where, dry_run.clone),
            _parse_notifications(data, where),
            _parse_clone(data, where),
        )
    return Config()
