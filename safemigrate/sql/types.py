"""Judge a column type change against the column's known old type.

PostgreSQL never truncates on ``ALTER COLUMN ... TYPE``: a value that does not fit makes the
statement fail, while rounding conversions (numeric scale, timestamp precision, float to integer,
timestamp to date or time) silently change values. Both are reported: the first as may-fail or
narrowing, the second as narrowing (data-loss). An explicit cast in USING does truncate
(``"code"::varchar(2)`` keeps two characters), and a chain of casts is judged cast by cast
(:func:`conversion_steps`). Rewrites follow PostgreSQL's rules for binary-coercible changes.

Some conversions never fail yet change every value: a bytea becomes the hex text of its bytes, an
array one text in array syntax. Stored in a text column, that is a value change (narrowing); read
back by a later cast of a ``USING`` chain (Prisma's ``"roles"::text::"Role_new"[]``), nothing is lost.
The serial types are no types outside CREATE TABLE and ADD COLUMN: ``ALTER COLUMN ... TYPE BIGSERIAL``
always fails (:data:`FAILS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from safemigrate.sql.model import AlterColumnType, AlterTable, Name, TypeSpec

_INTEGER_RANK = {"smallint": 2, "integer": 4, "bigint": 8}
_TEXT = {"text", "varchar", "char", "citext", "bpchar"}
_UNBOUNDED_TEXT = {"text", "citext"}
_BLANK_PADDED = {"char", "bpchar"}
_FLOAT = {"real": 24, "double precision": 53}
# The serial pseudo-types and the integer type each stands for in CREATE TABLE and ADD COLUMN.
SERIAL_TYPES = {
    "smallserial": "smallint",
    "serial2": "smallint",
    "serial": "integer",
    "serial4": "integer",
    "bigserial": "bigint",
    "serial8": "bigint",
}
_FRACTION_UNITS = {0: "whole seconds", 3: "milliseconds", 6: "microseconds"}

# PostgreSQL's string category (typcategory 'S'): every type converts to one by its output function.
_STRING = _TEXT | {"name"}
# The built-in types whose casts are listed below (pg_cast of PostgreSQL 15 and 18, the same but for bytea).
_CATALOGUED = frozenset(
    {
        *("smallint", "integer", "bigint", "numeric", "real", "double precision", "money", "oid", "boolean"),
        *("bytea", "uuid", "json", "jsonb", "jsonpath", "xml", "tsvector", "tsquery", "bit", "varbit"),
        *("timestamp", "timestamptz", "date", "time", "timetz", "interval", "inet", "cidr", "macaddr", "macaddr8"),
        *("int4range", "int8range", "numrange", "tsrange", "tstzrange", "daterange"),
    }
)
# Their automatic casts (castcontext 'i' or 'a'): ALTER COLUMN ... TYPE without USING converts with these.
# Casts to a string type are left out: every type has one (its output function, an assignment cast).
_ASSIGNMENT_CASTS = {
    "smallint": {"integer", "bigint", "numeric", "real", "double precision", "oid"},
    "integer": {"smallint", "bigint", "numeric", "real", "double precision", "money", "oid"},
    "bigint": {"smallint", "integer", "numeric", "real", "double precision", "money", "oid"},
    "numeric": {"smallint", "integer", "bigint", "real", "double precision", "money"},
    "real": {"smallint", "integer", "bigint", "numeric", "double precision"},
    "double precision": {"smallint", "integer", "bigint", "numeric", "real"},
    "money": {"numeric"},
    "oid": {"integer", "bigint"},
    "json": {"jsonb"},
    "jsonb": {"json"},
    "date": {"timestamp", "timestamptz"},
    "timestamp": {"timestamptz", "date", "time"},
    "timestamptz": {"timestamp", "date", "time", "timetz"},
    "time": {"timetz", "interval"},
    "timetz": {"time"},
    "interval": {"time"},
    "inet": {"cidr"},
    "cidr": {"inet"},
    "macaddr": {"macaddr8"},
    "macaddr8": {"macaddr"},
    "bit": {"varbit"},
    "varbit": {"bit"},
}
# Casts only a USING clause may write (castcontext 'e'); from a string type, every type's input function.
# The integers to and from bytea exist since PostgreSQL 18: listed, an earlier server's refusal of one
# written in USING is judged as a cast that may fail, never as a false "always fails".
_EXPLICIT_CASTS = {
    "smallint": {"bytea"},
    "integer": {"boolean", "bit", "bytea"},
    "bigint": {"bit", "bytea"},
    "boolean": {"integer"},
    "bit": {"integer", "bigint"},
    "bytea": {"smallint", "integer", "bigint"},
    "jsonb": {"boolean", "smallint", "integer", "bigint", "numeric", "real", "double precision"},
}
# format_type's names, which PostgreSQL's messages use.
_POSTGRES_NAMES = {
    "varchar": "character varying",
    "char": "character",
    "bpchar": "character",
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
    "time": "time without time zone",
    "timetz": "time with time zone",
    "varbit": "bit varying",
}
# money's range: -92233720368547758.08 to 92233720368547758.07 with the currency's 2 decimals (lc_monetary).
_MONEY_DIGITS, _MONEY_DECIMALS = 17, 2

SAME = "same"
WIDENING = "widening"  # every old value fits
NARROWING = "narrowing"  # values can be rejected, rounded or reinterpreted
CAST = "cast"  # a conversion between families that fails on values that do not parse
UNKNOWN = "unknown"  # the old type is not known
# The statement fails whatever the rows hold: a serial type (serial-type-change), or no cast PostgreSQL
# may apply there (type-cast-may-fail).
FAILS = "fails"


@dataclass(frozen=True)
class TypeChange:
    kind: str
    rewrite: bool  # PostgreSQL rewrites the table (and its indexes) under ACCESS EXCLUSIVE
    reason: str  # one phrase for messages: why values can be lost or rejected


def type_name(spec: TypeSpec) -> Name:
    """The name of a user type with the schema the migration wrote (``"billing"."Plan"``), for enum lookups.

    ``spec.base`` is the bare name (renames of the type follow it); the schema comes from the parser's
    spelling, which a rename does not change. Unqualified, the schema model resolves it as PostgreSQL does.
    """
    spelled = spec.written.removesuffix("[]" * spec.array_dims) if spec.user_defined else ""
    parts = _split_dotted(spelled) if spelled else None
    return Name(spec.base, parts[-2] if parts is not None and len(parts) > 1 else None)


def serial_integer(spec: TypeSpec) -> str | None:
    """The integer type of a serial pseudo-type (``bigserial`` -> ``bigint``); None for any other type."""
    return None if spec.user_defined else SERIAL_TYPES.get(spec.base)


def serial_type_in(action: AlterColumnType) -> TypeSpec | None:
    """The serial pseudo-type an ``ALTER COLUMN ... TYPE`` names, as its new type or in a cast of its USING.

    PostgreSQL knows no type of that name there, so the statement always fails (serial-type-change).
    """
    if serial_integer(action.new_type) is not None:
        return action.new_type
    chain = cast_chain(action.using, action.column) if action.using is not None else None
    return next((t for t in map(_spelled_type, chain or ()) if serial_integer(t) is not None), None)


def _rounded_fraction(old: TypeSpec, new: TypeSpec) -> str:
    """The fractional seconds lost between two time types of the same family; "" when none."""
    old_p = old.params[0] if old.params else 6
    new_p = new.params[0] if new.params else 6
    if new_p >= old_p:
        return ""
    rounded = f"fractional seconds are rounded from {old_p} to {new_p} digits"
    if old_p in _FRACTION_UNITS and new_p in _FRACTION_UNITS:
        rounded += f" ({_FRACTION_UNITS[old_p]} to {_FRACTION_UNITS[new_p]})"
    return rounded


def _text_limit(t: TypeSpec) -> int | None:
    """Length limit of a text-family type; None when unbounded."""
    if t.base in _UNBOUNDED_TEXT:
        return None
    if t.base == "varchar":
        return t.params[0] if t.params else None
    if t.base in ("char", "bpchar"):
        return t.params[0] if t.params else 1
    return None


def _too_long(new: TypeSpec) -> str:
    """What a bounded string type rejects of values converted to text; "" when it is unbounded."""
    limit = _text_limit(new)
    return "" if limit is None else f"values whose text is longer than {limit} characters are rejected"


def _and(reason: str, more: str) -> str:
    return f"{reason}, and {more}" if more else reason


def _numeric_bounds(t: TypeSpec) -> tuple[int, int] | None:
    """(integer digits, scale) of numeric(p,s); None when unconstrained."""
    if not t.params:
        return None
    precision = t.params[0]
    scale = t.params[1] if len(t.params) > 1 else 0
    return precision - scale, scale


def postgres_name(spec: TypeSpec) -> str:
    """The type as PostgreSQL's messages name it (format_type): ``time with time zone``, ``"Color"[]``."""
    if spec.user_defined:
        simple = spec.base.isidentifier() and spec.base == spec.base.lower() and spec.base.isascii()
        name = spec.base if simple else '"' + spec.base.replace('"', '""') + '"'
    else:
        name = _POSTGRES_NAMES.get(spec.base, spec.base)
    return name + "[]" * min(spec.array_dims, 1)  # PostgreSQL has one array type whatever the dimensions


