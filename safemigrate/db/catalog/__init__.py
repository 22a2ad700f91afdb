"""Catalog snapshots: a deterministic, OID-free description of a database's schema(s).

The catalog queries are the ``.sql`` files of this package, one per object kind. A file named
``KIND.pgNN.sql`` replaces ``KIND.sql`` on PostgreSQL NN and later (the highest NN not above the
server's major wins); each file opens with a comment giving its purpose, columns, parameters and
oldest supported version.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

OLDEST_SUPPORTED_MAJOR = 12

_VARIANT = re.compile(r"^(?P<kind>[a-z_]+)(?:\.pg(?P<major>\d+))?\.sql$")


@functools.lru_cache(maxsize=1)
def _variants() -> dict[str, dict[int, str]]:
    """kind -> {first major it applies to: file name}; the plain KIND.sql counts as major 0."""
    found: dict[str, dict[int, str]] = {}
    for entry in resources.files(__package__).iterdir():
        match = _VARIANT.match(entry.name)
        if match:
            found.setdefault(match["kind"], {})[int(match["major"] or 0)] = entry.name
    return found


@functools.cache
def load_query(kind: str, server_major: int) -> str:
    """The text of the catalog query ``kind`` (e.g. ``"tables"``) for a server of that major version."""
    variants = _variants().get(kind)
    if not variants:
        raise KeyError(f"no catalog query named {kind!r}")
    chosen = max((major for major in variants if major <= server_major), default=min(variants))
    return resources.files(__package__).joinpath(variants[chosen]).read_text(encoding="utf-8")


def query_kinds() -> tuple[str, ...]:
    """Every catalog query kind of the package, sorted."""
    return tuple(sorted(_variants()))
