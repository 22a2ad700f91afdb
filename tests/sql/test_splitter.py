from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from safemigrate.sql.splitter import split_sql


def texts(sql: str) -> list[str]:
    return [s.text for s in split_sql(sql).statements]


def test_positions_are_one_based_and_point_at_first_token() -> None:
    sql = '-- AlterTable\nALTER TABLE "User" DROP COLUMN "a";\n\n  DROP TABLE "Post";\n'
    first, second = split_sql(sql).statements
    assert (first.start.line, first.start.column) == (2, 1)
    assert (second.start.line, second.start.column) == (4, 3)
    assert second.text == 'DROP TABLE "Post"'
    assert first.leading_comments[0].text == " AlterTable"


def test_semicolons_inside_literals_comments_and_identifiers_do_not_split() -> None:
    sql = (
        "INSERT INTO t VALUES ('a;b', E'it\\'s;', $$x;y$$, $fn$ a; $$ ; $fn$);\n"
        'CREATE TABLE "we;ird" ("c;" INT); /* c1; /* nested; */ still; */ SELECT 1; -- tail; comment\n'
    )
    assert texts(sql) == [
        "INSERT INTO t VALUES ('a;b', E'it\\'s;', $$x;y$$, $fn$ a; $$ ; $fn$)",
        'CREATE TABLE "we;ird" ("c;" INT)',
        "SELECT 1",
    ]


def test_doubled_quotes_and_plain_string_backslash() -> None:
    # In a standard string a backslash is an ordinary character: 'a\' ends the literal.
    assert texts("SELECT 'it''s'; SELECT 'a\\'; SELECT 2") == ["SELECT 'it''s'", "SELECT 'a\\'", "SELECT 2"]


def test_dollar_sign_in_identifier_is_not_a_quote() -> None:
    assert texts("SELECT a$b$ FROM t; SELECT 2") == ["SELECT a$b$ FROM t", "SELECT 2"]


def test_positional_parameter_is_not_a_dollar_quote() -> None:
    assert texts("SELECT $1; SELECT 2") == ["SELECT $1", "SELECT 2"]


def test_unterminated_string_is_reported_on_the_statement() -> None:
    (statement,) = split_sql("UPDATE t SET a = 'oops;\nDROP TABLE t;").statements
    assert statement.unterminated == "string constant"


def test_unterminated_dollar_and_comment() -> None:
    assert split_sql("DO $$ BEGIN").statements[0].unterminated == "dollar-quoted body ($$)"
    (comment_only,) = split_sql("/* never closed").statements
    assert comment_only.unterminated == "block comment"


def test_empty_and_comment_only_files_have_no_statements() -> None:
    assert split_sql("").statements == ()
    result = split_sql("-- This is an empty migration.\n;;\n")
    assert result.statements == ()
    assert result.trailing_comments[0].text == " This is an empty migration."


def test_crlf_line_numbers() -> None:
    statements = split_sql("SELECT 1;\r\nSELECT 2;\r\n").statements
    assert [s.start.line for s in statements] == [1, 2]


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab ;'\"$-/*\nE\\()tag_1")), max_size=80))
def test_splitter_never_raises_and_keeps_statement_text(sql: str) -> None:
    for statement in split_sql(sql).statements:
        assert statement.text
        assert sql[statement.start.offset :].startswith(statement.text)


@settings(max_examples=1500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab ;'\"$-/*\nE\\()tag_1e\r")), max_size=120))
def test_fast_splitter_agrees_with_the_reference_splitter(sql: str) -> None:
    from tests.sql import reference_splitter

    fast, slow = split_sql(sql), reference_splitter.split_sql(sql)
    assert [(s.text, s.start.offset, s.end.offset, s.unterminated) for s in fast.statements] == [
        (s.text, s.start.offset, s.end.offset, s.unterminated) for s in slow.statements
    ]
    assert [(c.text, c.start.offset) for c in fast.all_comments] == [
        (c.text, c.start.offset) for c in slow.all_comments
    ]
    assert [len(s.leading_comments) for s in fast.statements] == [len(s.leading_comments) for s in slow.statements]


def test_an_escape_string_ending_in_an_escaped_quote_is_unterminated() -> None:
    # E'''\' is a doubled quote then a backslash-escaped one: the string never ends (PostgreSQL agrees).
    from tests.sql.reference_splitter import split_sql as reference_split

    text = "SELECT E'''\\';\nSELECT 1;\n"
    (statement,) = split_sql(text).statements
    assert statement.unterminated == "string constant"
    assert [s.unterminated for s in reference_split(text).statements] == ["string constant"]
