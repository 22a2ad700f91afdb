"""Lint long histories fast: parsed files cached by content, parallel parsing, and resuming.

A Prisma history only grows, so most files of a run were read by the previous run. Two caches, one
file each per history:
- parsed files, keyed by the SHA-256 of their bytes (and the tool version); when many are missing
  from it, a forked helper reads them from the back while this process reads and lints them from
  the front (a pool of workers beyond two cores);
- a checkpoint of the previous run: the chain of keys of its files (each key covers the file, its
  place in the history and every earlier file, and the lint options), what each file produced, and
  the schema model after the last file. When this run's history starts with that chain, those
  files are not read again: their findings are reused and linting resumes from the saved model.
  Anything else (an edited or reordered old migration, other options) starts from the beginning.
The caches live in
``$SAFEMIGRATE_CACHE_DIR``, else ``$XDG_CACHE_HOME/safemigrate``, else ``~/.cache/safemigrate``
(created 0700: it is unpickled, so only its owner may write it); ``SAFEMIGRATE_NO_CACHE=1`` or
``--no-cache`` turn it off. A cache that cannot be read is ignored and rewritten.
When a checkpoint exists, a forked process imports the SQL parser while the checkpoint is read, and
parses the few new files (a pull request's migration) itself.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import signal
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from safemigrate import __version__
from safemigrate.lint.engine import FileOutcome, LintOptions, SourceFile, collect, lint_history
from safemigrate.lint.findings import LintResult
from safemigrate.lint.reader import ParsedFile, judge_syntax, parse_source
from safemigrate.sql.schema import SchemaModel

_FORMAT = 21  # 2: every data change (CTEs) and function calls; 3: sequence resets, virtual columns, USING casts;
# 4: identity RESTART (ALTER TABLE ... ALTER COLUMN ... RESTART); 5: tables filled by this deploy, TEMP tables,
# per-action NOT VALID, element assignments, function defaults, search_path values, SELECT INTO, COPY, sequence steps;
# 6: foreign keys (and those dropped) in the schema model; 7: NULLS [NOT] DISTINCT of unique indexes and constraints;
# 8: triggers, code run by defaults and CHECKs, INSERT column lists, USING cast chains judged step by step;
# 9: built-ins called with an extension's schema, gen_random_bytes, ROW(...);
# 10: ADD GENERATED ... START, the sequences a default draws from; 11: row-level security policies, REVOKE;
# 12: DISABLE TRIGGER ALL told apart from USER; 13: statements PostgreSQL's parser refuses;
# 14: serial types kept in ALTER COLUMN ... TYPE, DROP OWNED BY, REASSIGN OWNED BY; 15: ALTER DEFAULT PRIVILEGES REVOKE;
# 16: unique keys (and those dropped earlier in the file) in the schema model; 17: syntax judged on whole files
# (newer keywords), enum values committed by the file, key types when dropped, more built-in types read by name;
# 18: ALTER ROLE / DATABASE ... SET settings, REASSIGN OWNED BY ... TO; 19: a NUL byte refuses the file;
# 20: the migration that added each enum value; 21: columns views, generated columns, policies and triggers
# read, view columns, integer keys made text, backfills non-NULL when NOT NULL columns are
_PARALLEL_FROM = 200  # files; below this, worker start-up costs more than it saves
_FEW_NEW_FILES = 20
_CHUNK_FILES = 25  # files per task sent to a worker


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


def _parse_many(datas: Sequence[bytes], jobs: int) -> Iterator[ParsedFile]:
    """Each file read, in order, as soon as it is read: the caller lints early files while other
    processes read later ones."""
    if jobs > 1 and len(datas) >= _PARALLEL_FROM and _can_fork():
        if jobs == 2:
            yield from _parse_from_both_ends(datas)
            return
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        import pglast.parser  # noqa: F401 - loaded once here, inherited by the forked workers

        import safemigrate.sql.parse  # noqa: F401

        # Small chunks: the first results arrive early, and no worker is left with a long tail.
        chunksize = max(1, min(_CHUNK_FILES, len(datas) // (jobs * 8)))
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            yield from pool.map(parse_source, datas, chunksize=chunksize)
        return
    for data in datas:
        yield parse_source(data)


def _can_fork() -> bool:
    """Forked helpers only on Linux, and only from a single-threaded process: forking beside other
    threads could copy a lock one of them holds."""
    threading = sys.modules.get("threading")
    return sys.platform == "linux" and (threading is None or threading.active_count() == 1)


def _parse_from_both_ends(datas: Sequence[bytes]) -> Iterator[ParsedFile]:
    """Two cores: this process reads files from the front (the caller lints each one at once) while
    one forked helper reads chunks from the back; they stop where they meet. Against a pool of two
    workers, only the helper's share is pickled, and no third process competes for the cores."""
    import select

    import pglast.parser  # noqa: F401 - loaded once here, inherited by the helper

    import safemigrate.sql.parse  # noqa: F401

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the helper
        os.close(read_fd)
        _parse_backwards(datas, write_fd)
    os.close(write_fd)
    received: dict[int, list[ParsedFile]] = {}  # chunk start -> the helper's files
    front, back = 0, len(datas)  # files [back:] came from the helper
    helper_running = True
    try:
        while front < back:
            while helper_running and front < back and select.select([read_fd], [], [], 0)[0]:
                message = _receive(read_fd)
                if message is None:  # the helper failed: this process reads the rest
                    helper_running = False
                    break
                start, files = message
                received[start] = files
                back = start  # the helper's chunks arrive from the end, without gaps
            if front < back:
                yield parse_source(datas[front])
                front += 1
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read_fd)
    for start in sorted(received):
        for index, parsed in enumerate(received[start], start):
            if index >= front:
                yield parsed