def _family(spec: TypeSpec, enum_types: frozenset[str]) -> str | None:
    """The family of a type whose casts are known ("string", "enum", "builtin"); None for any other."""
    if spec.user_defined:
        return "enum" if spec.base in enum_types else None
    if spec.base in _STRING:
        return "string"
    return "builtin" if spec.base in _CATALOGUED else None


def convertible(source: TypeSpec, target: TypeSpec, enum_types: frozenset[str], explicit: bool = False) -> bool | None:
    """Whether PostgreSQL has a conversion from ``source`` to ``target``: an automatic (assignment) one, or
    with ``explicit`` one a cast in USING may write. None when a type is one whose casts are not known (a
    domain, an extension's type, an enum the history does not define).

    Every type converts to a string type by its output function, automatically; a string converts to any
    type by that type's input function, only explicitly. Two arrays convert element by element, in the
    same context; a value and an array do not convert into each other, except to and from strings.
    """
    source_family, target_family = _family(source, enum_types), _family(target, enum_types)
    if target_family == "string" and not target.array_dims:
        return True
    if explicit and source_family == "string" and not source.array_dims:
        return True
    if bool(source.array_dims) != bool(target.array_dims):
        return False if source_family is not None and target_family is not None else None
    if source.base == target.base and source.user_defined == target.user_defined:
        return True
    if source_family is None or target_family is None:
        return None
    if target_family == "string":
        return True  # two arrays: element by element
    if source_family == "string":
        return explicit
    if "enum" in (source_family, target_family):
        return False  # an enum converts only to and from strings
    casts = _ASSIGNMENT_CASTS.get(source.base, set())
    if explicit:
        casts = casts | _EXPLICIT_CASTS.get(source.base, set())
    return target.base in casts


