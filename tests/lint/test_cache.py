"""The parse cache and parallel reading give exactly what a plain read gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from safemigrate.lint import cache
from safemigrate.lint.reader import parse_source

FILES = [
    b'CREATE TABLE "User" ("id" SERIAL NOT NULL, CONSTRAINT "User_pkey" PRIMARY KEY ("id"));',
    b'-- AlterTable\nALTER TABLE "User" ADD COLUMN "age" INTEGER NOT NULL;',
    b"not \xff utf-8",
    b"DO $$ BEGIN RAISE NOTICE 'x;y'; END $$;",
]


def test_cache_round_trip_and_content_keys(tmp_path: Path) -> None:
    path = cache.cache_file(tmp_path, "history")
    first = cache.read_files(FILES, path, jobs=1)
    assert path.is_file()
    assert first == [parse_source(data) for data in FILES]
    assert cache.read_files(FILES, path, jobs=1) == first  # served from the cache
    changed = [*FILES[:-1], b"SELECT 1;"]
    assert cache.read_files(changed, path, jobs=1)[-1] == parse_source(b"SELECT 1;")


def test_corrupt_cache_is_ignored_and_rewritten(tmp_path: Path) -> None:
    path = cache.cache_file(tmp_path, "history")
    path.write_bytes(b"this is not a pickle")
    assert cache.read_files(FILES, path, jobs=1) == [parse_source(data) for data in FILES]
    assert cache._load(path)  # rewritten with real entries


def test_parallel_parsing_matches_serial() -> None:
    many = [f'ALTER TABLE "T{i}" ADD COLUMN "c" TEXT;'.encode() for i in range(cache._PARALLEL_FROM + 5)]
    assert cache.read_files(many, None, jobs=2) == [parse_source(data) for data in many]


def test_cache_location_and_switch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SAFEMIGRATE_CACHE_DIR", str(tmp_path))
    assert cache.default_cache_dir() == tmp_path
    monkeypatch.setenv("SAFEMIGRATE_NO_CACHE", "1")
    assert cache.default_cache_dir() is None
