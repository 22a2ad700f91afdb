"""Staging copies: ``safemigrate clone --to URL`` (see docs/clone.md).

Names are imported on first use: the configuration reader imports :mod:`safemigrate.staging.masks`,
and must not load psycopg with it (``lint`` starts without it).
"""

from __future__ import annotations

from typing import Any

_NAMES = {
    "ClonedTable": "clone",
    "ClonePlan": "clone",
    "CloneRefusedError": "clone",
    "CloneResult": "clone",
    "MaskedColumn": "clone",
    "clone_database": "clone",
    "RULES": "masks",
    "CloneConfig": "masks",
    "ColumnMask": "masks",
    "parse_clone_config": "masks",
    "parse_mask_option": "masks",
}
__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(f"safemigrate.staging.{_NAMES[name]}"), name)
