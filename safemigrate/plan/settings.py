"""The plan's settings and their defaults (the ``[plan]`` table of safemigrate.toml, once config reads it).

[plan]
large_table_rows = 1000000   # lock findings on a table with at least this many rows become errors
small_table_rows = 10000     # ... and on a table with fewer rows (and under small_table_bytes) become info
small_table_bytes = "100MB"  # (a number of bytes, or "kB" / "MB" / "GB")
large_table_bytes = "10GB"   # a table this big counts as large whatever its row estimate
check_budget = "60s"         # total time the preflight data checks may take
check_timeout = "20s"        # statement_timeout of one check (never more than what is left of the budget)
long_transaction = "5min"    # transactions open longer than this are listed even without a lock on the tables
clone = "database"           # the clone `safemigrate dry-run` uses: database | embedded | url | neon | container
"""

from __future__ import annotations

from dataclasses import dataclass

from safemigrate.errors import InputError

CLONE_PROVIDERS = ("database", "embedded", "url", "neon", "container")

DEFAULT_LARGE_TABLE_ROWS = 1_000_000
DEFAULT_SMALL_TABLE_ROWS = 10_000
DEFAULT_SMALL_TABLE_BYTES = 100 * 1024 * 1024
DEFAULT_LARGE_TABLE_BYTES = 10 * 1024 * 1024 * 1024
DEFAULT_CHECK_BUDGET = 60.0
DEFAULT_CHECK_TIMEOUT = 20.0
DEFAULT_LONG_TRANSACTION = 300.0
DEFAULT_CLONE = "database"
SAMPLE_SIZE = 5  # offending keys shown per failing check


@dataclass(frozen=True)
class PlanSettings:
    large_table_rows: int = DEFAULT_LARGE_TABLE_ROWS
    small_table_rows: int = DEFAULT_SMALL_TABLE_ROWS
    small_table_bytes: int = DEFAULT_SMALL_TABLE_BYTES
    large_table_bytes: int = DEFAULT_LARGE_TABLE_BYTES
    check_budget: float = DEFAULT_CHECK_BUDGET  # seconds
    check_timeout: float = DEFAULT_CHECK_TIMEOUT  # seconds
    long_transaction: float = DEFAULT_LONG_TRANSACTION  # seconds
    clone: str = DEFAULT_CLONE

    def __post_init__(self) -> None:
        if self.clone not in CLONE_PROVIDERS:
            raise InputError(f"Unknown clone provider {self.clone!r}.", f"Use one of {', '.join(CLONE_PROVIDERS)}.")
        if self.check_budget <= 0 or self.check_timeout <= 0:
            raise InputError("The check budget and the check timeout must be more than 0 seconds.")
