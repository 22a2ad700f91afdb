"""Staging copies: ``safemigrate clone --to URL`` (see docs/clone.md)."""

from safemigrate.staging.clone import (
    ClonedTable,
    ClonePlan,
    CloneRefusedError,
    CloneResult,
    MaskedColumn,
    clone_database,
)
from safemigrate.staging.masks import RULES, CloneConfig, ColumnMask, parse_clone_config, parse_mask_option

__all__ = [
    "RULES",
    "CloneConfig",
    "ClonePlan",
    "CloneRefusedError",
    "CloneResult",
    "ClonedTable",
    "ColumnMask",
    "MaskedColumn",
    "clone_database",
    "parse_clone_config",
    "parse_mask_option",
]
