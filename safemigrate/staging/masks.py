"""Masking rules for ``clone --mask``: deterministic fakes computed by the target server.

Every rule is a pure SQL expression of the column's value and a salt: the same input always gives the
same output (in any table, in any clone made with the same salt), so joins on masked values still
match; NULL stays NULL. The fake is derived from ``sha256(salt || value)``: without a secret salt
(``SAFEMIGRATE_MASK_SALT``) anyone could recompute it, and for small domains (phone numbers, common
names) brute-force the original, so a clone whose masks derive fakes refuses to run without one
(``check_salt``). The salt never travels as statement text or as a bind parameter, which the target
may log (``log_statement``, ``log_min_duration_statement``): the clone's session copies it with
``COPY FROM STDIN`` (whose data is not logged) into a temporary table, ``SALT_TABLE``, and the
masking SQL reads it from there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from safemigrate.errors import EXIT_USAGE, ConfigError, InputError, SafemigrateError

if TYPE_CHECKING:
    from psycopg import sql

SALT_ENV = "SAFEMIGRATE_MASK_SALT"
# In the session's temporary schema, one row, one column "salt"; dropped at the end of the transaction.
SALT_TABLE = "safemigrate_mask_salt"

_FIRST_NAMES = (
    "Alex", "Blake", "Casey", "Dana", "Eden", "Flynn", "Gray", "Harper",
    "Indy", "Jordan", "Kai", "Logan", "Morgan", "Noel", "Oakley", "Parker",
    "Quinn", "Riley", "Sage", "Taylor", "Uma", "Val", "Wren", "Yael",
)  # fmt: skip
_LAST_NAMES = (
    "Abbott", "Barker", "Carver", "Dalton", "Ellison", "Fletcher", "Garner", "Hollis",
    "Ingram", "Jarvis", "Keller", "Lowell", "Mercer", "Norris", "Osborne", "Prescott",
    "Quincy", "Radley", "Sawyer", "Thorne", "Upton", "Vance", "Whitley", "Yates",
)  # fmt: skip
# Distinct inputs give distinct fakes unless two hashes collide; the odds, for n distinct values
# (birthday bound, n^2 / 2N), are in docs/clone.md. A collision on a unique column is refused by its
# index and rolls the clone back: another salt then gives other fakes.
EMAIL_HASH_CHARS = 20  # 80 bits: among a million addresses, about 1 in 2.4 trillion
HASH_CHARS = 24  # 96 bits: among ten million values, about 1 in 1.6 quadrillion
# After +999, a country code the ITU has reserved and not assigned: no real number. 18 digits (more
# than E.164's 15 in all: at 12 digits a million numbers collide with odds of 2 in 5), from 60 bits:
# among a million numbers, about 1 in 1.8 million; among ten million, 1 in 18,000.
PHONE_DIGITS = 18
PHONE_HASH_BITS = 60  # 15 hex digits: more values than 10^PHONE_DIGITS, and within a bigint


class MaskSaltError(SafemigrateError):
    """Masks that derive fakes from the values, and no secret salt to derive them with."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class MaskRule:
    name: str
    summary: str
    text_only: bool  # needs a text-like column (text, varchar, char, citext, domains over them)
    length: int  # the longest value it writes (0 for null)


RULES: dict[str, MaskRule] = {
    rule.name: rule
    for rule in (
        MaskRule(
            "email",
            f"user_<{EMAIL_HASH_CHARS} hex>@example.invalid, practically unique per address (80-bit hash)",
            True,
            len("user_@example.invalid") + EMAIL_HASH_CHARS,
        ),
        MaskRule(
            "name",
            "a fake 'First Last' from two lists of 24 (not unique)",
            True,
            max(map(len, _FIRST_NAMES)) + 1 + max(map(len, _LAST_NAMES)),
        ),
        MaskRule(
            "phone",
            f"+999 and {PHONE_DIGITS} digits, practically unique per number (10^18 values)",
            True,
            4 + PHONE_DIGITS,
        ),
        MaskRule(
            "hash",
            f"h_<{HASH_CHARS} hex>, practically unique per value (96-bit hash; any text: usernames, addresses...)",
            True,
            2 + HASH_CHARS,
        ),
        MaskRule("null", "NULL (the column must allow it)", False, 0),
    )
}


