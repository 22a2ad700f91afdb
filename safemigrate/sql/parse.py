"""Turn one SQL statement into a normalized summary. The only module that imports sqlglot.

The statement's first keywords decide what it is (so a misread by the parser cannot turn a DROP
into something harmless); sqlglot's postgres dialect supplies the structure where it understands
the statement, and sqlglot's tokenizer is matched word by word for the forms it falls back on
(``ALTER TYPE ... ADD VALUE``, ``RENAME CONSTRAINT``, ``DROP INDEX CONCURRENTLY``, ...). Whatever
is left is ``Unparsed``: reported by the linter, never passed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.tokens import Token, TokenType  # type: ignore[attr-defined]

from safemigrate.sql import model as m

logging.getLogger("sqlglot").setLevel(logging.CRITICAL)

_DIALECT = Postgres()
_PARSER = _DIALECT.parser()  # reusable: parse() resets its state
_TOKENIZER = _DIALECT.tokenizer()  # reusable: tokenize() resets its state

# Functions whose value differs per row: a column default using one forces a table rewrite.
VOLATILE_FUNCTIONS = frozenset(
    {
        "random",
        "rand",
        "gen_random_uuid",
        "gen_random_bytes",
        "uuid",
        "uuid_generate_v1",
        "uuid_generate_v1mc",
        "uuid_generate_v4",
        "uuidv4",
        "uuidv7",
        "clock_timestamp",
        "timeofday",
        "statement_timestamp",
        "nextval",
        "txid_current",
        "setseed",
    }
)

# Functions a data statement may call without being reported: PostgreSQL built-ins (and the usual
# uuid/pgcrypto extensions) that change no stored data and no setting. Names as written in SQL, plus
# sqlglot's names for the keyword forms it reads without a written name (x::text, CASE, EXTRACT...).
# Any other function (a user function, setval, set_config, dblink_exec, lo_unlink,
# pg_terminate_backend...) runs code the linter cannot see and is reported.
_SIDE_EFFECT_FREE_GROUPS = (
    # conditional, keyword forms
    "all any some case cast try_cast if exists array collate coalesce nullif greatest least num_nonnulls "
    "num_nulls extract overlay position str_position group_concat json_extract json_extract_scalar jsonb_extract "
    "jsonb_extract_scalar array_contains_all array_contained_by array_overlaps j_s_o_n_array_agg "
    "j_s_o_n_object_agg jsonb_contains",
    # math
    "abs cbrt ceil ceiling degrees div exp factorial floor gcd lcm ln log log10 mod pi power pow radians "
    "round scale sign sqrt trunc width_bucket random rand random_normal acos asin atan atan2 cos sin tan",
    # text
    "ascii bit_length btrim char_length character_length chr concat concat_ws format initcap left length "
    "lower lpad ltrim md5 normalize octet_length quote_ident quote_literal quote_nullable regexp_count "
    "regexp_instr regexp_like regexp_match regexp_matches regexp_replace regexp_split_to_array "
    "regexp_split_to_table regexp_substr repeat replace reverse right rpad rtrim split_part starts_with "
    "string_to_array string_to_table strpos substr substring to_hex translate trim upper encode decode sha224 "
    "sha256 sha384 sha512 convert_from convert_to to_char to_number to_date to_timestamp unistr pad",
    # date and time
    "age clock_timestamp current_date current_time current_timestamp date_bin date_part date_trunc isfinite "
    "justify_days justify_hours justify_interval localtime localtimestamp make_date make_interval make_time "
    "make_timestamp make_timestamptz now statement_timestamp timeofday transaction_timestamp timezone date",
    # aggregates and window functions
    "array_agg avg bit_and bit_or bool_and bool_or count every json_agg jsonb_agg json_object_agg "
    "jsonb_object_agg max min string_agg sum stddev stddev_pop stddev_samp variance var_pop var_samp "
    "percentile_cont percentile_disc mode row_number rank dense_rank percent_rank cume_dist ntile lag lead "
    "first_value last_value nth_value",
    # json
    "to_json to_jsonb array_to_json row_to_json json_build_array jsonb_build_array json_build_object "
    "jsonb_build_object json_object jsonb_object json_array_elements jsonb_array_elements "
    "json_array_elements_text jsonb_array_elements_text json_array_length jsonb_array_length json_each "
    "jsonb_each json_each_text jsonb_each_text json_extract_path jsonb_extract_path json_extract_path_text "
    "jsonb_extract_path_text json_object_keys jsonb_object_keys json_populate_record jsonb_populate_record "
    "json_to_record jsonb_to_record json_to_recordset jsonb_to_recordset json_strip_nulls jsonb_strip_nulls "
    "jsonb_set jsonb_set_lax jsonb_insert jsonb_pretty json_typeof jsonb_typeof jsonb_path_exists "
    "jsonb_path_match jsonb_path_query jsonb_path_query_array jsonb_path_query_first",
    # arrays and set-returning
    "array_append array_cat array_dims array_fill array_length array_lower array_ndims array_position "
    "array_positions array_prepend array_remove array_replace array_to_string array_upper cardinality "
    "trim_array unnest generate_series generate_subscripts row",  # ROW(...) is a constructor, not a call
    # identifiers and sequences (nextval only advances a sequence, as a serial default does)
    "gen_random_uuid uuid_generate_v1 uuid_generate_v1mc uuid_generate_v3 uuid_generate_v4 uuid_generate_v5 "
    "uuidv4 uuidv7 nextval currval lastval",
    # session information
    "current_user session_user user current_role current_schema current_schemas current_database "
    "current_catalog current_setting version pg_typeof txid_current",
    # catalog lookups
    "to_regclass to_regtype to_regnamespace to_regproc pg_get_serial_sequence format_type obj_description "
    "col_description pg_relation_size pg_total_relation_size pg_table_size pg_size_pretty pg_column_size "
    "has_table_privilege has_schema_privilege",
    # text search, pgcrypto
    "to_tsvector to_tsquery plainto_tsquery phraseto_tsquery websearch_to_tsquery setweight ts_rank "
    "ts_headline crypt gen_salt digest hmac gen_random_bytes",
)
# Where those are found spelled with a schema: the built-ins' own, and the schemas extensions
# (pgcrypto, uuid-ossp) are usually installed in (Supabase puts them in "extensions").
_BUILT_IN_QUALIFIERS = frozenset({"", "pg_catalog", "public", "extensions"})
SIDE_EFFECT_FREE_FUNCTIONS = frozenset(name for group in _SIDE_EFFECT_FREE_GROUPS for name in group.split())

# sqlglot DataType names -> PostgreSQL's canonical type names.
_TYPE_NAMES = {
    "INT": "integer",
    "BIGINT": "bigint",
    "SMALLINT": "smallint",
    "TINYINT": "smallint",
    "SERIAL": "integer",
    "BIGSERIAL": "bigint",
    "SMALLSERIAL": "smallint",
    "TEXT": "text",
    "VARCHAR": "varchar",
    "NVARCHAR": "varchar",
    "CHAR": "char",
    "NCHAR": "char",
    "DECIMAL": "numeric",
    "BIGDECIMAL": "numeric",
    "DOUBLE": "double precision",
    "FLOAT": "real",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "timestamp",
    "TIMESTAMPTZ": "timestamptz",
    "TIMESTAMPLTZ": "timestamptz",
    "DATE": "date",
    "TIME": "time",
    "TIMETZ": "timetz",
    "INTERVAL": "interval",
    "UUID": "uuid",
    "JSON": "json",
    "JSONB": "jsonb",
    "VARBINARY": "bytea",
    "BINARY": "bytea",
    "BLOB": "bytea",
    "INET": "inet",
    "CIDR": "cidr",
    "MONEY": "money",
    "XML": "xml",
    "BIT": "bit",
    "VARBIT": "varbit",
    "OID": "oid",
    "TSVECTOR": "tsvector",
    "CITEXT": "citext",
}
# PostgreSQL's own types that sqlglot reads as user-defined ones (VARBIT(8) as a type named VARBIT with
# its length dropped): unquoted (or quoted in lower case) and unqualified or in pg_catalog, they are these.
_BUILT_INS_READ_AS_USER_TYPES = frozenset(
    {"varbit", "cidr", "macaddr", "macaddr8", "tsvector", "tsquery", "jsonpath"}
    | {"point", "lseg", "path", "box", "polygon", "line", "circle"}
)
_SERIAL_TYPES = frozenset({"SERIAL", "BIGSERIAL", "SMALLSERIAL"})
_SERIAL_ALIASES = {"serial2": "smallint", "serial4": "integer", "serial8": "bigint"}


class _NotUnderstood(Exception):
    """Raised inside this module when a form is not recognised; becomes ``Unparsed``."""


# ---- tokens ------------------------------------------------------------------------------------


class _Words:
    """A cursor over sqlglot tokens, matched by upper-case word."""

    def __init__(self, tokens: Sequence[Token]) -> None:
        self.tokens = [t for t in tokens if t.token_type != TokenType.SEMICOLON]
        # Quoted text is never a keyword: its word is "".
        self.words = [
            "" if t.token_type in (TokenType.IDENTIFIER, TokenType.STRING) else t.text.upper() for t in self.tokens
        ]
        self.i = 0

    def fresh_cursor(self) -> _Words:
        """Another cursor over the same words, from the start (the words are not computed again)."""
        cursor = _Words.__new__(_Words)
        cursor.tokens, cursor.words, cursor.i = self.tokens, self.words, 0
        return cursor

    def word(self, k: int = 0) -> str:
        j = self.i + k
        return self.words[j] if j < len(self.words) else ""

    def at_end(self) -> bool:
        return self.i >= len(self.tokens)

    def peek(self, *words: str) -> bool:
        i = self.i
        return self.words[i : i + len(words)] == list(words)

    def accept(self, *words: str) -> bool:
        if self.peek(*words):
            self.i += len(words)
            return True
        return False

    def expect(self, *words: str) -> None:
        if not self.accept(*words):
            raise _NotUnderstood(" ".join(words))

    def identifier(self) -> str:
        if self.at_end():
            raise _NotUnderstood("name expected")
        tok = self.tokens[self.i]
        if tok.token_type == TokenType.IDENTIFIER:
            self.i += 1
            return tok.text
        if tok.token_type == TokenType.STRING or not tok.text or not (tok.text[0].isalpha() or tok.text[0] == "_"):
            raise _NotUnderstood("name expected")
        self.i += 1
        return tok.text.lower()

    def name(self) -> m.Name:
        """``name``, ``schema.name`` or ``database.schema.name`` (PostgreSQL only accepts the current
        database there, so the database part says nothing about which object is meant)."""
        parts = [self.identifier()]
        while len(parts) < 3 and not self.at_end() and self.tokens[self.i].token_type == TokenType.DOT:
            self.i += 1
            parts.append(self.identifier())
        if len(parts) == 1:
            return m.Name(parts[0])
        return m.Name(parts[-1], parts[-2])

    def string(self) -> str:
        if self.at_end() or self.tokens[self.i].token_type != TokenType.STRING:
            raise _NotUnderstood("string expected")
        text = self.tokens[self.i].text
        self.i += 1
        return text

    def skip_parens(self) -> None:
        """Skip a balanced parenthesised group when one starts here."""
        if self.at_end() or self.tokens[self.i].token_type != TokenType.L_PAREN:
            return
        depth = 0
        while not self.at_end():
            kind = self.tokens[self.i].token_type
            self.i += 1
            if kind == TokenType.L_PAREN:
                depth += 1
            elif kind == TokenType.R_PAREN:
                depth -= 1
                if depth == 0:
                    return
        raise _NotUnderstood("unbalanced parentheses")

    def is_comma(self) -> bool:
        return not self.at_end() and self.tokens[self.i].token_type == TokenType.COMMA

    def top_level_groups(self) -> list[list[Token]]:
        """The remaining tokens split at commas outside parentheses."""
        groups: list[list[Token]] = [[]]
        depth = 0
        for tok in self.tokens[self.i :]:
            if tok.token_type == TokenType.L_PAREN:
                depth += 1
            elif tok.token_type == TokenType.R_PAREN:
                depth -= 1
            if tok.token_type == TokenType.COMMA and depth == 0:
                groups.append([])
            else:
                groups[-1].append(tok)
        self.i = len(self.tokens)
        return groups

    def done(self) -> None:
        if not self.at_end():
            raise _NotUnderstood(f"unexpected {self.tokens[self.i].text!r}")


# ---- sqlglot helpers -----------------------------------------------------------------------------


def _ident(node: exp.Expression | None) -> str:
    if node is None:
        raise _NotUnderstood("missing name")
    if isinstance(node, exp.Identifier):
        return str(node.this) if node.quoted else str(node.this).lower()
    if isinstance(node, (exp.Column, exp.Table)):
        return _ident(node.this)
    raise _NotUnderstood(f"unexpected name node {type(node).__name__}")


def _table_name(node: exp.Expression | None) -> m.Name:
    if isinstance(node, exp.Schema):
        node = node.this
    if not isinstance(node, exp.Table):
        raise _NotUnderstood("table name expected")
    # database.schema.table: PostgreSQL only accepts the current database, so the schema and table decide.
    schema = node.args.get("db")
    if node.args.get("catalog") is not None and schema is None:
        raise _NotUnderstood("name with a database but no schema")
    return m.Name(_ident(node.this), _ident(schema) if schema is not None else None)


_SQL_SPELLING = {"DOUBLE": "DOUBLE PRECISION", "FLOAT": "REAL", "VARBINARY": "BYTEA", "TINYINT": "SMALLINT"}


def _written_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Identifier):
        return m.quote_ident(str(node.this)) if node.quoted else str(node.this)
    if isinstance(node, exp.Dot):
        return _written_name(node.this) + "." + _written_name(node.expression)
    raise _NotUnderstood("user-defined type name")


def _type_spec(dtype: exp.Expression | None) -> m.TypeSpec:
    if not isinstance(dtype, exp.DataType):
        raise _NotUnderstood("type expected")
    dims = 0
    while dtype.this == exp.DataType.Type.ARRAY and dtype.expressions:
        dims += 1
        inner = dtype.expressions[0]
        if not isinstance(inner, exp.DataType):
            raise _NotUnderstood("array element type")
        dtype = inner
    kind_name = dtype.this.name if isinstance(dtype.this, exp.DataType.Type) else str(dtype.this)
    brackets = "[]" * dims
    if kind_name == "USERDEFINED":
        user = dtype.args.get("kind")
        built_in = _built_in_read_as_user_type(user)
        if built_in is not None:
            return _built_in_type_spec(built_in, dtype, dims)
        if isinstance(user, exp.Dot) and isinstance(user.expression, exp.Identifier):
            base = _ident(user.expression)  # schema-qualified type: the model keys types by name
        elif isinstance(user, exp.Identifier):
            base = _ident(user)
        elif isinstance(user, str):
            return m.TypeSpec(user.lower(), (), dims, user_defined=True, written=user + brackets)
        else:
            raise _NotUnderstood("user-defined type name")
        return m.TypeSpec(base, (), dims, user_defined=True, written=_written_name(user) + brackets)
    base = _TYPE_NAMES.get(kind_name) or kind_name.lower()
    params: list[int] = []
    for param in dtype.expressions:
        value = param.this if isinstance(param, exp.DataTypeParam) else param
        if isinstance(value, exp.Literal) and not value.is_string and value.this.lstrip("-").isdigit():
            params.append(int(value.this))
        else:
            # An extension's type modifiers (PostGIS geometry(Point, 4326)): the whole spelling is the
            # type, so two spellings compare as two types the linter does not know.
            spelled = f"{kind_name.lower()}({', '.join(p.sql(dialect='postgres') for p in dtype.expressions)})"
            return m.TypeSpec(spelled, (), dims, user_defined=True, written=spelled + brackets)
    written = _SQL_SPELLING.get(kind_name, kind_name)
    if params:
        written += "(" + ", ".join(str(p) for p in params) + ")"
    return m.TypeSpec(base, tuple(params), dims, written=written + brackets)


def _built_in_read_as_user_type(user: object) -> str | None:
    """The name of a PostgreSQL type sqlglot read as a user-defined one (``VARBIT``, ``pg_catalog.cidr``)."""
    schema: exp.Expression | None = None
    if isinstance(user, exp.Dot) and isinstance(user.expression, exp.Identifier):
        schema, user = user.this, user.expression
    if isinstance(user, str):
        name = user.lower()
    elif isinstance(user, exp.Identifier):
        spelled = str(user.this)
        name = spelled if user.quoted else spelled.lower()
    else:
        return None
    if schema is not None and not (isinstance(schema, exp.Identifier) and _ident(schema) == "pg_catalog"):
        return None
    return name if name in _BUILT_INS_READ_AS_USER_TYPES else None


def _built_in_type_spec(name: str, dtype: exp.DataType, dims: int) -> m.TypeSpec:
    """A built-in type sqlglot read as a user type, with its length (``VARBIT(8)``)."""
    params: list[int] = []
    for param in dtype.expressions:
        value = param.this if isinstance(param, exp.DataTypeParam) else param
        if not (isinstance(value, exp.Literal) and not value.is_string and value.this.isdigit()):
            raise _NotUnderstood("type modifier")
        params.append(int(value.this))
    written = name.upper() + ("(" + ", ".join(str(p) for p in params) + ")" if params else "")
    return m.TypeSpec(name, tuple(params), dims, written=written + "[]" * dims)


def _altered_type_spec(dtype: exp.Expression | None) -> m.TypeSpec:
    """The type of ``ALTER COLUMN ... TYPE``, where a serial type stays as written.

    Only CREATE TABLE and ADD COLUMN expand ``bigserial`` into a bigint with a sequence; here PostgreSQL
    looks up a type of that name, finds none and fails (Prisma writes it: serial-type-change).
    """
    spec = _type_spec(dtype)
    element = dtype
    while isinstance(element, exp.DataType) and element.this == exp.DataType.Type.ARRAY and element.expressions:
        element = element.expressions[0]
    kind = element.this if isinstance(element, exp.DataType) else None
    if isinstance(kind, exp.DataType.Type) and kind.name in _SERIAL_TYPES:
        name = kind.name.lower()
    elif spec.user_defined and spec.base in _SERIAL_ALIASES:  # serial2/4/8 read as user types
        name = spec.base
    else:
        return spec
    return m.TypeSpec(name, (), spec.array_dims, written=name.upper() + "[]" * spec.array_dims)


def _function_names(node: exp.Expression) -> set[str]:
    names: set[str] = set()
    for func in node.find_all(exp.Func):
        if isinstance(func, exp.Anonymous):
            names.add(str(func.this).lower())
        else:
            names.add(func.sql_name().lower())
    return names


def _default_spec(node: exp.Expression, text: str) -> m.DefaultSpec:
    """``text`` is the statement ``node`` was parsed from (to read the names calls were written with)."""
    # Prisma's defaults are mostly literals and CURRENT_TIMESTAMP: spell those without the generator.
    if isinstance(node, exp.Literal):
        return m.DefaultSpec(m.quote_literal(str(node.this)) if node.is_string else str(node.this), volatile=False)
    if isinstance(node, exp.Null):
        return m.DefaultSpec("NULL", volatile=False)
    if isinstance(node, exp.Boolean):
        return m.DefaultSpec("true" if node.this else "false", volatile=False)
    if isinstance(node, exp.CurrentTimestamp):
        return m.DefaultSpec("CURRENT_TIMESTAMP", volatile=False)
    # A function that is not a known built-in may be volatile (PostgreSQL then rewrites the table): count it so.
    unknown = _unknown_calls(node, text)
    nextvals = (f for f in node.find_all(exp.Anonymous) if str(f.this).lower() == "nextval" and len(f.expressions) == 1)
    return m.DefaultSpec(
        sql=node.sql(dialect="postgres"),
        volatile=bool(unknown) or bool(_function_names(node) & VOLATILE_FUNCTIONS),
        unknown_calls=unknown,
        sequences=tuple(name for f in nextvals if (name := _regclass_name(f.expressions[0])) is not None),
    )


def _reference(ref: exp.Expression) -> tuple[m.Name, tuple[str, ...], str | None]:
    target = ref.this
    table = _table_name(target)
    ref_columns = tuple(_ident(c) for c in target.expressions) if isinstance(target, exp.Schema) else ()
    on_delete = None
    for option in ref.args.get("options") or []:
        text = str(option).upper()
        if text.startswith("ON DELETE "):
            on_delete = text.removeprefix("ON DELETE ").strip()
    return table, ref_columns, on_delete


def _constraint_specs(node: exp.Expression, not_valid: bool, text: str) -> list[m.ConstraintSpec]:
    """Table-level constraints: ``Constraint(name, [kind])`` or a bare ``PrimaryKey``/``ForeignKey``.
    ``text`` is the statement ``node`` was parsed from (to read the names calls were written with)."""
    name: str | None = None
    kinds: list[exp.Expression]
    if isinstance(node, exp.Constraint):
        name = _ident(node.this)
        kinds = list(node.expressions)
    else:
        kinds = [node]
    specs = []
    for kind in kinds:
        if isinstance(kind, (exp.PrimaryKey, exp.PrimaryKeyColumnConstraint)):
            cols = tuple(_ident(c) for c in kind.expressions)
            specs.append(m.ConstraintSpec("primary key", name, cols))
        elif isinstance(kind, exp.UniqueColumnConstraint):
            schema = kind.this
            cols = tuple(_ident(c) for c in schema.expressions) if isinstance(schema, exp.Schema) else ()
            specs.append(m.ConstraintSpec("unique", name, cols, nulls_not_distinct=bool(kind.args.get("nulls"))))
        elif isinstance(kind, exp.ForeignKey):
            reference = kind.args.get("reference")
            if reference is None:
                raise _NotUnderstood("foreign key without REFERENCES")
            table, ref_columns, on_delete = _reference(reference)
            cols = tuple(_ident(c) for c in kind.expressions)
            specs.append(
                m.ConstraintSpec("foreign key", name, cols, table, ref_columns, on_delete, not_valid=not_valid)
            )
        elif isinstance(kind, exp.CheckColumnConstraint):
            cols = tuple(sorted({_ident(c) for c in kind.find_all(exp.Column)}))
            condition = kind.this
            while isinstance(condition, exp.Paren):
                condition = condition.this
            not_null_column = None
            negated = isinstance(condition, exp.Not)
            test = condition.this if negated else condition
            if (
                isinstance(test, exp.Is)
                and (negated or bool(test.args.get("negate")))
                and isinstance(test.this, exp.Column)
                and isinstance(test.expression, exp.Null)
            ):
                not_null_column = _ident(test.this)
            specs.append(
                m.ConstraintSpec(
                    "check",
                    name,
                    cols,
                    not_valid=not_valid,
                    not_null_column=not_null_column,
                    calls=_unknown_calls(kind, text),
                )
            )
        elif isinstance(kind, exp.ExcludeColumnConstraint):
            specs.append(m.ConstraintSpec("exclude", name))
        else:
            raise _NotUnderstood(f"constraint {type(kind).__name__}")
    return specs


def _column_spec(node: exp.ColumnDef, text: str) -> m.ColumnSpec:
    dtype = node.args.get("kind")
    # sqlglot gives some types (OID, REGCLASS) as a plain string instead of a DataType.Type
    kind = dtype.this if isinstance(dtype, exp.DataType) else None
    serial = isinstance(kind, exp.DataType.Type) and kind.name in _SERIAL_TYPES
    type_spec = _type_spec(dtype)
    alias = _SERIAL_ALIASES.get(type_spec.base) if type_spec.user_defined and not type_spec.array_dims else None
    if alias is not None:  # serial2/4/8 are spelled-out serial types, not user types
        serial = True
        type_spec = m.TypeSpec(alias, written=type_spec.base.upper())
    not_null = False
    default: m.DefaultSpec | None = None
    identity = serial
    generated = virtual = False
    reads: tuple[str, ...] = ()
    constraints: list[m.ConstraintSpec] = []
    for constraint in node.args.get("constraints") or []:
        kind = constraint.args.get("kind") if isinstance(constraint, exp.ColumnConstraint) else constraint
        if isinstance(kind, exp.NotNullColumnConstraint):
            not_null = not kind.args.get("allow_null")
        elif isinstance(kind, exp.DefaultColumnConstraint):
            default = _default_spec(kind.this, text)
        elif isinstance(kind, exp.GeneratedAsIdentityColumnConstraint) and kind.expression is not None:
            # GENERATED ALWAYS AS (expr) without STORED: PostgreSQL 18's virtual generated column
            generated = virtual = True
            reads = _columns_named(kind.expression)
        elif isinstance(kind, exp.GeneratedAsIdentityColumnConstraint):
            identity = True
        elif isinstance(kind, exp.ComputedColumnConstraint):
            generated = True
            reads = _columns_named(kind)
        elif isinstance(kind, exp.PrimaryKeyColumnConstraint):
            not_null = True
            constraints.append(m.ConstraintSpec("primary key", None, (_ident(node.this),)))
        elif isinstance(kind, exp.UniqueColumnConstraint):
            unique = m.ConstraintSpec(
                "unique", None, (_ident(node.this),), nulls_not_distinct=bool(kind.args.get("nulls"))
            )
            constraints.append(unique)
        elif isinstance(kind, exp.Reference):
            table, ref_columns, on_delete = _reference(kind)
            constraints.append(
                m.ConstraintSpec("foreign key", None, (_ident(node.this),), table, ref_columns, on_delete)
            )
        elif isinstance(kind, exp.CheckColumnConstraint):
            constraints.append(m.ConstraintSpec("check", None, (_ident(node.this),), calls=_unknown_calls(kind, text)))
        elif isinstance(kind, (exp.CollateColumnConstraint, exp.CommentColumnConstraint)):
            pass
        else:
            raise _NotUnderstood(f"column constraint {type(kind).__name__}")
    if serial:
        default = m.DefaultSpec("nextval(...)", volatile=True)
        not_null = True
    return m.ColumnSpec(
        name=_ident(node.this),
        type=type_spec,
        not_null=not_null,
        default=default,
        identity=identity,
        generated=generated,
        virtual=virtual,
        constraints=tuple(constraints),
        reads=reads,
        definition=_column_definition(node, text) if generated else "",
    )


def _columns_named(node: exp.Expression) -> tuple[str, ...]:
    """The names of the columns an expression reads (a generated column's: its own table's), in order."""
    names = (_ident(column.this) for column in node.find_all(exp.Column) if isinstance(column.this, exp.Identifier))
    return tuple(dict.fromkeys(names))


def _column_definition(node: exp.ColumnDef, text: str) -> str:
    """The column definition as written in ``text``: from its name to the comma or parenthesis that ends
    it; sqlglot's spelling of it when its place in the text is not known."""
    start = node.this.meta.get("start") if isinstance(node.this, exp.Identifier) else None
    if not isinstance(start, int) or not 0 <= start < len(text):
        return node.sql(dialect="postgres")
    try:
        tokens = _TOKENIZER.tokenize(text[start:])
    except Exception:  # sqlglot's tokenizer raises several types on garbage
        return node.sql(dialect="postgres")
    depth, end = 0, len(text) - start - 1
    for token in tokens:
        depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(token.token_type, 0)
        if depth < 0 or (depth == 0 and token.token_type in (TokenType.COMMA, TokenType.SEMICOLON)):
            end = token.start - 1
            break
    return text[start : start + end + 1].strip()


