"""The parse cache and parallel reading give exactly what a plain read gives."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
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


@pytest.mark.parametrize("jobs", [2, 3])  # two cores: this process and a helper from both ends; more: a pool
def test_parallel_parsing_matches_serial(jobs: int) -> None:
    many = [f'ALTER TABLE "T{i}" ADD COLUMN "c" TEXT;'.encode() for i in range(cache._PARALLEL_FROM + 5)]
    many += FILES * 3  # a bad file and duplicate contents among them
    assert cache._can_fork()  # else the files would be read here, serially
    assert cache.read_files(many, None, jobs=jobs) == [parse_source(data) for data in many]


def test_cache_location_and_switch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SAFEMIGRATE_CACHE_DIR", str(tmp_path))
    assert cache.default_cache_dir() == tmp_path
    monkeypatch.setenv("SAFEMIGRATE_NO_CACHE", "1")
    assert cache.default_cache_dir() is None


def _copy_blog(tmp_path: Path) -> Path:
    import shutil

    project = tmp_path / "blog"
    shutil.copytree(Path(__file__).parents[2] / "fixtures" / "blog", project)
    return project


def _lint(project: Path, **kwargs: object) -> list[object]:
    from safemigrate import api

    result = api.lint(project_dir=project, **kwargs).result  # type: ignore[arg-type]
    return [(f.file, f.line, f.rule, f.message, f.suppressed) for f in result.findings] + list(result.files)


def test_resuming_from_a_checkpoint_gives_what_a_full_run_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAFEMIGRATE_CACHE_DIR", str(tmp_path / "cache"))
    project = _copy_blog(tmp_path)
    migrations = project / "prisma" / "migrations"
    newest = sorted(p for p in migrations.iterdir() if p.is_dir())[-1]
    held_back = tmp_path / newest.name
    newest.rename(held_back)
    assert _lint(project) == _lint(project, use_cache=False)  # writes the checkpoint
    held_back.rename(newest)  # a new migration arrives: resume after the checkpoint
    assert _lint(project) == _lint(project, use_cache=False)
    assert _lint(project) == _lint(project, use_cache=False)  # nothing changed: all from the checkpoint
    assert list((tmp_path / "cache").glob("checkpoint-*.pickle"))


def test_an_edited_old_migration_or_other_options_start_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEMIGRATE_CACHE_DIR", str(tmp_path / "cache"))
    project = _copy_blog(tmp_path)
    _lint(project)
    init = next(p for p in (project / "prisma" / "migrations").iterdir() if p.name.endswith("_init"))
    sql = init / "migration.sql"
    sql.write_text(sql.read_text() + '\nCREATE TABLE "Extra" ("id" INTEGER);\nDROP TABLE "Extra";\n')
    assert _lint(project) == _lint(project, use_cache=False)
    (project / "safemigrate.toml").write_text('[lint]\ndisable = ["drop-table"]\n')
    assert _lint(project) == _lint(project, use_cache=False)
    assert _lint(project, pg_version=10) == _lint(project, pg_version=10, use_cache=False)


def test_corrupt_checkpoint_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEMIGRATE_CACHE_DIR", str(tmp_path / "cache"))
    project = _copy_blog(tmp_path)
    _lint(project)
    for checkpoint in (tmp_path / "cache").glob("checkpoint-*.pickle"):
        checkpoint.write_bytes(b"garbage")
    assert _lint(project) == _lint(project, use_cache=False)


def test_cache_writable_by_others_is_not_trusted(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    path = cache.cache_file(folder, "history")
    cache.read_files(FILES, path, jobs=1)
    assert cache._load(path)
    folder.chmod(0o777)  # anyone could have replaced the pickle
    assert cache._load(path) == {}
    folder.chmod(0o700)
    path.chmod(0o666)
    assert cache._load(path) == {}


def _lint_process(migrations: Path, cache_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SAFEMIGRATE_CACHE_DIR": str(cache_dir)}
    env.pop("SAFEMIGRATE_NO_CACHE", None)
    command = [sys.executable, "-m", "safemigrate", "lint", str(migrations), "--format", "json", "--fail-on", "never"]
    return subprocess.run([*command, *extra], capture_output=True, text=True, check=True, env=env)


def test_new_files_read_by_the_warmed_up_parser_process_give_a_cold_runs_result(tmp_path: Path) -> None:
    # In a fresh process, with a checkpoint on disk, the new files are parsed by a forked process that
    # imported the parser while the checkpoint was read (_ParserWarmUp); unchanged runs kill it unused.
    migrations = tmp_path / "migrations"
    shutil.copytree(Path(__file__).parents[2] / "fixtures" / "blog" / "prisma" / "migrations", migrations)
    newest = sorted(p for p in migrations.iterdir() if p.is_dir())[-2:]
    for folder in newest:
        folder.rename(tmp_path / folder.name)
    cache_dir = tmp_path / "cache"
    _lint_process(migrations, cache_dir)
    for folder in newest:
        (tmp_path / folder.name).rename(migrations / folder.name)
    cold = _lint_process(migrations, cache_dir, "--no-cache").stdout
    assert _lint_process(migrations, cache_dir).stdout == cold  # two new files, from the warmed-up process
    assert _lint_process(migrations, cache_dir).stdout == cold  # unchanged: the warm-up is not used
    assert json.loads(cold)["summary"]["files"] == len([p for p in migrations.iterdir() if p.is_dir()])


def test_a_syntax_error_in_a_new_file_read_by_the_warmed_up_process_is_reported(tmp_path: Path) -> None:
    # The warmed-up process reads new files without PostgreSQL's parser; this process judges their syntax.
    migrations = tmp_path / "migrations"
    shutil.copytree(Path(__file__).parents[2] / "fixtures" / "blog" / "prisma" / "migrations", migrations)
    cache_dir = tmp_path / "cache"
    _lint_process(migrations, cache_dir)
    typo = migrations / "29990101000000_typo"
    typo.mkdir()
    (typo / "migration.sql").write_text('-- AlterTable\nALTER TABLE "User" ADD COLUMN "nickname" TEXT NOT NUL;\n')
    cold = _lint_process(migrations, cache_dir, "--no-cache").stdout
    warm = _lint_process(migrations, cache_dir).stdout
    assert warm == cold
    found = [f for f in json.loads(warm)["findings"] if f["rule"] == "syntax-error"]
    assert [(f["line"], f["message"].split(" (")[0]) for f in found] == [
        (2, 'PostgreSQL rejects this statement: syntax error at or near "NUL"')
    ]