def judge_type_change(old: TypeSpec | None, new: TypeSpec, enum_types: frozenset[str]) -> TypeChange:
    """Classify ``old -> new`` as ``ALTER COLUMN ... TYPE`` without USING converts it, with an automatic cast.

    ``enum_types`` holds the base names of known enums.
    """
    return _judge(old, new, enum_types, explicit=False)


def _judge(old: TypeSpec | None, new: TypeSpec, enum_types: frozenset[str], explicit: bool | None) -> TypeChange:
    """Classify ``old -> new`` converted automatically (``explicit`` False), by a cast written in USING
    (True), or whatever converts them (None: the values only, where they went through other types first)."""
    if old is None:
        return TypeChange(UNKNOWN, True, "the column's current type is not known from the migration history")
    if serial_integer(new) is not None:
        return TypeChange(FAILS, False, f'type "{new.base}" does not exist')
    if (old.base, old.params, old.array_dims) == (new.base, new.params, new.array_dims):
        return TypeChange(SAME, False, "")
    if explicit is not None and convertible(old, new, enum_types, explicit) is False:
        how = "a cast" if explicit else "an automatic cast"
        return TypeChange(FAILS, False, f"PostgreSQL has no {how} from {old.display()} to {new.display()}")
    if old.array_dims and not new.array_dims and new.base in _TEXT:
        # PostgreSQL's automatic conversion of any array to a string type: never fails, changes every value.
        reason = "each array becomes one text in array syntax ('{\"a b\",c,NULL}')"
        return TypeChange(NARROWING, True, _and(reason, _too_long(new)))
    if bool(old.array_dims) != bool(new.array_dims):
        return TypeChange(CAST, True, f"{old.display()} values are converted to {new.display()}")
    if old.array_dims:
        # Element by element; the arrays are rebuilt unless only a bound or a length limit goes away.
        old_element, new_element = _element(old), _element(new)
        if (old_element.base, old_element.params) == (new_element.base, new_element.params):
            return TypeChange(SAME, False, "")
        change = _judge(old_element, new_element, enum_types, None)
        unbounded = old_element.base == new_element.base and not new_element.params
        return TypeChange(change.kind, change.rewrite or not unbounded, change.reason)
    return _judge_scalar(old, new, enum_types)