# ---- statements parsed by sqlglot ----------------------------------------------------------------


def _without_virtual_keyword(tokens: Sequence[Token]) -> list[Token]:
    """The tokens without the VIRTUAL that may follow ``GENERATED ALWAYS AS (expr)``.

    PostgreSQL 18 reads the form without STORED as virtual, the same column; sqlglot knows only that form.
    """
    kept = list(tokens)
    words = [t.text.upper() if t.token_type not in (TokenType.IDENTIFIER, TokenType.STRING) else "" for t in kept]
    at = len(kept) - 1
    while at > 0:
        if words[at] == "VIRTUAL" and kept[at - 1].token_type == TokenType.R_PAREN:
            depth, opening = 0, at - 1
            while opening >= 0:
                depth += {TokenType.R_PAREN: 1, TokenType.L_PAREN: -1}.get(kept[opening].token_type, 0)
                if depth == 0:
                    break
                opening -= 1
            if opening >= 3 and words[opening - 3 : opening] == ["GENERATED", "ALWAYS", "AS"]:
                del kept[at]
        at -= 1
    return kept


def without_index_nulls_clause(tokens: Sequence[Token]) -> tuple[list[Token], bool]:
    """The tokens of a ``CREATE INDEX`` without its ``NULLS [NOT] DISTINCT`` (PostgreSQL 15), which sqlglot
    does not read, and whether it said NOT DISTINCT. The clause follows the key list, outside any
    parentheses (``NULLS FIRST`` of a key is inside them)."""
    kept = list(tokens)
    depth = 0
    for at, token in enumerate(kept):
        depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(token.token_type, 0)
        if depth or token.token_type in (TokenType.IDENTIFIER, TokenType.STRING) or token.text.upper() != "NULLS":
            continue
        words = [t.text.upper() for t in kept[at + 1 : at + 3]]
        if words[:1] == ["DISTINCT"]:
            return kept[:at] + kept[at + 2 :], False
        if words == ["NOT", "DISTINCT"]:
            return kept[:at] + kept[at + 3 :], True
    return kept, False


