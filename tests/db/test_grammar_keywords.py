"""The keywords sql/grammar.py lets older servers read as names, checked against a real server's."""

from __future__ import annotations

import pglast.keywords
import psycopg

from safemigrate.sql.grammar import GRAMMAR_MAJOR, NEWER_KEYWORDS

_RANK = {"U": 0, "C": 1, "T": 2, "R": 3}  # unreserved, column name, type or function name, reserved


def _pglast_keywords() -> dict[str, str]:
    groups = (
        ("U", pglast.keywords.UNRESERVED_KEYWORDS),
        ("C", pglast.keywords.COL_NAME_KEYWORDS),
        ("T", pglast.keywords.TYPE_FUNC_NAME_KEYWORDS),
        ("R", pglast.keywords.RESERVED_KEYWORDS),
    )
    return {word.lower(): category for category, words in groups for word in words}


def test_every_keyword_the_parser_reserves_more_than_the_server_is_listed(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        major = conn.info.server_version // 10000
        server = dict(conn.execute("SELECT word, catcode FROM pg_get_keywords()").fetchall())
    stricter = {
        word
        for word, category in _pglast_keywords().items()
        if word not in server or _RANK[category] > _RANK[server[word]]
    }
    assert stricter <= NEWER_KEYWORDS, sorted(stricter - NEWER_KEYWORDS)
    if major == 15:  # the list was made against PostgreSQL 15: exactly its differences
        assert stricter == NEWER_KEYWORDS
    if major >= GRAMMAR_MAJOR:
        assert not stricter