_HEADER = "<QQ"  # chunk start, payload length
_HELPER_CHUNK = 10  # files per message from the helper: where the two ends meet is this precise


def _parse_backwards(datas: Sequence[bytes], write_fd: int) -> NoReturn:
    try:
        import struct

        _detach_output()
        with os.fdopen(write_fd, "wb") as out:
            end = len(datas)
            while end > 0:
                start = max(0, end - _HELPER_CHUNK)
                payload = pickle.dumps([parse_source(d) for d in datas[start:end]], protocol=pickle.HIGHEST_PROTOCOL)
                out.write(struct.pack(_HEADER, start, len(payload)) + payload)
                out.flush()
                end = start
    finally:
        os._exit(0)


def _receive(fd: int) -> tuple[int, list[ParsedFile]] | None:
    import struct

    header = _read_exactly(fd, struct.calcsize(_HEADER))
    if header is None:
        return None
    start, size = struct.unpack(_HEADER, header)
    payload = _read_exactly(fd, size)
    if payload is None:
        return None
    files = pickle.loads(payload)
    return (start, files) if isinstance(files, list) else None


def _read_exactly(fd: int, size: int) -> bytes | None:
    parts: list[bytes] = []
    while size > 0:
        part = os.read(fd, min(size, 1 << 20))
        if not part:
            return None
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def _detach_output() -> None:
    """In a forked helper: off the caller's stdout and stderr, so that whoever reads them never
    waits for the helper."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)


def iter_files(datas: Sequence[bytes], cache_path: Path | None, jobs: int | None = None) -> Iterator[ParsedFile]:
    """Each file's bytes parsed, in order, from the cache where possible. Once the last one is
    yielded, the cache is rewritten to hold this history's files (when any was new)."""
    jobs = jobs or os.cpu_count() or 1
    keys = [hashlib.sha256(data).hexdigest() for data in datas]
    cached = _load(cache_path) if cache_path is not None else {}
    # First occurrence order, so that results stream in the order they are linted.
    missing = {k: d for k, d in zip(keys, datas, strict=True) if k not in cached}
    fresh_stream = _parse_many(list(missing.values()), jobs)
    fresh: dict[str, ParsedFile] = {}
    for key in keys:
        known = cached.get(key) or fresh.get(key)
        if known is None:
            known = fresh[key] = next(fresh_stream)
        yield known
    if cache_path is not None and fresh:
        _save(cache_path, {k: cached.get(k) or fresh[k] for k in keys})