def _parse_one(text: str, tokens: Sequence[Token] | None = None) -> exp.Expression:
    """Parse one statement; ``tokens`` (of exactly ``text``) saves tokenizing it again."""
    try:
        if tokens is None:
            tokens = _TOKENIZER.tokenize(text)
        if "VIRTUAL" in text.upper():  # rare: skip the token walk for every other statement
            tokens = _without_virtual_keyword(tokens)
        parsed = _PARSER.parse(list(tokens), text)
    except SqlglotError as err:
        raise _NotUnderstood("the SQL parser could not read it") from err
    found = [p for p in parsed if isinstance(p, exp.Expression)]
    if len(found) != 1:
        raise _NotUnderstood("expected exactly one statement")
    return found[0]


def _create_table(node: exp.Create, text: str, temporary: bool = False) -> m.Summary:
    target = node.this
    name = _table_name(target)
    if temporary:  # PostgreSQL puts it in the session's pg_temp schema, whatever the name says
        name = m.Name(name.name, "pg_temp")
    if node.expression is not None:  # CREATE TABLE ... AS SELECT: filled by the query, which runs its calls
        properties = node.args.get("properties")
        no_data = isinstance(properties, exp.Properties) and any(
            isinstance(p, exp.WithDataProperty) and p.args.get("no") for p in properties.expressions
        )
        calls = () if no_data else _unknown_calls(node.expression, text)
        return m.CreateTable(
            name,
            (),
            (),
            bool(node.args.get("exists")),
            as_query=True,
            temporary=temporary,
            no_data=no_data,
            calls=calls,
        )
    if not isinstance(target, exp.Schema):
        raise _NotUnderstood("table definition")
    columns: list[m.ColumnSpec] = []
    constraints: list[m.ConstraintSpec] = []
    for item in target.expressions:
        if isinstance(item, exp.ColumnDef):
            columns.append(_column_spec(item, text))
        elif isinstance(item, (exp.Constraint, exp.PrimaryKey, exp.ForeignKey, exp.ExcludeColumnConstraint)):
            constraints.extend(_constraint_specs(item, not_valid=False, text=text))
        else:
            raise _NotUnderstood(f"table element {type(item).__name__}")
    return m.CreateTable(name, tuple(columns), tuple(constraints), bool(node.args.get("exists")), temporary=temporary)


def _create_index(node: exp.Create, index_keyword_end: int = -1, nulls_not_distinct: bool = False) -> m.CreateIndex:
    index = node.this
    if not isinstance(index, exp.Index):
        raise _NotUnderstood("index definition")
    params = index.args.get("params")
    columns: list[str] = []
    partial = False
    if isinstance(params, exp.IndexParameters):
        for col in params.args.get("columns") or []:
            inner = col.this if isinstance(col, exp.Ordered) else col
            if isinstance(inner, exp.Opclass):
                inner = inner.this
            columns.append(_ident(inner) if isinstance(inner, exp.Column) else inner.sql(dialect="postgres"))
        partial = params.args.get("where") is not None
    name_node = index.this
    return m.CreateIndex(
        name=m.Name(_ident(name_node)) if name_node is not None else None,
        table=_table_name(index.args.get("table")),
        columns=tuple(columns),
        unique=bool(node.args.get("unique")),
        concurrently=bool(node.args.get("concurrently")),
        if_not_exists=bool(node.args.get("exists")),
        partial=partial,
        nulls_not_distinct=nulls_not_distinct,
        index_keyword_end=index_keyword_end,
    )


def _create_enum(node: exp.Create) -> m.Summary:
    dtype = node.expression
    if not isinstance(dtype, exp.DataType) or dtype.this != exp.DataType.Type.ENUM:
        return m.Harmless("create type")
    values = []
    for value in dtype.expressions:
        if not isinstance(value, exp.Literal) or not value.is_string:
            raise _NotUnderstood("enum value")
        values.append(str(value.this))
    return m.CreateEnum(_table_name(node.this), tuple(values))


def _alter_action(action: exp.Expression, alter: exp.Alter, text: str) -> m.AlterAction:
    if isinstance(action, exp.ColumnDef):
        return m.AddColumn(_column_spec(action, text), bool(action.args.get("exists")))
    if isinstance(action, exp.Drop):
        kind = str(action.args.get("kind") or "").upper()
        targets = action.args.get("tables") or []
        if len(targets) != 1:
            raise _NotUnderstood("drop of several objects in one action")
        if kind == "COLUMN":
            return m.DropColumn(_ident(targets[0]), bool(action.args.get("cascade")), bool(action.args.get("exists")))
        if kind == "CONSTRAINT":
            return m.DropConstraint(
                _ident(targets[0]), bool(action.args.get("cascade")), bool(action.args.get("exists"))
            )
        raise _NotUnderstood(f"DROP {kind} in ALTER TABLE")
    if isinstance(action, exp.AlterColumn):
        column = _ident(action.this)
        handled = {"this", "collate"}
        present = {k for k, v in action.args.items() if v not in (None, False)}
        if action.args.get("dtype") is not None:
            using = action.args.get("using")
            return m.AlterColumnType(
                column,
                _altered_type_spec(action.args["dtype"]),
                using.sql(dialect="postgres") if using else None,
                isinstance(using, exp.Expression) and _casts_column(using, column),
                _unknown_calls(using, text) if isinstance(using, exp.Expression) else (),
            )
        allow_null = action.args.get("allow_null")
        others = present - handled - {"allow_null", "drop", "default"}
        if others:
            raise _NotUnderstood("ALTER COLUMN form")
        if allow_null is False and "drop" not in present and "default" not in present:
            return m.SetNotNull(column)
        if allow_null is True and "drop" in present and "default" not in present:
            return m.DropNotNull(column)
        if allow_null is None and present - handled == {"drop"}:
            return m.DropDefault(column)
        if allow_null is None and present - handled == {"default"}:
            return m.SetDefault(column, _default_spec(action.args["default"], text))
        raise _NotUnderstood("ALTER COLUMN form")
    if isinstance(action, exp.AddConstraint):
        specs: list[m.ConstraintSpec] = []
        for item in action.expressions:
            specs.extend(_constraint_specs(item, not_valid=bool(alter.args.get("not_valid")), text=text))
        if len(specs) != 1:
            raise _NotUnderstood("ADD CONSTRAINT form")
        return m.AddConstraint(specs[0])
    if isinstance(action, exp.AlterSet):
        option = action.args.get("option")
        text = option.sql(dialect="postgres").upper() if option is not None else ""
        if text in ("LOGGED", "UNLOGGED"):
            return m.SetLogged(text == "LOGGED")
        raise _NotUnderstood("ALTER TABLE SET form")
    raise _NotUnderstood(f"ALTER TABLE action {type(action).__name__}")


