"""Reading migration files into statements: decode, split, summarize. Pure, so it can be cached
and run in parallel; the linter proper only folds what this returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from safemigrate.lint.suppress import FileDirectives, directives_of
from safemigrate.sql import model as m
from safemigrate.sql.grammar import rejections
from safemigrate.sql.prisma_warnings import PrismaWarning, parse_prisma_warnings
from safemigrate.sql.splitter import RawStatement, split_sql


@dataclass(frozen=True)
class ParsedFile:
    statements: tuple[m.Statement, ...]
    directives: FileDirectives = field(default_factory=FileDirectives)  # `-- safemigrate: ignore` comments
    prisma_warnings: tuple[PrismaWarning, ...] = ()  # the `/* Warnings: */` header Prisma wrote
    undecodable_at: int | None = None  # byte offset of the first invalid UTF-8 sequence


def parse_source(data: bytes, *, syntax: bool = True) -> ParsedFile:
    """Decode and read one file. Never raises on content. ``syntax=False`` leaves out PostgreSQL's
    parser (:func:`judge_syntax` adds its verdict later, in another process)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        return ParsedFile((), undecodable_at=err.start)
    text = text.removeprefix("\ufeff")
    split = split_sql(text)
    # Prisma writes its warnings as the file's first comment.
    warnings = parse_prisma_warnings(text) if text.lstrip().startswith("/*") else ()
    refused = rejections(text, split.statements) if syntax else {}
    statements = tuple(_statement(raw, refused.get(raw.index)) for raw in split.statements)
    return ParsedFile(statements, directives_of(split.statements, split.trailing_comments), warnings)


def judge_syntax(parsed: ParsedFile, data: bytes) -> ParsedFile:
    """``parsed`` (read with ``syntax=False`` from ``data``) with the statements PostgreSQL's parser refuses."""
    if parsed.undecodable_at is not None:
        return parsed
    text = data.decode("utf-8").removeprefix("\ufeff")
    refused = rejections(text, split_sql(text).statements)
    if not refused:
        return parsed
    statements = tuple(replace(s, rejected=refused.get(s.index)) for s in parsed.statements)
    return replace(parsed, statements=statements)


def _statement(raw: RawStatement, rejected: m.Rejection | None) -> m.Statement:
    # sqlglot is imported on first use: a run served from the cache never loads it.
    from safemigrate.sql.parse import read_statement

    if raw.unterminated:
        summary: m.Summary = m.Unparsed(f"the file ends inside a {raw.unterminated}")
        literals: tuple[str, ...] = ()
    else:
        summary, literals = read_statement(raw.text)
    return m.Statement(
        raw.index, raw.text, raw.start.line, raw.start.column, raw.end.line, raw.end.column, summary, literals, rejected
    )