def _element(spec: TypeSpec) -> TypeSpec:
    return TypeSpec(spec.base, spec.params, 0, spec.user_defined, spec.written.removesuffix("[]" * spec.array_dims))


def _judge_scalar(old: TypeSpec, new: TypeSpec, enum_types: frozenset[str]) -> TypeChange:
    """Classify ``old -> new`` of two single values (or the elements of two arrays)."""
    ob, nb = old.base, new.base

    if ob == "inet" and nb in _TEXT - {"citext"}:
        # text(inet) writes the netmask of every value; an inet's own output leaves /32 and /128 out.
        reason = "host addresses get their netmask appended ('10.0.0.1' is stored as '10.0.0.1/32', '::1' as '::1/128')"
        return TypeChange(NARROWING, True, _and(reason, _too_long(new)))
    if ob == "xml" and nb in ("text", "varchar") and _text_limit(new) is None:
        return TypeChange(WIDENING, False, "")  # binary coercible: the table keeps its file

    if ob == "bytea" and nb in _TEXT:
        reason = "every value becomes the hex text of its bytes ('hello' is stored as '\\x68656c6c6f')"
        return TypeChange(NARROWING, True, _and(reason, _too_long(new)))

    if ob in _TEXT and nb in _TEXT:
        old_limit, new_limit = _text_limit(old), _text_limit(new)
        old_padded, new_padded = ob in _BLANK_PADDED, nb in _BLANK_PADDED
        if old_padded and not new_padded:
            shorter = new_limit is not None and (old_limit is None or new_limit < old_limit)
            too_long = f"values longer than {new_limit} characters are rejected" if shorter else ""
            return TypeChange(NARROWING, True, _and("char(n) values lose their trailing spaces", too_long))
        if new_padded and not old_padded:
            # char(m) ignores trailing spaces: they are gone when the value is read back as text.
            reason = f"values lose their trailing spaces as {new.display()}"
            if new_limit is not None and (old_limit is None or new_limit < old_limit):
                reason += f", and values longer than {new_limit} characters are rejected"
            return TypeChange(NARROWING, True, reason)
        if old_padded and new_padded and new_limit is not None and old_limit is not None and new_limit > old_limit:
            return TypeChange(WIDENING, True, "")  # every value is padded again to the new length
        if new_limit is None:
            return TypeChange(WIDENING, False, "")
        if old_limit is not None and new_limit >= old_limit:
            return TypeChange(WIDENING, False, "")
        return TypeChange(NARROWING, True, f"values longer than {new_limit} characters are rejected")

    if ob in _INTEGER_RANK and nb in _INTEGER_RANK:
        if _INTEGER_RANK[nb] >= _INTEGER_RANK[ob]:
            return TypeChange(WIDENING, True, "")
        return TypeChange(NARROWING, True, f"{ob} values outside the {nb} range are rejected")

    if ob in _INTEGER_RANK and nb == "numeric":
        bounds = _numeric_bounds(new)
        digits = {"smallint": 5, "integer": 10, "bigint": 19}[ob]
        if bounds is None or bounds[0] >= digits:
            return TypeChange(WIDENING, True, "")
        return TypeChange(NARROWING, True, f"values with more than {bounds[0]} integer digits are rejected")

    if ob == "numeric" and nb == "numeric":
        old_b, new_b = _numeric_bounds(old), _numeric_bounds(new)
        if new_b is None:
            return TypeChange(WIDENING, False, "")
        if old_b is None:
            return TypeChange(NARROWING, True, f"values are rounded to {new_b[1]} decimals or rejected")
        if new_b[1] < old_b[1]:
            return TypeChange(NARROWING, True, f"values are rounded from {old_b[1]} to {new_b[1]} decimals")
        if new_b[0] < old_b[0]:
            return TypeChange(NARROWING, True, f"values with more than {new_b[0]} integer digits are rejected")
        return TypeChange(WIDENING, new_b[1] != old_b[1], "")

    if (ob in _INTEGER_RANK or ob == "numeric") and nb in _FLOAT:
        if ob in ("smallint", "integer") and nb == "double precision":
            return TypeChange(WIDENING, True, "")
        return TypeChange(NARROWING, True, f"{ob} values lose precision as {nb}")
    if ob in _FLOAT and nb in _FLOAT:
        if _FLOAT[nb] >= _FLOAT[ob]:
            return TypeChange(WIDENING, True, "")
        return TypeChange(NARROWING, True, "double precision values lose precision as real")
    if (ob in _FLOAT or ob == "numeric") and (nb in _INTEGER_RANK or nb == "numeric"):
        return TypeChange(NARROWING, True, f"{ob} values are rounded to {new.display()}")

    if ob in ("timestamp", "timestamptz", "time", "timetz") and nb == ob:
        rounded = _rounded_fraction(old, new)
        return TypeChange(NARROWING, True, rounded) if rounded else TypeChange(WIDENING, False, "")
    if {ob, nb} == {"timestamp", "timestamptz"}:
        reason = "values are reinterpreted in the session's time zone"
        return TypeChange(NARROWING, True, _and(reason, _rounded_fraction(old, new)))
    if ob in ("timestamp", "timestamptz") and nb == "date":
        return TypeChange(NARROWING, True, "the time of day is dropped")
    if ob == "date" and nb in ("timestamp", "timestamptz"):
        return TypeChange(WIDENING, True, "")
    if (ob in ("timestamp", "timestamptz") and nb == "time") or (ob == "timestamptz" and nb == "timetz"):
        return TypeChange(NARROWING, True, "the date is dropped, only the time of day is kept")
    if ob == "interval" and nb == "time":
        return TypeChange(NARROWING, True, "whole days and months are dropped, only the time of day is kept")
    if ob == "timetz" and nb == "time":
        return TypeChange(NARROWING, True, "the time zone offset is dropped")
    if ob == "time" and nb == "timetz":
        return TypeChange(NARROWING, True, "values get the session's time zone offset")
    if ob == "time" and nb == "interval":
        return TypeChange(WIDENING, True, "")

    if ob == "numeric" and nb == "money":
        return TypeChange(
            NARROWING,
            True,
            "values are rounded to the currency's decimals (2 by default) or rejected beyond money's range",
        )
    if ob == "bigint" and nb == "money":
        return TypeChange(NARROWING, True, "bigint values outside the money range are rejected")
    if ob == "integer" and nb == "money":  # smallint has no cast to money: the statement fails (FAILS)
        return TypeChange(WIDENING, True, "")
    if ob == "money" and nb == "numeric":
        bounds = _numeric_bounds(new)
        if bounds is None:
            return TypeChange(WIDENING, True, "")
        too_big = f"values with more than {bounds[0]} integer digits are rejected" if bounds[0] < _MONEY_DIGITS else ""
        rounded = f"values are rounded to {bounds[1]} decimals" if bounds[1] < _MONEY_DECIMALS else ""
        if too_big or rounded:
            return TypeChange(NARROWING, True, _and(too_big, rounded) if too_big else rounded)
        return TypeChange(WIDENING, True, "")

    if ob == "oid" and nb == "bigint":
        return TypeChange(WIDENING, True, "")
    if ob == "oid" and nb == "integer":  # binary coercible: the same 4 bytes, read as signed
        reason = "values above 2147483647 wrap to negative numbers (4000000000 is stored as -294967296)"
        return TypeChange(NARROWING, False, reason)
    if ob in _INTEGER_RANK and nb == "oid":
        wraps = "negative values wrap to large oids (-5 is stored as 4294967291)"
        if ob == "bigint":
            return TypeChange(NARROWING, True, _and("bigint values outside the oid range are rejected", wraps))
        return TypeChange(NARROWING, ob == "smallint", wraps)  # integer -> oid is binary coercible

    if ob == "cidr" and nb == "inet":
        return TypeChange(WIDENING, False, "")  # binary coercible
    if ob == "inet" and nb == "cidr":
        return TypeChange(
            NARROWING, True, "host bits beyond the netmask are zeroed ('10.0.0.1/8' is stored as '10.0.0.0/8')"
        )

    if ob in ("bit", "varbit") and nb == "varbit":
        old_bits = old.params[0] if old.params else (1 if ob == "bit" else None)
        new_bits = new.params[0] if new.params else None
        if new_bits is None:
            return TypeChange(WIDENING, False, "")  # binary coercible
        if old_bits is not None and new_bits >= old_bits:
            return TypeChange(WIDENING, ob == "bit", "")  # bit(n) -> varbit(m) checks each length
        return TypeChange(NARROWING, True, f"bit strings longer than {new_bits} bits are rejected")
    if ob in ("bit", "varbit") and nb == "bit":
        new_bits = new.params[0] if new.params else 1
        if ob == "bit" and (old.params[0] if old.params else 1) == new_bits:
            return TypeChange(SAME, False, "")
        return TypeChange(CAST, True, f"bit strings whose length is not {new_bits} are rejected")

    if ob == "json" and nb == "jsonb":
        return TypeChange(NARROWING, True, "jsonb drops duplicate keys and formatting, and rejects \\u0000")
    if ob == "jsonb" and nb == "json":
        return TypeChange(WIDENING, True, "")

    if nb in _TEXT:
        too_long = _too_long(new)
        return TypeChange(NARROWING, True, too_long) if too_long else TypeChange(WIDENING, True, "")

    if ob in enum_types and nb in enum_types:
        return TypeChange(CAST, True, f"values of {ob} that {nb} does not have are rejected")
    return TypeChange(CAST, True, f"{old.display()} values that do not convert to {new.display()} are rejected")