def _casts_column(using: exp.Expression, column: str) -> bool:
    """True when an explicit cast in ``using`` converts a value read from ``column`` (it can fail on one)."""
    return any(
        any(_ident(read) == column for read in cast.this.find_all(exp.Column)) for cast in using.find_all(exp.Cast)
    )


def _alter_table_sqlglot(text: str, tokens: Sequence[Token] | None = None) -> m.AlterTable:
    node = _parse_one(text, tokens)
    if not isinstance(node, exp.Alter) or str(node.args.get("kind") or "").upper() != "TABLE":
        raise _NotUnderstood("ALTER TABLE form")
    actions = tuple(_alter_action(a, node, text) for a in node.args.get("actions") or [])
    if not actions:
        raise _NotUnderstood("ALTER TABLE without actions")
    if node.args.get("not_valid") and len(actions) > 1:
        # sqlglot keeps one NOT VALID for the statement; PostgreSQL applies it to its own ADD CONSTRAINT only.
        raise _NotUnderstood("NOT VALID in an ALTER TABLE of several actions")
    return m.AlterTable(_table_name(node.this), actions, bool(node.args.get("exists")))


# ---- statements matched on tokens ---------------------------------------------------------------


def _alter_table_tokens(w: _Words, text: str) -> m.Summary:
    """ALTER TABLE: rename forms and the actions sqlglot falls back on, else sqlglot per action."""
    w.expect("ALTER", "TABLE")
    if_exists = w.accept("IF", "EXISTS")
    w.accept("ONLY")
    table = w.name()
    w.accept("*")
    if w.accept("RENAME"):
        if w.accept("TO"):
            new = w.identifier()
            w.done()
            return m.AlterTable(table, (m.RenameTable(new),), if_exists)
        if w.accept("CONSTRAINT"):
            old = w.identifier()
            w.expect("TO")
            new = w.identifier()
            w.done()
            return m.AlterTable(table, (m.RenameConstraint(old, new),), if_exists)
        w.accept("COLUMN")
        old = w.identifier()
        w.expect("TO")
        new = w.identifier()
        w.done()
        return m.AlterTable(table, (m.RenameColumn(old, new),), if_exists)
    actions: list[m.AlterAction] = []
    for group in w.top_level_groups():
        action = _Words(group)
        if action.at_end():
            raise _NotUnderstood("empty ALTER TABLE action")
        actions.append(_alter_table_action_tokens(action, group, text))
    return m.AlterTable(table, tuple(actions), if_exists)


def _alter_table_action_tokens(w: _Words, group: list[Token], text: str) -> m.AlterAction:
    if w.accept("VALIDATE", "CONSTRAINT"):
        name = w.identifier()
        w.done()
        return m.ValidateConstraint(name)
    if w.peek("ALTER"):
        w.accept("ALTER")
        w.accept("COLUMN")
        column = w.identifier()
        if w.accept("ADD", "GENERATED"):
            return m.AddIdentity(column, start=any(t.text.upper() in ("START", "RESTART") for t in group))
        if w.peek("SET", "STATISTICS") or w.peek("SET", "STORAGE") or w.peek("SET", "COMPRESSION"):
            return m.OtherTableAction("column storage setting")
        if w.accept("DROP", "IDENTITY"):
            return m.OtherTableAction("drop identity")
    if w.peek("ADD", "CONSTRAINT"):
        w.accept("ADD", "CONSTRAINT")
        name = w.identifier()
        # sqlglot's tokenizer reads "PRIMARY KEY" as one word.
        for kind in (("UNIQUE",), ("PRIMARY", "KEY"), ("PRIMARY KEY",)):
            if w.accept(*kind, "USING", "INDEX"):
                index = w.identifier()
                w.done()
                label = "unique" if kind == ("UNIQUE",) else "primary key"
                return m.AddConstraint(m.ConstraintSpec(label, name, using_index=index))
    if w.accept("OWNER", "TO") or w.accept("REPLICA", "IDENTITY"):
        return m.OtherTableAction("owner or replica identity")
    for words in (("ENABLE",), ("ENABLE", "ALWAYS"), ("ENABLE", "REPLICA"), ("DISABLE",)):
        if w.peek(*words, "TRIGGER"):
            w.accept(*words, "TRIGGER")
            system = w.accept("ALL")
            trigger = None if system or w.accept("USER") else w.identifier()
            w.done()
            return m.TriggerState(
                trigger,
                enabled=words[0] == "ENABLE" and words[-1] != "REPLICA",
                system=system,
                replica=words[-1] == "REPLICA",
            )
    for words in (("ENABLE",), ("DISABLE",), ("FORCE",), ("NO", "FORCE")):
        if w.accept(*words):
            if w.accept("ROW", "LEVEL", "SECURITY"):
                w.done()
                return m.OtherTableAction(f"{' '.join(words).lower()} {m.ROW_SECURITY}")
            return m.OtherTableAction("enable/disable rules")
    # Everything else: ask sqlglot about this one action on its own.
    action_text = text[group[0].start : group[-1].end + 1]
    unnamed_check = w.peek("ADD", "CHECK")
    if unnamed_check:  # sqlglot reads only named ones: name it for the parser, then forget the name
        action_text = "ADD CONSTRAINT _safemigrate_unnamed " + text[group[1].start : group[-1].end + 1]
    alter = _alter_table_sqlglot("ALTER TABLE _safemigrate_placeholder " + action_text)
    if len(alter.actions) != 1:
        raise _NotUnderstood("ALTER TABLE action")
    action = alter.actions[0]
    if unnamed_check and isinstance(action, m.AddConstraint):  # PostgreSQL names it <table>_<column>_check
        return m.AddConstraint(replace(action.constraint, name=None))
    return action


def _alter_type(w: _Words) -> m.Summary:
    w.expect("ALTER", "TYPE")
    name = w.name()
    if w.accept("ADD", "VALUE"):
        if_not_exists = w.accept("IF", "NOT", "EXISTS")
        value = w.string()
        if w.accept("BEFORE") or w.accept("AFTER"):
            w.string()
        w.done()
        return m.AlterEnumAddValue(name, value, if_not_exists)
    if w.accept("RENAME", "VALUE"):
        old = w.string()
        w.expect("TO")
        new = w.string()
        w.done()
        return m.AlterEnumRenameValue(name, old, new)
    if w.accept("RENAME", "TO"):
        new = w.identifier()
        w.done()
        return m.RenameType(name, new)
    if w.accept("OWNER", "TO") or w.accept("SET", "SCHEMA"):
        return m.Harmless("alter type owner or schema")
    raise _NotUnderstood("ALTER TYPE form")


def _alter_sequence(w: _Words) -> m.Summary:
    """RESTART moves the sequence (back to its start, or WITH a value). A negative INCREMENT, a MINVALUE,
    MAXVALUE or type (AS) of its own, or CYCLE can make it hand out ids that rows hold (or stop handing out
    any); the other options (a positive step, START, CACHE, OWNED BY, NO ...) do not."""
    w.expect("ALTER", "SEQUENCE")
    w.accept("IF", "EXISTS")
    name = w.name()
    restart: m.ResetSequence | None = None
    risky: list[str] = []
    depth = 0
    while not w.at_end():
        kind = w.tokens[w.i].token_type
        depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(kind, 0)
        if depth != 0:
            w.i += 1
        elif w.accept("RESTART"):
            w.accept("WITH")
            sign = "-" if w.accept("-") else ""
            value = None
            if not w.at_end() and w.tokens[w.i].token_type == TokenType.NUMBER:
                value = sign + w.tokens[w.i].text
                w.i += 1
            restart = m.ResetSequence("restart", name, value)
        elif w.accept("NO"):
            w.i += 1  # NO MINVALUE / NO MAXVALUE / NO CYCLE: the defaults, which never wrap
        elif w.accept("INCREMENT"):
            w.accept("BY")
            if w.accept("-"):
                risky.append("INCREMENT BY -" + (w.tokens[w.i].text if not w.at_end() else ""))
        elif w.word() in ("MINVALUE", "MAXVALUE", "AS"):
            option = w.word()
            w.i += 1
            sign = "-" if w.accept("-") else ""
            risky.append(f"{option} {sign}{w.tokens[w.i].text if not w.at_end() else ''}".strip())
        elif w.accept("CYCLE"):
            risky.append("CYCLE")
        else:
            w.i += 1
    if restart is not None:
        return replace(restart, options=tuple(risky))
    if risky:
        return m.ResetSequence("options", name, None, options=tuple(risky))
    return m.Harmless("alter sequence")


def _alter_index(w: _Words) -> m.Summary:
    w.expect("ALTER", "INDEX")
    w.accept("IF", "EXISTS")
    name = w.name()
    if w.accept("RENAME", "TO"):
        new = w.identifier()
        w.done()
        return m.RenameIndex(name, new)
    raise _NotUnderstood("ALTER INDEX form")


def _alter_attached(w: _Words) -> m.Summary:
    """``ALTER {TRIGGER | POLICY} name ON table RENAME TO new`` (the schema model follows the name),
    or another change of the trigger (extension dependency) or policy (roles, USING, WITH CHECK)."""
    w.expect("ALTER")
    kind = w.word().lower()
    w.i += 1
    name = w.identifier()
    w.expect("ON")
    table = w.name()
    if w.accept("RENAME", "TO"):
        new = w.identifier()
        w.done()
        return m.Harmless(f"rename {kind}", table, name, new_name=new)
    if w.at_end():
        raise _NotUnderstood(f"ALTER {kind.upper()} form")
    return m.Harmless(f"alter {kind}", table, name)


_DROP_KINDS: tuple[tuple[str, ...], ...] = (
    ("MATERIALIZED", "VIEW"),
    ("FOREIGN", "TABLE"),
    ("TABLE",),
    ("VIEW",),
    ("INDEX",),
    ("SEQUENCE",),
    ("SCHEMA",),
    ("TYPE",),
    ("DOMAIN",),
    ("FUNCTION",),
    ("PROCEDURE",),
    ("EXTENSION",),
    ("TRIGGER",),
    ("POLICY",),
    ("RULE",),
)


def _drop(w: _Words) -> m.Summary:
    w.expect("DROP")
    if w.accept("OWNED", "BY"):  # every object the roles own: the roles are the names
        roles = _roles(w)
        cascade = w.accept("CASCADE")
        w.accept("RESTRICT")
        w.done()
        return m.DropObjects("owned by", tuple(m.Name(role) for role in roles), cascade)
    for kind in _DROP_KINDS:
        if w.accept(*kind):
            break
    else:
        raise _NotUnderstood("DROP of this kind of object")
    concurrently = w.accept("CONCURRENTLY")
    if_exists = w.accept("IF", "EXISTS")
    names = [w.name()]
    w.skip_parens()  # function argument types
    on_table: m.Name | None = None
    while w.is_comma():
        w.i += 1
        names.append(w.name())
        w.skip_parens()
    if w.accept("ON"):
        on_table = w.name()
    cascade = w.accept("CASCADE")
    w.accept("RESTRICT")
    w.done()
    kind_name = " ".join(kind).lower()
    if kind_name == "index":
        return m.DropIndex(tuple(names), concurrently, cascade, if_exists)
    if kind_name in ("trigger", "policy", "rule"):
        return m.Harmless(f"drop {kind_name}", on_table, names[0].name)
    return m.DropObjects(kind_name, tuple(names), cascade, if_exists)


def _reindex(w: _Words) -> m.Summary:
    w.expect("REINDEX")
    w.skip_parens()  # (VERBOSE, CONCURRENTLY...) options
    for target in ("TABLE", "INDEX", "SCHEMA", "DATABASE", "SYSTEM"):
        if w.accept(target):
            concurrently = w.accept("CONCURRENTLY")
            name = w.name()
            w.done()
            return m.Reindex(target.lower(), name, concurrently)
    raise _NotUnderstood("REINDEX form")


