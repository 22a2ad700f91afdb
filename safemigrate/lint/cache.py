"""Lint long histories fast: parsed files cached by content, parallel parsing, and resuming.

A Prisma history only grows, so most files of a run were read by the previous run. Two caches, one
file each per history:
- parsed files, keyed by the SHA-256 of their bytes (and the tool version); files missing from it
  are parsed in worker processes when there are many;
- a checkpoint of the previous run: the chain of keys of its files (each key covers the file, its
  place in the history and every earlier file, and the lint options), what each file produced, and
  the schema model after the last file. When this run's history starts with that chain, those
  files are not read again: their findings are reused and linting resumes from the saved model.
  Anything else (an edited or reordered old migration, other options) starts from the beginning.
The caches live in
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
from dataclasses import dataclass
from pathlib import Path

from safemigrate import __version__
from safemigrate.lint.engine import FileOutcome, LintOptions, SourceFile, collect, lint_history
from safemigrate.lint.findings import LintResult
from safemigrate.lint.reader import ParsedFile, parse_source
from safemigrate.sql.schema import SchemaModel

_FORMAT = 1
_PARALLEL_FROM = 200  # files; below this, worker start-up costs more than it saves
_FEW_NEW_FILES = 20


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


def _trusted(path: Path) -> bool:
    """Only unpickle what nobody else could have written: our own file in our own folder."""
    try:
        for item in (path, path.parent):
            info = item.stat()
            if info.st_uid != os.getuid() or info.st_mode & 0o022:
                return False
    except OSError:
        return False
    return True


def _load(path: Path) -> dict[str, ParsedFile]:
    if not _trusted(path):
        return {}
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
    _save_pickle(path, {"key": (_FORMAT, __version__), "entries": entries})


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


@dataclass(frozen=True)
class Checkpoint:
    keys: tuple[str, ...]  # chain key of each file of the run that wrote it
    outcomes: tuple[FileOutcome, ...]
    schema: SchemaModel  # the model after the last file


def chain_keys(sources: Sequence[SourceFile], options: LintOptions) -> list[str]:
    """Key i covers sources[:i+1] and everything in the options that can change a finding."""
    settings = (
        __version__,
        _FORMAT,
        options.settings,
        sorted((name, severity.value) for name, severity in (options.severities or {}).items()),
        [rule.name for rule in options.rules],
    )
    previous = hashlib.sha256(repr(settings).encode()).hexdigest()
    keys = []
    for source in sources:
        digest = hashlib.sha256()
        for part in (previous, source.path, source.migration, str(source.migration in options.deploy)):
            digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(hashlib.sha256(source.data).digest())
        previous = digest.hexdigest()
        keys.append(previous)
    return keys


def checkpoint_file(cache_dir: Path, history: str) -> Path:
    digest = hashlib.sha256(history.encode("utf-8", "surrogateescape")).hexdigest()[:20]
    return cache_dir / f"checkpoint-{digest}.pickle"


def _load_checkpoint(path: Path) -> Checkpoint | None:
    if not _trusted(path):
        return None
    try:
        with path.open("rb") as handle:
            stored = pickle.load(handle)
    except Exception:  # missing, corrupt or foreign: start from the beginning
        return None
    if not isinstance(stored, dict) or stored.get("key") != (_FORMAT, __version__):
        return None
    checkpoint = stored.get("checkpoint")
    return checkpoint if isinstance(checkpoint, Checkpoint) else None


def _save_pickle(path: Path, payload: object) -> None:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pickle")
        with os.fdopen(handle, "wb") as out:
            pickle.dump(payload, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
    except OSError:
        return  # a cache that cannot be written only costs speed


def lint_incrementally(
    sources: Sequence[SourceFile], options: LintOptions, cache_dir: Path | None, history: str
) -> LintResult:
    """lint_sources, resuming from the previous run's checkpoint when this history extends it."""
    if cache_dir is None or not history:
        parsed = read_files([s.data for s in sources], None)
        return collect(sources, lint_history(sources, parsed, options)[0], options)
    keys = chain_keys(sources, options)
    path = checkpoint_file(cache_dir, history)
    checkpoint = _load_checkpoint(path)
    start: int = 0
    prior: tuple[FileOutcome, ...] = ()
    schema: SchemaModel | None = None
    if checkpoint is not None and tuple(keys[: len(checkpoint.keys)]) == checkpoint.keys:
        start, prior, schema = len(checkpoint.keys), checkpoint.outcomes, checkpoint.schema
    if start == len(sources) and checkpoint is not None:
        return collect(sources, prior, options)
    tail = sources[start:]
    # A few new files are parsed directly: loading the whole parse cache would cost more.
    few = start > 0 and len(tail) <= _FEW_NEW_FILES
    parsed = read_files([s.data for s in tail], None if few else cache_file(cache_dir, history))
    outcomes, final = lint_history(sources, parsed, options, start=start, schema=schema)
    everything = (*prior, *outcomes)
    _save_pickle(path, {"key": (_FORMAT, __version__), "checkpoint": Checkpoint(tuple(keys), everything, final)})
    return collect(sources, everything, options)