def using_casts_column(using: str, column: str) -> bool:
    """True when a USING expression only reads ``column``, cast to some type (or not at all).

    ``"role"::text::"Role_new"`` keeps each value (converted, each cast judged by
    :func:`conversion_steps`); ``NULL``, ``'USER'::"Role"`` or ``left("title", 5)`` replace them.
    """
    return cast_chain(using, column) is not None


def cast_chain(using: str, column: str) -> tuple[str, ...] | None:
    """The types a USING expression casts ``column`` to, innermost first; None when it is more than that.

    ``CAST(CAST("score" AS INT) AS TEXT)`` gives ``("INT", "TEXT")``, the column alone ``()``. ``using``
    is the parser's normalized spelling (``CAST(x AS t)``, parenthesized); anything this does not
    recognize counts as replacing values.
    """
    expression = _strip_parens(using.strip())
    outermost_first: list[str] = []
    while expression.upper().startswith("CAST(") and _closing_paren(expression, 4) == len(expression) - 1:
        split = _cast_parts(expression[len("CAST(") : -1])
        if split is None:
            return None
        operand, type_spelled = split
        outermost_first.append(type_spelled)
        expression = _strip_parens(operand)
    parts = _split_dotted(expression)
    if parts is None or parts[-1] != column:
        return None
    return tuple(reversed(outermost_first))