def _vacuum(w: _Words) -> m.Summary:
    w.expect("VACUUM")
    full = False
    if not w.at_end() and w.tokens[w.i].token_type == TokenType.L_PAREN:
        start = w.i
        w.skip_parens()
        full = any(t.text.upper() == "FULL" for t in w.tokens[start : w.i])
    while w.word() in ("FULL", "FREEZE", "VERBOSE", "ANALYZE"):
        full = full or w.word() == "FULL"
        w.i += 1
    tables: list[m.Name] = []
    while not w.at_end():
        tables.append(w.name())
        w.skip_parens()
        if w.is_comma():
            w.i += 1
    return m.Vacuum(full, tuple(tables))


def _cluster(w: _Words) -> m.Summary:
    w.expect("CLUSTER")
    w.accept("VERBOSE")
    if w.at_end():
        return m.Cluster(None)
    table = w.name()
    if w.accept("USING"):
        w.identifier()
    w.done()
    return m.Cluster(table)


def _set(w: _Words) -> m.Summary:
    w.expect("SET")
    local = w.accept("LOCAL")
    w.accept("SESSION")
    if w.peek("CONSTRAINTS") or w.peek("ROLE") or w.peek("TRANSACTION") or w.peek("SESSION"):
        return m.Harmless("set")
    setting = w.identifier()
    while not w.at_end() and w.tokens[w.i].token_type == TokenType.DOT:
        w.i += 1
        setting += "." + w.identifier()
    if not (w.accept("TO") or (not w.at_end() and w.tokens[w.i].token_type == TokenType.EQ and w.accept("="))):
        raise _NotUnderstood("SET form")
    if setting.lower() == "search_path":
        # Keep the quotes of quoted names: PostgreSQL folds the others to lower case.
        value = " ".join(
            m.quote_ident(t.text) if t.token_type == TokenType.IDENTIFIER else t.text for t in w.tokens[w.i :]
        )
    else:
        value = " ".join(t.text for t in w.tokens[w.i :])
    return m.SetSetting(setting.lower(), value, local)


def _transaction(w: _Words) -> m.Summary:
    head = w.word()
    if head in ("BEGIN", "START"):
        return m.TransactionControl("begin")
    if head in ("COMMIT", "END"):
        return m.TransactionControl("commit")
    if head in ("ROLLBACK", "ABORT"):
        if w.peek(head, "TO") or w.peek(head, "PREPARED"):
            return m.TransactionControl("rollback to savepoint")
        return m.TransactionControl("rollback")
    return m.TransactionControl(head.lower())  # SAVEPOINT / RELEASE


def _create(w: _Words, text: str) -> m.Summary:
    w.expect("CREATE")
    or_replace = w.accept("OR", "REPLACE")
    if w.peek("FUNCTION") or w.peek("PROCEDURE"):
        kind = w.word().lower()
        w.i += 1
        return m.Procedural(kind, w.name(), or_replace=or_replace)
    if w.peek("EXTENSION"):
        w.accept("EXTENSION")
        w.accept("IF", "NOT", "EXISTS")
        return m.CreateExtension(w.identifier())
    w.accept("GLOBAL") or w.accept("LOCAL")
    temporary = w.accept("TEMPORARY") or w.accept("TEMP")
    w.accept("UNLOGGED")
    if w.peek("TABLE"):
        node = _parse_one(text, w.tokens)
        if not isinstance(node, exp.Create):
            raise _NotUnderstood("CREATE TABLE form")
        return _create_table(node, text, temporary)
    if w.peek("UNIQUE", "INDEX") or w.peek("INDEX"):
        keyword = w.tokens[w.i + 1] if w.peek("UNIQUE") else w.tokens[w.i]
        tokens, nulls_not_distinct = without_index_nulls_clause(w.tokens)
        node = _parse_one(text, tokens)
        if not isinstance(node, exp.Create):
            raise _NotUnderstood("CREATE INDEX form")
        return _create_index(node, index_keyword_end=keyword.end + 1, nulls_not_distinct=nulls_not_distinct)
    if w.peek("TYPE"):
        try:
            node = _parse_one(text, w.tokens)
        except _NotUnderstood:
            return m.Harmless("create type")
        if isinstance(node, exp.Create):
            return _create_enum(node)
        return m.Harmless("create type")
    if w.peek("CONSTRAINT", "TRIGGER") or w.peek("TRIGGER"):
        return _create_trigger(w, text)
    if w.accept("RULE"):
        # A rule rewrites later statements on its table (DO INSTEAD NOTHING makes them do nothing).
        rule_name = w.identifier()
        w.expect("AS", "ON")
        w.i += 1  # the event: SELECT | INSERT | UPDATE | DELETE
        w.expect("TO")
        return m.Procedural("rule", m.Name(rule_name), w.name())
    if w.accept("SCHEMA"):
        if_not_exists = w.accept("IF", "NOT", "EXISTS")
        w.accept("AUTHORIZATION")
        return m.CreateObject("schema", m.Name(w.identifier()), if_not_exists)
    for words, kind in (
        (("SEQUENCE",), "sequence"),
        (("VIEW",), "view"),
        (("RECURSIVE", "VIEW"), "view"),
        (("MATERIALIZED", "VIEW"), "materialized view"),
    ):
        if w.accept(*words):
            if_not_exists = w.accept("IF", "NOT", "EXISTS")
            name = w.name()
            if temporary:
                name = m.Name(name.name, "pg_temp")
            calls: tuple[str, ...] = ()
            if kind == "materialized view":  # its query runs now (a plain view's runs when read)
                calls = _materialized_view_calls(text, w.tokens)
            if kind == "sequence":
                return m.CreateObject(kind, name, if_not_exists, calls, or_replace)
            reads, columns = _view_query(w, text)
            return m.CreateObject(kind, name, if_not_exists, calls, or_replace, reads, columns, text)
    if w.accept("POLICY"):
        # CREATE POLICY name ON table ...: the schema model keeps which tables have one
        policy = w.identifier()
        w.expect("ON")
        table_start = w.tokens[w.i] if not w.at_end() else None
        table = w.name()
        table_span = (table_start or w.tokens[w.i - 1], w.tokens[w.i - 1])
        permissive = not (w.accept("AS") and w.word() == "RESTRICTIVE")
        command = "ALL"
        expressions: list[tuple[Token, Token]] = []  # USING (...), WITH CHECK (...): first and last token
        while not w.at_end():
            if w.tokens[w.i].token_type == TokenType.L_PAREN:
                start = w.tokens[w.i]
                w.skip_parens()
                expressions.append((start, w.tokens[w.i - 1]))
                continue
            if w.accept("FOR"):
                command = w.word()
            w.i += 1
        reads = _policy_reads(text, table_span, expressions)
        return m.Harmless("create policy", table, policy, policy=m.Policy(permissive, command, reads, text))
    for harmless in (
        "DOMAIN",
        "COLLATION",
        "STATISTICS",
        "CAST",
        "AGGREGATE",
        "OPERATOR",
        "PUBLICATION",
        "TEXT",
        "ROLE",
        "USER",
    ):
        if w.peek(harmless):
            return m.Harmless("create " + harmless.lower())
    raise _NotUnderstood("CREATE of this kind of object")


def _create_trigger(w: _Words, text: str) -> m.Summary:
    """``CREATE [CONSTRAINT] TRIGGER name {BEFORE | AFTER | INSTEAD OF} event [OR event ...] ON table ...
    [FOR [EACH] {ROW | STATEMENT}] [WHEN (...)] EXECUTE {FUNCTION | PROCEDURE} function(args)``."""
    w.accept("CONSTRAINT")
    w.expect("TRIGGER")
    name = w.identifier()
    if not (w.accept("BEFORE") or w.accept("AFTER") or w.accept("INSTEAD", "OF")):
        raise _NotUnderstood("trigger timing")
    events: list[str] = []
    columns: list[str] = []
    while True:
        event = w.word()
        if event not in ("INSERT", "UPDATE", "DELETE", "TRUNCATE"):
            raise _NotUnderstood("trigger event")
        w.i += 1
        events.append(event.lower())
        if event == "UPDATE" and w.accept("OF"):
            columns.append(w.identifier())
            while w.is_comma():
                w.i += 1
                columns.append(w.identifier())
        if not w.accept("OR"):
            break
    w.expect("ON")
    table = w.name()
    for_each_row = False  # PostgreSQL's default: FOR EACH STATEMENT
    when_reads: tuple[str, ...] = ()
    while not w.at_end() and not w.peek("EXECUTE"):
        if w.accept("FOR"):
            w.accept("EACH")
            for_each_row = w.accept("ROW")
            if not for_each_row:
                w.expect("STATEMENT")
        elif w.accept("WHEN"):
            start = w.i
            w.skip_parens()
            if w.i > start:
                when_reads = _trigger_when_reads(text, w.tokens[start], w.tokens[w.i - 1])
        else:
            w.i += 1  # FROM, DEFERRABLE, INITIALLY, REFERENCING ... TABLE AS name
    w.expect("EXECUTE")
    if not (w.accept("FUNCTION") or w.accept("PROCEDURE")):
        raise _NotUnderstood("trigger function")
    function = w.name()
    w.skip_parens()
    w.done()
    update_of = tuple(columns) if "update" in events else ()
    trigger = m.Trigger(name, function, tuple(events), for_each_row, update_of, when_reads, text)
    return m.Harmless("create trigger", table, name, trigger)


def _materialized_view_calls(text: str, tokens: Sequence[Token]) -> tuple[str, ...]:
    """The functions a materialized view's query calls that are not side-effect-free built-ins."""
    words = [t.text.upper() for t in tokens if t.token_type != TokenType.SEMICOLON]
    if words[-3:] == ["WITH", "NO", "DATA"]:
        return ()  # the query does not run until REFRESH
    if words[-2:] == ["WITH", "DATA"]:  # sqlglot does not read this (default) ending
        tokens = [t for t in tokens if t.token_type != TokenType.SEMICOLON][:-2]
    node = _parse_one(text, tokens)
    if not isinstance(node, exp.Create) or node.expression is None:
        raise _NotUnderstood("CREATE MATERIALIZED VIEW form")
    return _unknown_calls(node.expression, text)


# ---- what views and policies read -------------------------------------------------------------------


def _source_table(source: object) -> m.Name | None:
    """The table (or view) a FROM item names; None for a subquery, a CTE, a function or VALUES."""
    if not isinstance(source, exp.Table) or not isinstance(source.this, exp.Identifier):
        return None
    try:
        return _table_name(source)
    except _NotUnderstood:
        return None


def _source_alias(key: str, source: object) -> str:
    """The name a FROM item is referred to by, as PostgreSQL folds it."""
    if isinstance(source, exp.Table):
        alias = source.args.get("alias")
        named = alias.this if isinstance(alias, exp.TableAlias) else source.this
        if isinstance(named, exp.Identifier):
            return _ident(named)
    return key


def _find_source(scope: Scope | None, qualifier: str) -> m.Name | None:
    """The table a qualified column reference names: the FROM item of that name in the innermost scope
    that has one. None when it is not a table, or when a FROM item's name matches only when case is
    ignored (sqlglot and PostgreSQL may fold it differently)."""
    while scope is not None:
        for key, source in scope.sources.items():
            if _source_alias(key, source) == qualifier:
                return _source_table(source)
            if key.lower() == qualifier.lower():
                return None
        scope = scope.parent
    return None


def _column_scopes(scope: Scope | None) -> tuple[tuple[m.Name, ...], ...]:
    """The tables an unqualified column may come from, scope by scope from the innermost outwards; the
    scope that has another kind of FROM item (a subquery, a function) is the last: that item could be
    the one that supplies the name."""
    levels: list[tuple[m.Name, ...]] = []
    while scope is not None:
        tables = [_source_table(source) for source in scope.sources.values()]
        levels.append(tuple(t for t in tables if t is not None))
        if None in tables:
            break
        scope = scope.parent
    return tuple(levels)


def _names_output_column(column: exp.Column, select: exp.Select) -> bool:
    """True when a bare name in ORDER BY, GROUP BY or DISTINCT ON may be the query's output column of
    that name (PostgreSQL looks there first), not a column of its tables."""
    aliases = (p.args.get("alias") for p in select.expressions if isinstance(p, exp.Alias))
    if _ident(column.this) not in {_ident(a) for a in aliases if isinstance(a, exp.Identifier)}:
        return False
    clauses = (select.args.get(clause) for clause in ("order", "group", "distinct"))
    return any(
        any(found is column for found in clause.find_all(exp.Column))
        for clause in clauses
        if isinstance(clause, exp.Expression)
    )