@dataclass(frozen=True)
class ColumnMask:
    table: str
    column: str
    rule: str
    # "Table.column" of the mask this one comes from when ``table`` inherits the column from that
    # table (its rows are that table's rows too); None for a mask the user named
    inherited_from: str | None = None

    @property
    def label(self) -> str:
        return f"{self.table}.{self.column}"


@dataclass(frozen=True)
class CloneConfig:
    """``[clone]`` of safemigrate.toml."""

    masks: Mapping[str, str] = field(default_factory=dict)  # "Table.column" -> rule
    salt_env: str = SALT_ENV  # the environment variable holding the masking salt


def split_column(text: str, where: str) -> tuple[str, str]:
    """``Table.column`` -> (table, column); names exactly as in the database (the last dot splits)."""
    table, dot, column = text.strip().rpartition(".")
    if not dot or not table or not column:
        raise InputError(
            f"{where}: {text!r} does not name a column as Table.column.",
            'Write the table and column exactly as in the database, for example User.email (quote it: "User.email").',
        )
    return table, column


def check_rule(rule: str, where: str) -> str:
    if rule not in RULES:
        raise InputError(f"{where}: unknown mask rule {rule!r}.", f"Rules: {', '.join(RULES)}.")
    return rule


def parse_mask_option(text: str) -> tuple[str, str]:
    """``--mask Table.column=rule`` -> ("Table.column", rule)."""
    column, equals, rule = text.partition("=")
    if not equals:
        raise InputError(
            f"--mask {text!r} names no rule.", f"Write --mask Table.column=RULE, with RULE one of {', '.join(RULES)}."
        )
    split_column(column, "--mask")
    return column.strip(), check_rule(rule.strip(), f"--mask {text!r}")


def parse_clone_config(data: Mapping[str, Any], where: str) -> CloneConfig:
    """``[clone]``: ``masks = {"User.email" = "email", ...}`` and ``salt_env``; unknown keys refused."""
    clone = data.get("clone", {})
    if not isinstance(clone, dict):
        raise ConfigError(f"{where}: [clone] must be a table.", "See docs/clone.md.")
    unknown = sorted(set(clone) - {"masks", "salt_env"})
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(unknown)} in [clone].", "Allowed: masks, salt_env.")
    masks = clone.get("masks", {})
    if not isinstance(masks, dict):
        raise ConfigError(
            f'{where}: [clone] masks must be a table such as {{"User.email" = "email"}}.', "See docs/clone.md."
        )
    parsed: dict[str, str] = {}
    for column, rule in masks.items():
        try:
            split_column(column, f"{where} [clone] masks")
            if not isinstance(rule, str):
                raise InputError(f"{where} [clone] masks: the rule of {column!r} must be a string.")
            parsed[column] = check_rule(rule, f"{where} [clone] masks")
        except InputError as err:
            raise ConfigError(err.message, err.hint) from err
    salt_env = clone.get("salt_env", SALT_ENV)
    if not isinstance(salt_env, str) or not salt_env:
        raise ConfigError(f"{where}: [clone] salt_env must name an environment variable.")
    return CloneConfig(parsed, salt_env)


def check_salt(masks: Sequence[ColumnMask], salt: str, salt_env: str) -> None:
    """Refuse masks that derive fakes from the values (every rule but ``null``) without a salt: with
    none, anyone could recompute the fakes and brute-force the originals (module docstring)."""
    salted = sorted({f"{m.inherited_from or m.label}={m.rule}" for m in masks if m.rule != "null"})  # as written
    if salted and not salt:
        raise MaskSaltError(
            f"The mask {salted[0]} needs a secret salt to derive its fakes, and there is no {salt_env} in the "
            "environment (or it is empty); nothing was cloned.",
            f"Set {salt_env} to a secret kept out of the repository, for example: "
            f"export {salt_env}=$(openssl rand -hex 32).",
        )