@dataclass(frozen=True)
class ConversionStep:
    """One conversion a stored value goes through on its way to the column's new type."""

    source: TypeSpec
    target: TypeSpec
    written: bool  # a cast written in USING; otherwise PostgreSQL's own conversion to the column's type
    change: TypeChange


def conversion_steps(
    old: TypeSpec, new: TypeSpec, using: str | None, column: str, enum_types: frozenset[str]
) -> tuple[ConversionStep, ...]:
    """The conversions ``ALTER COLUMN column TYPE new [USING using]`` applies to a stored ``old`` value.

    A USING that casts the column, perhaps several times (``"score"::integer::text``), sends each value
    through every cast: one lossy cast loses data even when the final type is wide, so each is judged.
    The last cast's result is converted to ``new`` when it is another type. Without USING, or when USING
    is more than casts of the column (type-change-using-expression reports that), the one step old -> new.
    A cast written in USING may be any cast PostgreSQL has; the conversion to ``new`` after it, or without
    USING, must be an automatic one, else the step always fails (:data:`FAILS`).
    A step is judged from the narrowest type the values still fit: after ``varchar(5)`` -> ``text``,
    converting to ``varchar(10)`` rejects nothing; a cast that spells an array or a bytea as text, read
    back by a later cast (``"roles"::text::"Role_new"[]``), changes nothing either.
    """
    chain = cast_chain(using, column) if using is not None else None
    targets = [(_spelled_type(spelled), True) for spelled in chain or ()]
    if not targets or not _same_type(targets[-1][0], new):
        targets.append((new, False))
    steps: list[ConversionStep] = []
    source, values_fit = old, old
    # The one step of a USING that is more than casts converts by whatever the expression does.
    unknown_context = using is not None and chain is None
    for at, (target, written) in enumerate(targets):
        context = None if unknown_context else written
        change = _step_change(source, values_fit, target, context, enum_types)
        if change.kind == NARROWING and _read_back(source, target, [t for t, _ in targets[at + 1 :]]):
            change = TypeChange(WIDENING, change.rewrite, "")
        steps.append(ConversionStep(source, target, written, change))
        if change.kind not in (SAME, WIDENING):
            values_fit = target
        source = target
    return tuple(steps)