def _query_reads(query: exp.Expression) -> m.Reads | None:
    """The columns a query reads, the tables whose every column it reads (``*``), and the tables and
    views it reads from. None when sqlglot cannot tell its scopes apart."""
    try:
        scopes = traverse_scope(query)
    except SqlglotError:
        return None
    columns: dict[m.ColumnRead, None] = {}
    every: dict[m.Name, None] = {}
    relations: dict[m.Name, None] = {}
    for scope in scopes:
        relations.update(dict.fromkeys(t for t in map(_source_table, scope.sources.values()) if t is not None))
        select = scope.expression
        for projection in select.expressions if isinstance(select, exp.Select) else ():
            if isinstance(projection, exp.Star):
                every.update(dict.fromkeys(t for t in map(_source_table, scope.sources.values()) if t is not None))
            elif isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
                qualifier = projection.args.get("table")
                table = _find_source(scope, _ident(qualifier)) if isinstance(qualifier, exp.Identifier) else None
                if table is not None:
                    every[table] = None
        for column in scope.columns:
            if not isinstance(column.this, exp.Identifier) or column.args.get("db") is not None:
                continue
            if not isinstance(select, exp.Select) or column.find_ancestor(exp.Select) is not select:
                continue  # a column of a subquery: read in the subquery's own scope
            name = _ident(column.this)
            qualifier = column.args.get("table")
            if isinstance(qualifier, exp.Identifier):
                table = _find_source(scope, _ident(qualifier))
                if table is not None:
                    columns[m.ColumnRead(name, ((table,),))] = None
            elif qualifier is None and not _names_output_column(column, select):
                levels = _column_scopes(scope)
                if levels:
                    columns[m.ColumnRead(name, levels)] = None
    return m.Reads(tuple(columns), tuple(every), tuple(relations))


def _view_columns(query: exp.Expression, names: Sequence[str]) -> tuple[str | m.Name, ...] | None:
    """A view's column names, in order (see ``m.CreateObject.columns``): ``names`` (the view's own
    column list) first, then the query's. None when one of them is not known."""
    while isinstance(query, exp.SetOperation):  # UNION...: the first query names the columns
        query = query.this
    if not isinstance(query, exp.Select):
        return None
    from_ = query.args.get("from_")
    items = [from_.this] if isinstance(from_, exp.From) else []
    for join in query.args.get("joins") or []:
        if join.args.get("using") or join.args.get("method"):  # USING / NATURAL: merged columns come first
            return None
        items.append(join.this)
    sources = {_source_alias("", item): _source_table(item) for item in items}
    found: list[str | m.Name] = []
    for projection in query.expressions:
        if isinstance(projection, exp.Alias) and isinstance(projection.args.get("alias"), exp.Identifier):
            found.append(_ident(projection.args["alias"]))
            continue
        if isinstance(projection, exp.Cast):  # PostgreSQL names a cast column after the column
            projection = projection.this
        if isinstance(projection, exp.Column) and isinstance(projection.this, exp.Identifier):
            found.append(_ident(projection.this))
        elif isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
            qualifier = projection.args.get("table")
            table = sources.get(_ident(qualifier)) if isinstance(qualifier, exp.Identifier) else None
            if table is None:
                return None
            found.append(table)
        elif isinstance(projection, exp.Star) and items and None not in sources.values() and len(sources) == len(items):
            found.extend(t for t in sources.values() if t is not None)
        else:
            return None
    if not names:
        return tuple(found)
    if len(names) > len(found) or any(isinstance(name, m.Name) for name in found[: len(names)]):
        return None
    return (*names, *found[len(names) :])


def _view_query(w: _Words, text: str) -> tuple[m.Reads | None, tuple[str | m.Name, ...] | None]:
    """What a CREATE VIEW's query reads and the view's columns, from the words after its name. (None,
    None) when the query cannot be read: the view is then known without its dependencies."""
    try:
        names: list[str] = []
        if not w.at_end() and w.tokens[w.i].token_type == TokenType.L_PAREN:
            w.i += 1
            names.append(w.identifier())
            while w.is_comma():
                w.i += 1
                names.append(w.identifier())
            if w.at_end() or w.tokens[w.i].token_type != TokenType.R_PAREN:
                return None, None
            w.i += 1
        while not w.at_end() and not w.peek("AS"):  # WITH (options), USING method, TABLESPACE name
            if w.tokens[w.i].token_type == TokenType.L_PAREN:
                w.skip_parens()
            else:
                w.i += 1
        w.expect("AS")
        end = len(w.tokens)
        endings: tuple[list[str], ...] = (
            ["WITH", "NO", "DATA"],
            ["WITH", "DATA"],
            ["WITH", "CHECK", "OPTION"],
            ["WITH", "CASCADED", "CHECK", "OPTION"],
            ["WITH", "LOCAL", "CHECK", "OPTION"],
        )
        for ending in endings:
            if w.words[end - len(ending) : end] == ending:
                end -= len(ending)
                break
        if end <= w.i:
            return None, None
        query = _parse_one(text[w.tokens[w.i].start : w.tokens[end - 1].end + 1])
        return _query_reads(query), _view_columns(query, names)
    except Exception:  # what it reads is best effort: a query read wrong must not hide the statement
        return None, None


def _policy_reads(text: str, table: tuple[Token, Token], expressions: Sequence[tuple[Token, Token]]) -> m.Reads | None:
    """What a policy's USING and WITH CHECK read: asked of a query over its table filtered by them
    (the tokens are the first and last of the table's name and of each parenthesised expression)."""
    if not expressions:
        return m.Reads()

    def written(span: tuple[Token, Token]) -> str:
        return text[span[0].start : span[1].end + 1]

    condition = " AND ".join(written(span) for span in expressions)
    try:
        return _query_reads(_parse_one(f"SELECT 1 FROM {written(table)} WHERE {condition}"))
    except Exception:  # what it reads is best effort: a condition read wrong must not hide the statement
        return None


def _trigger_when_reads(text: str, start: Token, end: Token) -> tuple[str, ...]:
    """The columns of its table a trigger's WHEN (...) reads: OLD."c" and NEW."c" (the tokens are its
    parentheses)."""
    try:
        condition = _parse_one("SELECT " + text[start.start : end.end + 1])
    except _NotUnderstood:
        return ()
    names = (
        _ident(column.this)
        for column in condition.find_all(exp.Column)
        if isinstance(column.this, exp.Identifier)
        and isinstance(column.args.get("table"), exp.Identifier)
        and _ident(column.args["table"]) in ("old", "new")
    )
    return tuple(dict.fromkeys(names))  # _ident of an Identifier never raises


def _dml(text: str, tokens: Sequence[Token] | None = None) -> m.Summary:
    node = _parse_one(text, tokens)
    if not isinstance(node, (exp.Delete, exp.Update, exp.Insert, exp.Select, exp.SetOperation)):
        raise _NotUnderstood("data statement form")
    into = node.args.get("into") if isinstance(node, exp.Select) else None
    if isinstance(into, exp.Into):  # SELECT ... INTO t: CREATE TABLE t AS SELECT ...
        temporary = bool(into.args.get("temporary"))
        table = _table_name(into.this)
        if temporary:
            table = m.Name(table.name, "pg_temp")
        return m.CreateTable(table, (), (), as_query=True, temporary=temporary, calls=_unknown_calls(node, text))
    if into is not None:
        raise _NotUnderstood("SELECT INTO form")
    setting = _set_config(node)
    if setting is not None:
        return setting
    reset = _setval(node, text)
    if reset is not None:
        return reset
    # The statement's own change first, then those of its data-modifying WITH queries.
    changes = [change for inner in node.find_all(exp.Delete, exp.Update, exp.Insert) for change in _changes(inner)]
    calls = _unknown_calls(node, text)
    if not changes:
        if not calls:
            return m.Harmless("query")
        schema, _, name = calls[0].rpartition(".")
        return m.Procedural("function call", m.Name(name, schema or None))
    first, *others = changes
    return replace(first, also=tuple(others), calls=calls)


def _changes(node: exp.Expression) -> list[m.DataChange]:
    """The row changes one DELETE / UPDATE / INSERT node makes itself (not counting nested ones)."""
    if isinstance(node, exp.Delete):
        return [m.Delete(_table_name(node.this), node.args.get("where") is not None)]
    if isinstance(node, exp.Update):
        where = node.args.get("where")
        return [
            m.Update(
                _table_name(node.this),
                _set_columns(node.expressions),
                where is not None,
                fills=_filled_columns(node.expressions),
                fills_from=_filled_from_columns(node.expressions, _table_name(node.this)),
                where_null_of=_null_test_of(where.this) if isinstance(where, exp.Where) else None,
                to_default=_set_to_default(node.expressions),
            )
        ]
    target = node.this
    given: tuple[str, ...] | None = None
    if isinstance(target, exp.Schema):
        given = tuple(_ident(column) for column in target.expressions)
        target = target.this
    values = node.expression
    if node.args.get("default") or (isinstance(values, exp.Values) and _default_keyword_in(values)):
        given = None  # DEFAULT VALUES, or DEFAULT among the values: any column may take its default
    table = _table_name(target)
    changes: list[m.DataChange] = [m.Insert(table, given=given)]
    conflict = node.args.get("conflict")
    if isinstance(conflict, exp.OnConflict) and str(conflict.args.get("action") or "").upper() != "DO NOTHING":
        if str(conflict.args.get("action") or "").upper() != "DO UPDATE":
            raise _NotUnderstood("ON CONFLICT form")
        # DO UPDATE overwrites the rows the new ones conflict with, like an UPDATE of its SET columns.
        columns = _set_columns(conflict.expressions)
        has_where = conflict.args.get("where") is not None
        to_default = _set_to_default(conflict.expressions)
        changes.append(m.Update(table, columns, has_where, on_conflict=True, to_default=to_default))
    return changes


def _set_columns(assignments: Sequence[exp.Expression]) -> tuple[str, ...]:
    """The columns an UPDATE's SET list writes (``a = ...`` and ``(a, b) = (...)``).

    An element or field assignment (``"tags"[1] = ...``, ``"payload"['k'] = ...``, ``"addr".zip = ...``)
    overwrites part of its base column: the base column is the one written.
    """
    targets: list[exp.Expression] = []
    for assignment in assignments:
        if not isinstance(assignment, exp.EQ):
            raise _NotUnderstood("SET item")
        target = assignment.this
        if isinstance(target, exp.Tuple):
            targets.extend(target.expressions)
        elif isinstance(target, exp.Paren):
            targets.append(target.this)
        else:
            targets.append(target)
    columns: list[str] = []
    for target in targets:
        column = _set_target_column(target)
        if column not in columns:
            columns.append(column)
    return tuple(columns)


def _is_default_keyword(value: exp.Expression | None) -> bool:
    """The DEFAULT keyword as a value (sqlglot reads it as a variable or a column named DEFAULT)."""
    if isinstance(value, exp.Column) and not value.table:
        value = value.this
    if isinstance(value, (exp.Var, exp.Identifier)) and not value.args.get("quoted"):
        return str(value.this).upper() == "DEFAULT"
    return False


def _default_keyword_in(values: exp.Values) -> bool:
    return any(_is_default_keyword(value) for row in values.expressions for value in row.expressions)


def _set_to_default(assignments: Sequence[exp.Expression]) -> tuple[str, ...]:
    """The plain columns an UPDATE's SET list sets to DEFAULT (their default expression runs per row)."""
    return tuple(
        _ident(assignment.this)
        for assignment in assignments
        if isinstance(assignment, exp.EQ)
        and isinstance(assignment.this, exp.Column)
        and _is_default_keyword(assignment.expression)
    )