def read_files(datas: Sequence[bytes], cache_path: Path | None, jobs: int | None = None) -> list[ParsedFile]:
    """Parse each file's bytes, from the cache where possible; keeps the cache to this history's files."""
    return list(iter_files(datas, cache_path, jobs))


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
        import tempfile  # only when writing: an unchanged history is read without it

        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pickle")
        with os.fdopen(handle, "wb") as out:
            pickle.dump(payload, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
    except OSError:
        return  # a cache that cannot be written only costs speed


class _ParserWarmUp:
    """A forked process that imports the SQL parser (sqlglot: about 0.1 s) while this one reads
    the checkpoint, then parses the few files that are new since it. Killed unused when no file is new.
    """

    def __init__(self) -> None:
        request_read, self._request = os.pipe()
        self._response, response_write = os.pipe()
        self._pid = os.fork()
        if self._pid == 0:  # the child
            os.close(self._request)
            os.close(self._response)
            _serve_one_request(request_read, response_write)
        os.close(request_read)
        os.close(response_write)

    def parse(self, datas: list[bytes]) -> list[ParsedFile] | None:
        """The files read by the child; None if it failed (the caller then reads them itself)."""
        result: object = None
        request, response = os.fdopen(self._request, "wb"), os.fdopen(self._response, "rb")
        try:
            with request:
                pickle.dump(datas, request, protocol=pickle.HIGHEST_PROTOCOL)
            # PostgreSQL's parser is loaded here while the child reads the files: off the critical path.
            import pglast.parser  # noqa: F401

            result = pickle.load(response)
        except Exception:
            result = None
        finally:
            response.close()
            os.waitpid(self._pid, 0)
        if isinstance(result, list) and len(result) == len(datas):
            return [judge_syntax(parsed, data) for parsed, data in zip(result, datas, strict=True)]
        return None

    def cancel(self) -> None:
        os.kill(self._pid, signal.SIGKILL)
        os.waitpid(self._pid, 0)
        os.close(self._request)
        os.close(self._response)


def _serve_one_request(request_fd: int, response_fd: int) -> NoReturn:
    try:
        _detach_output()
        import safemigrate.sql.parse  # noqa: F401 - the point of this process

        with os.fdopen(request_fd, "rb") as request:
            datas = pickle.load(request)
        parsed = [parse_source(data, syntax=False) for data in datas]  # syntax: judged by the caller
        with os.fdopen(response_fd, "wb") as response:
            pickle.dump(parsed, response, protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        os._exit(0)


def _warm_up_parser(path: Path) -> _ParserWarmUp | None:
    """Start importing the parser beside reading the checkpoint, when there are two cores to do it."""
    if "safemigrate.sql.parse" in sys.modules or (os.cpu_count() or 1) < 2 or not _can_fork():
        return None
    if not path.is_file():
        return None  # no checkpoint: every file is parsed, in worker processes when many
    try:
        return _ParserWarmUp()
    except OSError:
        return None


def lint_incrementally(
    sources: Sequence[SourceFile], options: LintOptions, cache_dir: Path | None, history: str
) -> LintResult:
    """lint_sources, resuming from the previous run's checkpoint when this history extends it."""
    if cache_dir is None or not history:
        parsed = iter_files([s.data for s in sources], None)
        return collect(sources, lint_history(sources, parsed, options)[0], options)
    path = checkpoint_file(cache_dir, history)
    warm_up = _warm_up_parser(path)
    keys = chain_keys(sources, options)
    checkpoint = _load_checkpoint(path)
    start: int = 0
    prior: tuple[FileOutcome, ...] = ()
    schema: SchemaModel | None = None
    if checkpoint is not None and tuple(keys[: len(checkpoint.keys)]) == checkpoint.keys:
        start, prior, schema = len(checkpoint.keys), checkpoint.outcomes, checkpoint.schema
    tail = sources[start:]
    # A few new files are parsed directly: loading the whole parse cache would cost more.
    few = start > 0 and len(tail) <= _FEW_NEW_FILES
    parsed_by_warm_up = warm_up.parse([s.data for s in tail]) if warm_up is not None and few and tail else None
    if warm_up is not None and parsed_by_warm_up is None:
        warm_up.cancel()
    if start == len(sources) and checkpoint is not None:
        return collect(sources, prior, options)
    tail_files: Iterable[ParsedFile] = parsed_by_warm_up or iter_files(
        [s.data for s in tail], None if few else cache_file(cache_dir, history)
    )
    outcomes, final = lint_history(sources, tail_files, options, start=start, schema=schema)
    everything = (*prior, *outcomes)
    _save_pickle(path, {"key": (_FORMAT, __version__), "checkpoint": Checkpoint(tuple(keys), everything, final)})
    return collect(sources, everything, options)
