"""The neon clone against a local server that follows Neon's documented API (tests/clone/fake_neon.py),
whose branches are real databases on the test PostgreSQL server."""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from safemigrate.clone.neon import BRANCH_PREFIX, drop_stale_neon_branches, neon_clone
from safemigrate.config import DatabaseConfig, DryRunConfig
from safemigrate.db.url import DatabaseUrl, parse_database_url
from safemigrate.errors import CloneError
from tests.clone.fake_neon import FakeNeon, fake_neon
from tests.pgserver import PgServer

FAST = {"poll_interval": 0.01, "operation_timeout": 30.0}


@pytest.fixture
def neon(pg_server: PgServer, database_url: str) -> Iterator[FakeNeon]:
    """A fake Neon project whose default branch "main" holds the test database (with two rows in app.items)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA app; CREATE TABLE app.items (id int PRIMARY KEY, name text)")
        conn.execute("INSERT INTO app.items VALUES (1, 'one'), (2, 'two')")
    with fake_neon(pg_server) as fake:
        database = parse_database_url(database_url).database
        fake.add_branch("main", {database: database}, default=True)
        yield fake


def _target(database_url: str) -> DatabaseUrl:
    return parse_database_url(database_url + "?schema=app")


def _settings(fake: FakeNeon, parent: str = "") -> DryRunConfig:
    return DryRunConfig(clone="neon", neon_project_id=fake.project_id, neon_parent_branch=parent, neon_api_url=fake.url)


def _databases(pg_server: PgServer) -> set[str]:
    with psycopg.connect(pg_server.url()) as conn:
        return {str(r[0]) for r in conn.execute("SELECT datname FROM pg_database")}


def _created_parent(fake: FakeNeon) -> str:
    (create,) = [r for r in fake.requests if r.method == "POST"]
    return str(create.body["branch"]["parent_id"])


def test_branch_of_the_configured_parent_holds_its_data_and_is_deleted_afterwards(
    neon: FakeNeon, database_url: str, pg_server: PgServer
) -> None:
    staging_db = parse_database_url(database_url).database
    staging = neon.add_branch("staging", {staging_db: staging_db})
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO app.items VALUES (3, 'three')")
    before = _databases(pg_server)

    with neon_clone(
        _target(database_url),
        _settings(neon, "staging"),
        api_key=neon.api_key,
        database_settings=DatabaseConfig(),
        **FAST,
    ) as clone:
        assert _created_parent(neon) == staging
        (create,) = [r for r in neon.requests if r.method == "POST"]
        assert create.body["endpoints"] == [{"type": "read_write"}]
        assert create.body["branch"]["name"].startswith(BRANCH_PREFIX)
        assert clone.provider == "neon"
        assert clone.url.schema == "app"
        assert clone.url.database not in before
        assert clone.server_major == pg_server.version
        with psycopg.connect(clone.url.conninfo) as conn:
            assert conn.execute("SELECT id, name FROM app.items ORDER BY id").fetchall() == [
                (1, "one"),
                (2, "two"),
                (3, "three"),
            ]
        branch_id = next(b.id for b in neon.branches.values() if b.name.startswith(BRANCH_PREFIX))
        assert branch_id in clone.description

    assert branch_id not in neon.branches
    assert _databases(pg_server) == before
    assert [r.path for r in neon.requests if r.method == "DELETE"] == [
        f"/projects/{neon.project_id}/branches/{branch_id}"
    ]


@pytest.mark.parametrize("legacy_primary", [False, True], ids=["default", "primary"])
def test_without_a_configured_parent_the_default_branch_is_the_parent(
    neon: FakeNeon, database_url: str, legacy_primary: bool
) -> None:
    neon.legacy_primary = legacy_primary
    for name in ("dev-1", "dev-2", "dev-3"):  # more branches than one page: the default one sits on the last page
        neon.add_branch(name, {})
    main = next(b.id for b in neon.branches.values() if b.default)
    with neon_clone(
        _target(database_url), _settings(neon), api_key=neon.api_key, database_settings=DatabaseConfig(), **FAST
    ) as clone:
        assert _created_parent(neon) == main
        with psycopg.connect(clone.url.conninfo) as conn:
            assert conn.execute("SELECT count(*) FROM app.items").fetchone() == (2,)


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_branch_is_deleted_when_the_block_raises(
    neon: FakeNeon, database_url: str, pg_server: PgServer, error: type[BaseException]
) -> None:
    before = _databases(pg_server)
    with (
        pytest.raises(error),
        neon_clone(
            _target(database_url), _settings(neon), api_key=neon.api_key, database_settings=DatabaseConfig(), **FAST
        ),
    ):
        assert any(b.name.startswith(BRANCH_PREFIX) for b in neon.branches.values())
        raise error()
    assert not any(b.name.startswith(BRANCH_PREFIX) for b in neon.branches.values())
    assert _databases(pg_server) == before


def test_missing_api_key_is_refused_before_any_request(
    neon: FakeNeon, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEON_API_KEY", raising=False)
    with (
        pytest.raises(CloneError, match="NEON_API_KEY"),
        neon_clone(_target(database_url), _settings(neon), database_settings=DatabaseConfig()),
    ):
        pass
    assert neon.requests == []


def test_api_key_is_read_from_the_environment(
    neon: FakeNeon, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEON_API_KEY", neon.api_key)
    with neon_clone(_target(database_url), _settings(neon), database_settings=DatabaseConfig(), **FAST) as clone:
        assert clone.provider == "neon"
    assert neon.requests[0].method == "GET"


def test_missing_project_is_refused_before_any_request(neon: FakeNeon, database_url: str) -> None:
    settings = DryRunConfig(clone="neon", neon_api_url=neon.url)
    with (
        pytest.raises(CloneError, match="neon_project_id"),
        neon_clone(_target(database_url), settings, api_key=neon.api_key, database_settings=DatabaseConfig()),
    ):
        pass
    assert neon.requests == []


def test_plain_http_api_url_off_this_machine_is_refused(database_url: str) -> None:
    settings = DryRunConfig(clone="neon", neon_project_id="p", neon_api_url="http://console.neon.tech/api/v2")
    with (
        pytest.raises(CloneError, match="https://"),
        neon_clone(_target(database_url), settings, api_key="k", database_settings=DatabaseConfig()),
    ):
        pass


def test_rejected_key_is_one_sentence_without_the_key(neon: FakeNeon, database_url: str) -> None:
    wrong_key = "napi_wrong-secret-key-9876543210"
    with (
        pytest.raises(CloneError) as caught,
        neon_clone(_target(database_url), _settings(neon), api_key=wrong_key, database_settings=DatabaseConfig()),
    ):
        pass
    assert "401" in caught.value.message
    assert "NEON_API_KEY" in caught.value.message
    assert wrong_key not in str(caught.value)
    assert caught.value.message.count(". ") == 0 and caught.value.message.endswith(".")
    assert wrong_key not in "".join(traceback.format_exception(caught.value))  # not even in a chained error
    assert not any(r.method == "POST" for r in neon.requests)


def test_unknown_project_and_unknown_parent_branch_are_clone_errors(neon: FakeNeon, database_url: str) -> None:
    settings = DryRunConfig(clone="neon", neon_project_id="no-such-project", neon_api_url=neon.url)
    with (
        pytest.raises(CloneError, match=r"404 Not Found: project not found"),
        neon_clone(_target(database_url), settings, api_key=neon.api_key, database_settings=DatabaseConfig()),
    ):
        pass
    with (
        pytest.raises(CloneError, match="has no branch 'nope'"),
        neon_clone(
            _target(database_url), _settings(neon, "nope"), api_key=neon.api_key, database_settings=DatabaseConfig()
        ),
    ):
        pass
    assert not any(r.method == "POST" for r in neon.requests)


def test_failed_operation_is_a_clone_error_and_the_branch_is_deleted(
    neon: FakeNeon, database_url: str, pg_server: PgServer
) -> None:
    neon.fail_operations = True
    before = _databases(pg_server)
    with (
        pytest.raises(CloneError, match=r"create_branch operation .* ended failed: simulated storage failure"),
        neon_clone(
            _target(database_url), _settings(neon), api_key=neon.api_key, database_settings=DatabaseConfig(), **FAST
        ),
    ):
        pass
    assert any(r.method == "DELETE" for r in neon.requests)
    assert not any(b.name.startswith(BRANCH_PREFIX) for b in neon.branches.values())
    assert _databases(pg_server) == before


def test_operations_that_never_finish_time_out_and_the_branch_is_deleted(neon: FakeNeon, database_url: str) -> None:
    neon.polls_to_finish = 10**6
    with (
        pytest.raises(CloneError, match=r"did not finish within 0\.2 seconds"),
        neon_clone(
            _target(database_url),
            _settings(neon),
            api_key=neon.api_key,
            database_settings=DatabaseConfig(),
            poll_interval=0.01,
            operation_timeout=0.2,
        ),
    ):
        pass
    assert not any(b.name.startswith(BRANCH_PREFIX) for b in neon.branches.values())


def test_locked_project_is_retried_and_server_errors_are_clone_errors(neon: FakeNeon, database_url: str) -> None:
    neon.forced.append((423, {"code": "", "message": "project already has running operations"}, {"Retry-After": "0"}))
    with neon_clone(
        _target(database_url), _settings(neon), api_key=neon.api_key, database_settings=DatabaseConfig(), **FAST
    ) as clone:
        assert clone.provider == "neon"
    assert [r.path for r in neon.requests[:2]] == [f"/projects/{neon.project_id}/branches"] * 2

    neon.forced.extend([(500, {"code": "", "message": "internal error"}, {})])
    with (
        pytest.raises(CloneError, match=r"failed to list the project's branches \(HTTP 500: internal error\)"),
        neon_clone(_target(database_url), _settings(neon), api_key=neon.api_key, database_settings=DatabaseConfig()),
    ):
        pass


def test_target_database_missing_on_the_parent_is_a_clone_error(neon: FakeNeon, database_url: str) -> None:
    target = parse_database_url(database_url).with_database("not_on_neon")
    with (
        pytest.raises(CloneError, match="has no database 'not_on_neon'"),
        neon_clone(target, _settings(neon), api_key=neon.api_key, database_settings=DatabaseConfig(), **FAST),
    ):
        pass
    assert not any(b.name.startswith(BRANCH_PREFIX) for b in neon.branches.values())


def test_unreachable_api_is_a_clone_error(database_url: str) -> None:
    from safemigrate.clone.servers import free_port

    settings = DryRunConfig(clone="neon", neon_project_id="p", neon_api_url=f"http://127.0.0.1:{free_port()}/api/v2")
    with (
        pytest.raises(CloneError, match=r"Cannot reach the Neon API at 127\.0\.0\.1"),
        neon_clone(_target(database_url), settings, api_key="k", database_settings=DatabaseConfig()),
    ):
        pass


def test_stale_dry_run_branches_are_deleted_and_others_kept(neon: FakeNeon) -> None:
    now = datetime(2030, 5, 1, 12, 0, tzinfo=timezone.utc)
    old = f"{BRANCH_PREFIX}{(now - timedelta(hours=3)):%Y%m%dT%H%M%S}-abcd"
    older = f"{BRANCH_PREFIX}{(now - timedelta(days=2)):%Y%m%dT%H%M%S}-0f0f"
    recent = f"{BRANCH_PREFIX}{(now - timedelta(minutes=5)):%Y%m%dT%H%M%S}-1234"
    for name in (old, older, recent, "dev", "safemigrate-dryrun-by-hand"):
        neon.add_branch(name, {})

    dropped = drop_stale_neon_branches(_settings(neon), api_key=neon.api_key, now=now)

    assert sorted(dropped) == sorted([old, older])
    assert sorted(b.name for b in neon.branches.values()) == sorted(
        ["main", recent, "dev", "safemigrate-dryrun-by-hand"]
    )
    assert {r.query.get("search") for r in neon.requests if r.method == "GET"} == {BRANCH_PREFIX}


def test_branch_already_deleted_elsewhere_counts_as_deleted(neon: FakeNeon, database_url: str) -> None:
    with neon_clone(
        _target(database_url), _settings(neon), api_key=neon.api_key, database_settings=DatabaseConfig(), **FAST
    ):
        branch_id = next(b.id for b in neon.branches.values() if b.name.startswith(BRANCH_PREFIX))
        neon.handle("DELETE", f"/api/v2/projects/{neon.project_id}/branches/{branch_id}", _auth(neon), b"")
    deletes = [r for r in neon.requests if r.method == "DELETE"]
    assert len(deletes) == 2  # ours found it gone (404) and did not raise
    assert branch_id not in neon.branches


def _auth(fake: FakeNeon) -> dict[str, str]:
    return {"Authorization": f"Bearer {fake.api_key}"}