def _filled_columns(assignments: Sequence[exp.Expression]) -> tuple[str, ...]:
    """The plain columns an UPDATE's SET list gives a value that cannot be NULL: a constant other
    than NULL, or ``COALESCE(..., <such a constant>)``, cast or not (a backfill)."""
    filled: list[str] = []
    for assignment in assignments:
        target = assignment.this
        plain = isinstance(assignment, exp.EQ) and isinstance(target, exp.Column) and not target.table
        if plain and _never_null(assignment.expression):
            filled.append(_ident(target.this))
    return tuple(filled)


def _filled_from_columns(
    assignments: Sequence[exp.Expression], table: m.Name
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The plain columns an UPDATE's SET list gives a value that is not NULL as long as some columns of
    the row are not NULL, with those columns: ``"first" || ' ' || COALESCE("last", '')`` needs
    ``first``. (Values that cannot be NULL at all are ``_filled_columns``'.)"""
    filled: list[tuple[str, tuple[str, ...]]] = []
    for assignment in assignments:
        target = assignment.this
        plain = isinstance(assignment, exp.EQ) and isinstance(target, exp.Column) and not target.table
        if not plain or _never_null(assignment.expression):
            continue  # a constant: _filled_columns lists it
        needs = _not_null_when(assignment.expression, table)
        if needs is not None:
            filled.append((_ident(target.this), needs))
    return tuple(filled)


def _not_null_when(value: exp.Expression | None, table: m.Name) -> tuple[str, ...] | None:
    """The columns of the updated row that must be NOT NULL for ``value`` to be non-NULL: () when it never
    is NULL, None when that is not known. ``||`` is NULL when an operand is; concat() and concat_ws()
    skip NULL arguments (concat_ws is NULL only with a NULL separator); COALESCE is not NULL when one
    of its arguments is not."""
    while isinstance(value, (exp.Cast, exp.Paren, exp.Neg)):
        value = value.this
    if value is None:
        return None
    if _never_null(value):
        return ()
    if isinstance(value, exp.Column):
        qualifier = _ident(value.args["table"]) if value.args.get("table") is not None else None
        if value.args.get("db") is None and qualifier in (None, table.name):
            return (_ident(value.this),)
        return None
    if isinstance(value, exp.DPipe):
        left, right = _not_null_when(value.this, table), _not_null_when(value.expression, table)
        return None if left is None or right is None else tuple(dict.fromkeys(left + right))
    if isinstance(value, exp.Concat):
        return ()
    if isinstance(value, exp.ConcatWs):
        return _not_null_when(value.expressions[0], table) if value.expressions else None
    if isinstance(value, exp.Coalesce):
        options = [_not_null_when(a, table) for a in (value.this, *value.expressions)]
        known = [o for o in options if o is not None]
        return min(known, key=len) if known else None
    return None


def _never_null(value: exp.Expression | None) -> bool:
    while isinstance(value, (exp.Cast, exp.Paren, exp.Neg)):
        value = value.this
    if isinstance(value, exp.Coalesce):
        arguments = value.expressions
        return _never_null(arguments[-1] if arguments else value.this)
    # Constants: 'x', 1.5, true, $$x$$, E'x' (sqlglot's ByteString for PostgreSQL), X'1F', B'101'.
    return isinstance(value, (exp.Literal, exp.Boolean, exp.RawString, exp.ByteString, exp.HexString, exp.BitString))


def _null_test_of(condition: exp.Expression | None) -> str | None:
    """The column when a WHERE is exactly ``<column> IS NULL`` (the rows a backfill must reach)."""
    while isinstance(condition, exp.Paren):
        condition = condition.this
    if isinstance(condition, exp.Is) and isinstance(condition.expression, exp.Null):
        column = condition.this
        if isinstance(column, exp.Column) and not column.table:
            return _ident(column.this)
    return None


def _set_target_column(target: exp.Expression) -> str:
    """The column a SET target writes. PostgreSQL never qualifies it with the table: in ``a.b`` (sqlglot's
    table-qualified column) ``a`` is the column and ``b`` a field of its composite type."""
    while isinstance(target, exp.Bracket):
        target = target.this
    if isinstance(target, exp.Column):
        for part in ("catalog", "db", "table"):
            base = target.args.get(part)
            if base is not None:
                return _ident(base)
        return _ident(target.this)
    if isinstance(target, exp.Dot):
        return _set_target_column(target.this)
    raise _NotUnderstood("SET target")


def _set_config(node: exp.Expression) -> m.SetSetting | None:
    """``SELECT set_config('name', 'value', is_local)`` alone is a SET (of search_path, lock_timeout...)."""
    if not isinstance(node, exp.Select) or {k for k, v in node.args.items() if v} != {"expressions"}:
        return None
    if len(node.expressions) != 1:
        return None
    call = node.expressions[0]
    if isinstance(call, exp.Alias):
        call = call.this
    if isinstance(call, exp.Dot) and str(call.this.sql(dialect="postgres")).lower() == "pg_catalog":
        call = call.expression
    if not isinstance(call, exp.Anonymous) or str(call.this).lower() != "set_config" or len(call.expressions) != 3:
        return None
    name, value, local = call.expressions
    if not (isinstance(name, exp.Literal) and name.is_string and isinstance(value, exp.Literal) and value.is_string):
        return None
    if not isinstance(local, exp.Boolean):
        return None
    return m.SetSetting(str(name.this).lower(), str(value.this), bool(local.this))


def _setval(node: exp.Expression, text: str) -> m.ResetSequence | None:
    """``SELECT setval(sequence, value[, is_called]) [FROM ...]`` alone moves one sequence, nothing else."""
    if not isinstance(node, exp.Select) or not {k for k, v in node.args.items() if v} <= {"expressions", "from_"}:
        return None
    if len(node.expressions) != 1:
        return None
    call = node.expressions[0]
    if isinstance(call, exp.Alias):
        call = call.this
    if isinstance(call, exp.Dot) and str(call.this.sql(dialect="postgres")).lower() == "pg_catalog":
        call = call.expression
    if not isinstance(call, exp.Anonymous) or str(call.this).lower() != "setval" or len(call.expressions) not in (2, 3):
        return None
    if [c for c in _unknown_calls(node, text) if c.lower() not in ("setval", "pg_catalog.setval")]:
        return None  # it calls code of its own: procedural-code reports it
    target, value = call.expressions[0], call.expressions[1]
    owner: m.Name | None = None
    owner_column: str | None = None
    sequence = _regclass_name(target)
    if isinstance(target, exp.Anonymous) and str(target.this).lower() == "pg_get_serial_sequence":
        args = target.expressions
        if len(args) == 2 and all(isinstance(a, exp.Literal) and a.is_string for a in args):
            owner, owner_column = _regclass_name(args[0]), str(args[1].this)
    from_rows = any(True for _ in value.find_all(exp.Max))
    return m.ResetSequence("setval", sequence, value.sql(dialect="postgres"), from_rows, owner, owner_column)


def _regclass_name(node: exp.Expression) -> m.Name | None:
    """The object a regclass literal (``'"User_id_seq"'``, ``'public.s'::regclass``) names, read as PostgreSQL does."""
    while isinstance(node, exp.Cast):
        node = node.this
    if not isinstance(node, exp.Literal) or not node.is_string:
        return None
    try:
        words = _Words(_TOKENIZER.tokenize(str(node.this)))
        name = words.name()
        words.done()
    except (_NotUnderstood, SqlglotError):
        return None
    return name


def _unknown_calls(node: exp.Expression, text: str) -> tuple[str, ...]:
    """Functions the statement calls that are not known side-effect-free built-ins, as written."""
    unknown: list[str] = []
    for func in node.find_all(exp.Func):
        if isinstance(func, (exp.Binary, exp.Unary, exp.Connector)):
            continue  # an operator sqlglot models as a function (AND, OR, ~*, ?, @?): no call was written
        name = _called_name(func, text)
        qualifier = ""
        parent = func.parent
        if isinstance(parent, exp.Dot) and parent.expression is func:
            qualifier = parent.this.sql(dialect="postgres")
        known = name in SIDE_EFFECT_FREE_FUNCTIONS and qualifier.lower().strip('"') in _BUILT_IN_QUALIFIERS
        if not known:
            written = f"{qualifier}.{name}" if qualifier else name
            if written not in unknown:
                unknown.append(written)
    return tuple(unknown)


def _called_name(func: exp.Func, text: str) -> str:
    """The name a call was written with (sqlglot maps several names onto one class), else its class's."""
    start, end = func.meta.get("start"), func.meta.get("end")
    if isinstance(start, int) and isinstance(end, int) and 0 <= start <= end < len(text):
        spelled = text[start : end + 1]
        if len(spelled) > 1 and spelled[0] == spelled[-1] == '"':
            return spelled[1:-1]
        if spelled.replace("_", "a").replace("$", "a").isalnum():
            return spelled.lower()
    if isinstance(func, exp.Anonymous):
        return str(func.this).lower()
    return func.sql_name().lower()


def _head(w: _Words) -> Callable[[_Words, str], m.Summary] | None:
    first = w.word()
    second = w.word(1)
    if first in ("BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE"):
        return lambda words, _text: _transaction(words)
    if first == "SET":
        return lambda words, _text: _set(words)
    if first == "RESET":
        return lambda words, _text: m.SetSetting(words.word(1).lower(), "DEFAULT")
    if first == "DO":
        return lambda words, _text: m.Procedural("do block")
    if first == "CALL":
        return lambda words, _text: m.Procedural("procedure call")
    if first == "CREATE":
        return _create
    if first == "ALTER" and second == "TABLE":
        return _alter_table
    if first == "ALTER" and second == "TYPE":
        return lambda words, _text: _alter_type(words)
    if first == "ALTER" and second == "INDEX":
        return lambda words, _text: _alter_index(words)
    if first == "ALTER" and second == "SEQUENCE":
        return lambda words, _text: _alter_sequence(words)
    if first == "ALTER" and second in ("TRIGGER", "POLICY"):
        return lambda words, _text: _alter_attached(words)
    if first == "ALTER" and second == "DEFAULT" and w.word(2) == "PRIVILEGES":
        return lambda words, _text: _alter_default_privileges(words)
    if first == "ALTER" and second in ("ROLE", "USER", "DATABASE"):
        return lambda words, _text: _alter_role_or_database(words)
    if first == "ALTER" and second in ("FUNCTION", "EXTENSION", "DEFAULT", "PROCEDURE"):
        return lambda words, _text: m.Harmless("alter " + second.lower())
    if first == "DROP":
        return lambda words, _text: _drop(words)
    if first == "TRUNCATE":
        return lambda words, text: _truncate(text, words.tokens)
    if first in ("DELETE", "UPDATE", "INSERT", "WITH", "SELECT"):
        return lambda words, text: _dml(text, words.tokens)
    if first == "REINDEX":
        return lambda words, _text: _reindex(words)
    if first == "VACUUM":
        return lambda words, _text: _vacuum(words)
    if first == "CLUSTER":
        return lambda words, _text: _cluster(words)
    if first == "COPY":
        return lambda words, _text: _copy(words)
    if first == "LOCK":
        return lambda words, text: _lock(text, words.tokens[0])
    if first == "REVOKE":
        return lambda words, _text: _revoke(words)
    if first == "REASSIGN":
        return lambda words, _text: _reassign_owned(words)
    if first in ("COMMENT", "GRANT", "ANALYZE", "NOTIFY"):
        return lambda words, _text: m.Harmless(first.lower())
    return None


# The privilege-holding objects REVOKE ... ON names, longest first; none (a bare name) is TABLE.
_REVOKE_TARGETS = (
    ("ALL", "TABLES", "IN", "SCHEMA"),
    ("ALL", "SEQUENCES", "IN", "SCHEMA"),
    ("ALL", "FUNCTIONS", "IN", "SCHEMA"),
    ("ALL", "PROCEDURES", "IN", "SCHEMA"),
    ("ALL", "ROUTINES", "IN", "SCHEMA"),
    ("FOREIGN", "DATA", "WRAPPER"),
    ("FOREIGN", "SERVER"),
    ("LARGE", "OBJECT"),
    ("TABLE",),
    ("SEQUENCE",),
    ("SCHEMA",),
    ("DATABASE",),
    ("FUNCTION",),
    ("PROCEDURE",),
    ("ROUTINE",),
    ("TYPE",),
    ("DOMAIN",),
    ("LANGUAGE",),
    ("TABLESPACE",),
    ("PARAMETER",),
)


def _roles(w: _Words) -> list[str]:
    """``role [, ...]``: names (folded as identifiers are), or PUBLIC, CURRENT_USER, SESSION_USER,
    CURRENT_ROLE as written."""
    roles: list[str] = []
    while True:
        w.accept("GROUP")
        roles.append(w.word() if w.word() in ("PUBLIC", "CURRENT_USER", "SESSION_USER", "CURRENT_ROLE") else "")
        if roles[-1]:
            w.i += 1
        else:
            roles[-1] = w.identifier()
        if not w.is_comma():
            return roles
        w.i += 1


def _reassign_owned(w: _Words) -> m.Summary:
    """``REASSIGN OWNED BY roles TO role``: what the roles own changes owner; no row changes."""
    w.expect("REASSIGN", "OWNED", "BY")
    roles = _roles(w)
    w.expect("TO")
    new_owner = _roles(w)[0]
    w.done()
    return m.Harmless("reassign owned", name=new_owner, roles=tuple(roles))


def _alter_role_or_database(w: _Words) -> m.Summary:
    """``ALTER {ROLE | USER} name [IN DATABASE db] SET setting {TO | =} value`` and ``ALTER DATABASE name
    SET ...``: the setting every new session of the role (or in the database) starts with. Other forms
    (passwords, attributes, renames) change no data: harmless."""
    kind = "alter database" if w.word(1) == "DATABASE" else "alter role"
    w.i = 2
    if w.word() in ("ALL", "CURRENT_USER", "SESSION_USER", "CURRENT_ROLE"):
        w.i += 1
    else:
        w.identifier()
    if w.accept("IN", "DATABASE"):
        w.identifier()
    if not w.accept("SET"):
        return m.Harmless(kind)
    setting = w.identifier().lower()
    if not (w.accept("TO") or (not w.at_end() and w.tokens[w.i].token_type == TokenType.EQ and w.accept("="))):
        return m.Harmless(kind)  # SET TABLESPACE, SET SCHEMA...
    value = " ".join(t.text for t in w.tokens[w.i :])
    return m.Harmless(kind, setting=(setting, value))


# ALTER DEFAULT PRIVILEGES ... REVOKE ... ON <kind>: the objects created later it is about.
_DEFAULT_PRIVILEGE_KINDS = (("TABLES",), ("SEQUENCES",), ("FUNCTIONS",), ("ROUTINES",), ("TYPES",), ("SCHEMAS",))


def _alter_default_privileges(w: _Words) -> m.Summary:
    """``ALTER DEFAULT PRIVILEGES [FOR ROLE roles] [IN SCHEMA schemas] {GRANT | REVOKE} ...``: the
    privileges of objects created from now on. A REVOKE takes them from the roles for those objects."""
    w.expect("ALTER", "DEFAULT", "PRIVILEGES")
    creators: list[str] = []
    schemas: list[m.Name] = []
    while True:
        if w.accept("FOR", "ROLE") or w.accept("FOR", "USER"):
            creators = _roles(w)
        elif w.accept("IN", "SCHEMA"):
            schemas.append(m.Name(w.identifier()))
            while w.is_comma():
                w.i += 1
                schemas.append(m.Name(w.identifier()))
        else:
            break
    if w.peek("GRANT"):
        return m.Harmless("alter default privileges")
    return _revoke(w, future=(tuple(creators), tuple(schemas)))


def _revoke(w: _Words, future: tuple[tuple[str, ...], tuple[m.Name, ...]] | None = None) -> m.Summary:
    """``REVOKE [GRANT OPTION FOR] privileges [(columns)] ON [kind] names FROM roles [GRANTED BY role]
    [CASCADE | RESTRICT]``, or ``REVOKE [ADMIN | INHERIT | SET OPTION FOR] roles FROM roles``. With
    ``future`` (ALTER DEFAULT PRIVILEGES: the creating roles and the schemas), ``ON kind`` alone."""
    w.expect("REVOKE")
    option_only = False
    for option in ("GRANT", "ADMIN", "INHERIT", "SET"):
        if w.accept(option, "OPTION", "FOR"):
            option_only = True
    written: list[tuple[str, bool]] = []  # (word, quoted)
    while not w.at_end() and not w.peek("ON") and not w.peek("FROM"):
        if w.is_comma():
            w.i += 1
        elif w.tokens[w.i].token_type == TokenType.L_PAREN:
            w.skip_parens()  # column privileges: REVOKE UPDATE ("email") ON ...
        elif w.word():
            written.append((w.word(), False))
            w.i += 1
        else:
            written.append((w.identifier(), True))
    if not written:
        raise _NotUnderstood("REVOKE without privileges")
    on, objects = "role", []
    if future is not None:
        w.expect("ON")
        kind = next((k for k in _DEFAULT_PRIVILEGE_KINDS if w.accept(*k)), None)
        if kind is None:
            raise _NotUnderstood("ALTER DEFAULT PRIVILEGES ... REVOKE ... ON kind")
        on, objects = f"future {kind[0].lower()}", list(future[1])
    elif w.accept("ON"):
        on = "table"
        for target in _REVOKE_TARGETS:
            # ``ON type FROM app``: a table named like a kind of object
            if w.peek(*target) and w.word(len(target)) not in ("FROM", ","):
                w.accept(*target)
                on = " ".join(target).lower()
                break
        while True:
            if on == "large object" and not w.at_end() and w.tokens[w.i].token_type == TokenType.NUMBER:
                objects.append(m.Name(w.tokens[w.i].text))
                w.i += 1
            else:
                objects.append(w.name())
            w.skip_parens()  # a function's argument types
            if not w.is_comma():
                break
            w.i += 1
    w.expect("FROM")
    roles = _roles(w)
    if w.accept("GRANTED", "BY"):
        w.identifier()
    cascade = w.accept("CASCADE")
    w.accept("RESTRICT")
    w.done()
    # Role names fold to lower case unless quoted, as the roles of FROM do.
    privileges = tuple(word.lower() if on == "role" and not quoted else word for word, quoted in written)
    creators = future[0] if future is not None else ()
    revoke = m.Revoke(privileges, on, tuple(objects), tuple(roles), option_only, cascade, creators)
    return m.Harmless("revoke", revoke=revoke)


def _copy(w: _Words) -> m.Summary:
    """``COPY t [(columns)] FROM <file | STDIN>`` fills the table; ``COPY ... TO <file | STDOUT>`` reads.
    PROGRAM runs a shell command: not understood, so reported."""
    w.expect("COPY")
    if not w.at_end() and w.tokens[w.i].token_type == TokenType.L_PAREN:
        raise _NotUnderstood("COPY of a query")  # the query may call code of the project
    table = w.name()
    w.skip_parens()
    if w.accept("FROM") and not w.peek("PROGRAM"):
        return m.Insert(table)
    if w.accept("TO") and not w.peek("PROGRAM"):
        return m.Harmless("copy to")
    raise _NotUnderstood("COPY form")


# LOCK TABLE modes that conflict with the application's reads (ACCESS SHARE) or writes (ROW EXCLUSIVE).
_BLOCKING_LOCK_MODES = frozenset({"SHARE", "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE"})


def _lock(text: str, head: Token) -> m.Summary:
    """``LOCK [TABLE] [ONLY] name [*] [, ...] [IN mode MODE] [NOWAIT]``: the lock is held until commit."""
    # sqlglot folds what follows LOCK into one string: read it again as words.
    w = _Words(_TOKENIZER.tokenize(text[head.end + 1 :]))
    w.accept("TABLE")
    tables: list[m.Name] = []
    while True:
        w.accept("ONLY")
        tables.append(w.name())
        w.accept("*")
        if not w.is_comma():
            break
        w.i += 1
    mode = "ACCESS EXCLUSIVE"  # PostgreSQL's default
    if w.accept("IN"):
        words: list[str] = []
        while not w.at_end() and not w.peek("MODE"):
            words.append(w.word())
            w.i += 1
        w.expect("MODE")
        mode = " ".join(words)
    nowait = w.accept("NOWAIT")
    w.done()
    waits = mode in _BLOCKING_LOCK_MODES and not nowait
    return m.Harmless("lock", tables[0], locks=tuple(tables) if waits else ())


def _alter_table(w: _Words, text: str) -> m.Summary:
    # Rename forms are read from the words: sqlglot reads `RENAME a TO b` as a table rename.
    probe = w.fresh_cursor()
    probe.expect("ALTER", "TABLE")
    probe.accept("IF", "EXISTS")
    probe.accept("ONLY")
    table = probe.name()
    probe.accept("*")
    if probe.peek("RENAME"):
        return _alter_table_tokens(w, text)
    restart = _identity_restart(probe, table)
    if restart is not None:
        return restart
    try:
        return _alter_table_sqlglot(text, w.tokens)
    except _NotUnderstood:
        return _alter_table_tokens(w, text)


def _identity_restart(w: _Words, table: m.Name) -> m.ResetSequence | None:
    """``ALTER TABLE t ALTER [COLUMN] c RESTART [[WITH] n]`` as the statement's only action: the
    identity column's sequence moves, as with ``ALTER SEQUENCE ... RESTART`` (sqlglot cannot read it).
    None for anything else; several actions are left to the general reading."""
    if not w.accept("ALTER"):
        return None
    w.accept("COLUMN")
    try:
        column = w.identifier()
    except _NotUnderstood:
        return None
    if not w.accept("RESTART"):
        return None
    w.accept("WITH")
    sign = "-" if w.accept("-") else ""
    value = None
    if not w.at_end() and w.tokens[w.i].token_type == TokenType.NUMBER:
        value = sign + w.tokens[w.i].text
        w.i += 1
    if not w.at_end() or (sign and value is None):
        return None
    return m.ResetSequence("restart", None, value, owner=table, owner_column=column)


def _truncate(text: str, tokens: Sequence[Token]) -> m.Summary:
    node = _parse_one(text, tokens)
    if not isinstance(node, exp.TruncateTable):
        raise _NotUnderstood("TRUNCATE form")
    tables = tuple(_table_name(t) for t in node.expressions)
    return m.Truncate(tables, str(node.args.get("option") or "").upper() == "CASCADE")


def _first_words(text: str, count: int = 4) -> str:
    """The statement's first words as written, for messages."""
    return " ".join(text.split()[:count])


def summarize(text: str) -> m.Summary:
    """Summarize one statement (without its terminating semicolon). Never raises."""
    return read_statement(text)[0]


def read_statement(text: str) -> tuple[m.Summary, tuple[str, ...]]:
    """The statement's summary and the string constants it contains (for enum-value use)."""
    try:
        tokens = _TOKENIZER.tokenize(text)
    except Exception:  # sqlglot's tokenizer raises several types on garbage
        return m.Unparsed("the SQL tokenizer could not read it"), ()
    literals = tuple(t.text for t in tokens if t.token_type == TokenType.STRING)
    return _summarize_tokens(text, tokens), literals


def _summarize_tokens(text: str, tokens: list[Token]) -> m.Summary:
    if tokens and tokens[0].token_type == TokenType.COMMAND and len(tokens) > 1:
        # sqlglot folds what follows a "command" keyword (REINDEX, VACUUM, DO...) into one string.
        try:
            tokens = [tokens[0], *_TOKENIZER.tokenize(text[tokens[0].end + 1 :])]
        except Exception:
            return m.Unparsed("the SQL tokenizer could not read it")
    words = _Words(tokens)
    if words.at_end():
        return m.Unparsed("the statement is empty")
    handler = _head(words)
    head = _first_words(text)
    if handler is None:
        return m.Unparsed("the linter does not know this kind of statement", head)
    try:
        return handler(words, text)
    except _NotUnderstood as err:
        return m.Unparsed(str(err), head)
    except RecursionError:
        return m.Unparsed("the statement is nested too deeply", head)
    except Exception as err:  # a parser bug must not hide a statement: report it as unchecked
        return m.Unparsed(f"internal parser error ({type(err).__name__})", head)
