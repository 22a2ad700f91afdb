"""Read many migration files fast: a cache of parsed files keyed by content, and parallel parsing.

A Prisma history only grows, so most files of a run were read by the previous run: the cache
keeps each file's statements under the SHA-256 of its bytes (and the tool version), one cache file
per history. Missing files are parsed in worker processes when there are many. The cache lives in
``$SAFEMIGRATE_CACHE_DIR``, else ``$XDG_CACHE_HOME/safemigrate``, else ``~/.cache/safemigrate``
(created 0700: it is unpickled, so only its owner may write it); ``SAFEMIGRATE_NO_CACHE=1`` or
``--no-cache`` turn it off. A cache that cannot be read is ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from safemigrate import __version__
from safemigrate.lint.reader import ParsedFile, parse_source

_FORMAT = 1
_PARALLEL_FROM = 200  # files; below this, worker start-up costs more than it saves


def default_cache_dir() -> Path | None:
    if os.environ.get("SAFEMIGRATE_NO_CACHE", "").lower() in ("1", "true", "yes"):
        return None
    if os.environ.get("SAFEMIGRATE_CACHE_DIR"):
        return Path(os.environ["SAFEMIGRATE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "safemigrate"


def cache_file(cache_dir: Path, history: str) -> Path:
    """One cache file per history (a migrations directory, or the paths given)."""
    digest = hashlib.sha256(history.encode("utf-8", "surrogateescape")).hexdigest()[:20]
    return cache_dir / f"parsed-{digest}.pickle"


def _load(path: Path) -> dict[str, ParsedFile]:
    try:
        with path.open("rb") as handle:
            stored = pickle.load(handle)
    except FileNotFoundError:
        return {}
    except Exception:  # a corrupt or foreign cache is rebuilt, never trusted
        return {}
    if not isinstance(stored, dict) or stored.get("key") != (_FORMAT, __version__):
        return {}
    entries = stored.get("entries")
    return entries if isinstance(entries, dict) else {}


def _save(path: Path, entries: dict[str, ParsedFile]) -> None:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".parsed-", suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            pickle.dump({"key": (_FORMAT, __version__), "entries": entries}, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
    except OSError:
        return  # a cache that cannot be written only costs speed


def _parse_many(datas: Sequence[bytes], jobs: int) -> list[ParsedFile]:
    if jobs > 1 and len(datas) >= _PARALLEL_FROM and sys.platform == "linux":
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        import safemigrate.sql.parse  # noqa: F401 - loaded once here, inherited by the forked workers

        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            return list(pool.map(parse_source, datas, chunksize=max(1, len(datas) // (jobs * 8))))
    return [parse_source(data) for data in datas]


def read_files(datas: Sequence[bytes], cache_path: Path | None, jobs: int | None = None) -> list[ParsedFile]:
    """Parse each file's bytes, from the cache where possible; keeps the cache to this history's files."""
    jobs = jobs or os.cpu_count() or 1
    keys = [hashlib.sha256(data).hexdigest() for data in datas]
    cached = _load(cache_path) if cache_path is not None else {}
    missing = sorted({k: d for k, d in zip(keys, datas, strict=True) if k not in cached}.items())
    parsed = _parse_many([data for _, data in missing], jobs)
    fresh = {key: result for (key, _), result in zip(missing, parsed, strict=True)}
    if cache_path is not None and fresh:
        _save(cache_path, {k: cached.get(k) or fresh[k] for k in keys})
    return [cached.get(k) or fresh[k] for k in keys]