def _read_back(source: TypeSpec, target: TypeSpec, later: list[TypeSpec]) -> bool:
    """True when ``source -> target`` only spells each value as text (an array, a bytea) and a later cast
    parses that text again (``"roles"::text::"Role_new"[]``): no value is changed on the way."""
    spelled = target.base in _TEXT and not target.array_dims and _text_limit(target) is None
    spelled = spelled and (source.array_dims > 0 or (source.base == "bytea" and not source.user_defined))
    return spelled and any(t.array_dims or t.base not in _TEXT for t in later)


def _same_type(a: TypeSpec, b: TypeSpec) -> bool:
    return (a.base, a.params, a.array_dims) == (b.base, b.params, b.array_dims)


def _step_change(
    source: TypeSpec, values_fit: TypeSpec, target: TypeSpec, explicit: bool | None, enum_types: frozenset[str]
) -> TypeChange:
    """Judge one step on values that still fit ``values_fit``; the rewrite, and whether PostgreSQL has the
    cast at all, follow the step's own types: ``explicit`` for a cast written in USING (any cast), False for
    PostgreSQL's own conversion (an automatic cast), None when not known (a USING expression)."""
    own = _judge(source, target, enum_types, explicit=explicit)
    if own.kind == FAILS:
        return own
    rewrite = own.rewrite
    change = _judge(values_fit, target, enum_types, explicit=None)
    limit = _text_limit(target) if target.base in _TEXT else None
    if explicit and change.kind == NARROWING and limit is not None and target.array_dims == 0:
        # An explicit cast to varchar(n) or char(n) cuts what does not fit instead of rejecting it.
        fit_limit = _text_limit(values_fit) if values_fit.base in _TEXT else None
        if values_fit.base not in _TEXT or fit_limit is None or fit_limit > limit:
            return TypeChange(NARROWING, True, f"values longer than {limit} characters are cut to {limit}")
    return TypeChange(change.kind, rewrite, change.reason)