def salt_value() -> sql.Composed:
    """The salt, as the masking SQL reads it: from ``SALT_TABLE`` (module docstring)."""
    from psycopg import sql  # here: the config reader imports this module, lint must not load psycopg

    return sql.SQL("(SELECT salt FROM {})").format(sql.Identifier("pg_temp", SALT_TABLE))


def _digest(column: sql.Composable, salt: sql.Composable) -> sql.Composed:
    """Hex SHA-256 of salt || value; NULL for NULL (``salt``: an SQL expression, ``salt_value()``)."""
    from psycopg import sql  # here: the config reader imports this module, lint must not load psycopg

    return sql.SQL("encode(sha256(convert_to({}::text || {}::text, 'UTF8')), 'hex')").format(salt, column)


def _pick(names: tuple[str, ...], digest: sql.Composable, start: int) -> sql.Composed:
    """One of ``names``, chosen by 7 hex digits (28 bits) of the digest from ``start`` (1-based)."""
    from psycopg import sql  # here: the config reader imports this module, lint must not load psycopg

    return sql.SQL("(ARRAY[{}]::text[])[1 + mod(('x' || substr({}, {}, 7))::bit(28)::int, {})]").format(
        sql.SQL(", ").join(map(sql.Literal, names)), digest, sql.Literal(start), sql.Literal(len(names))
    )


def mask_expression(rule: str, column: str, salt: sql.Composable) -> sql.Composable:
    """The SQL expression that replaces ``column``'s value under ``rule`` (NULL in, NULL out), the
    fake derived with ``salt`` (an SQL expression: ``salt_value()`` in a clone)."""
    from psycopg import sql  # here: the config reader imports this module, lint must not load psycopg

    value = sql.Identifier(column)
    digest = _digest(value, salt)
    if rule == "email":
        return sql.SQL("'user_' || left({}, {}) || '@example.invalid'").format(digest, sql.Literal(EMAIL_HASH_CHARS))
    if rule == "name":
        return sql.SQL("{} || ' ' || {}").format(_pick(_FIRST_NAMES, digest, 1), _pick(_LAST_NAMES, digest, 8))
    if rule == "phone":
        # PHONE_HASH_BITS of the digest, folded to PHONE_DIGITS decimal digits
        return sql.SQL("'+999' || lpad(mod(('x' || left({}, {}))::bit({})::bigint, {})::text, {}, '0')").format(
            digest,
            sql.Literal(PHONE_HASH_BITS // 4),
            sql.Literal(PHONE_HASH_BITS),
            sql.Literal(10**PHONE_DIGITS),
            sql.Literal(PHONE_DIGITS),
        )
    if rule == "hash":
        return sql.SQL("'h_' || left({}, {})").format(digest, sql.Literal(HASH_CHARS))
    if rule == "null":
        return sql.SQL("NULL")
    raise AssertionError(rule)


def insert_statement(
    schema: str, table: str, columns: Sequence[str], masks: Sequence[ColumnMask], source: sql.Composable
) -> sql.Composed:
    """``INSERT INTO schema.table (columns) SELECT ... FROM ONLY source``: the fakes of the masked
    columns (their salt read from ``SALT_TABLE``), the other columns as they are (identity columns
    keep the copied values)."""
    from psycopg import sql

    rules = {m.column: m.rule for m in masks}
    salt = salt_value()
    return sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM ONLY {}").format(
        sql.Identifier(schema, table),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(mask_expression(rules[c], c, salt) if c in rules else sql.Identifier(c) for c in columns),
        source,
    )