@lru_cache(maxsize=256)
def _spelled_type(spelled: str) -> TypeSpec:
    """The type a cast in the parser's normalized USING names (``INT``, ``VARCHAR(2)``, ``"Role_new"``)."""
    from safemigrate.sql.parse import summarize  # here: the parser (sqlglot) loads only when a USING casts

    summary = summarize(f"ALTER TABLE t ALTER COLUMN c TYPE {spelled}")
    if isinstance(summary, AlterTable) and len(summary.actions) == 1:
        action = summary.actions[0]
        if isinstance(action, AlterColumnType):
            return action.new_type
    return TypeSpec(spelled.lower(), user_defined=True, written=spelled)  # unknown: judged as a cast that may fail


def _closing_paren(text: str, opening: int) -> int:
    """Index of the parenthesis closing ``text[opening]``, skipping quoted text; -1 when unbalanced."""
    depth, quote = 0, ""
    for at in range(opening, len(text)):
        char = text[at]
        if quote:
            if char == quote:
                quote = ""  # a doubled quote closes and reopens: same result
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return at
    return -1


def _strip_parens(text: str) -> str:
    while text.startswith("(") and _closing_paren(text, 0) == len(text) - 1:
        text = text[1:-1].strip()
    return text


def _cast_parts(inside: str) -> tuple[str, str] | None:
    """``(x, type)`` of ``x AS type``: split at the first AS outside quotes and parentheses."""
    depth, quote = 0, ""
    for at, char in enumerate(inside):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and inside[at : at + 4].upper() == " AS ":
            return inside[:at].strip(), inside[at + 4 :].strip()
    return None


def _split_dotted(text: str) -> list[str] | None:
    """The identifiers of ``a."B".c`` as PostgreSQL resolves them; None when it is anything else."""
    parts: list[str] = []
    at = 0
    while True:
        if text.startswith('"', at):
            end = at + 1
            while True:
                end = text.find('"', end)
                if end < 0:
                    return None
                if text.startswith('""', end):
                    end += 2
                    continue
                break
            parts.append(text[at + 1 : end].replace('""', '"'))
            at = end + 1
        else:
            end = at
            while end < len(text) and (text[end].isalnum() or text[end] in "_$"):
                end += 1
            word = text[at:end]
            if not word or word[0].isdigit() or word[0] == "$":
                return None
            parts.append(word.lower())
            at = end
        if at == len(text):
            return parts
        if text[at] != ".":
            return None
        at += 1
