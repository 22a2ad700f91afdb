"""Make PostgreSQL 12–15 view definitions read as PostgreSQL 16 and later print them.

Up to PostgreSQL 15 a view's stored query carried two extra range-table entries (OLD and NEW), so
``pg_get_viewdef`` qualified every column of the view's top-level query with its relation's name,
even when the query reads a single relation. PostgreSQL 16 dropped those entries, and prints such
columns unqualified::

    15:  SELECT x.id, x.a FROM t x WHERE (x.b > 1);
    16+: SELECT id, a FROM t x WHERE (b > 1);

Queries over several relations (joins, comma lists), set operations, subqueries and CTE bodies
print the same on both. So, for a definition from PostgreSQL 15 or older whose top-level FROM holds
exactly one relation (table, subquery, function or CTE reference), this module removes that
relation's name as qualifier from the top-level query, outside subqueries, exactly where 16 leaves
it out. It works on tokens of the deparser's own output (strings, quoted identifiers and numbers
are single tokens), never on the user's SQL; whole-row references (``t.*``) keep their qualifier,
as on 16. Output of PostgreSQL 12–15 no longer changes, so this stays exact for them.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<string>[Ee]'(?:[^'\\]|\\.|'')*'|'(?:[^']|'')*')
    | (?P<quoted>"(?:[^"]|"")*")
    | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)
    | (?P<word>[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_$\x80-\U0010ffff]*)
    | (?P<punct>::|[()\[\],;.])
    | (?P<op>[-+*/<>=~!@\#%^&|`?]+)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

_SUBQUERY_START = frozenset({"SELECT", "WITH", "VALUES", "TABLE"})
_FROM_END = frozenset(
    {"WHERE", "GROUP", "HAVING", "WINDOW", "ORDER", "LIMIT", "OFFSET", "FETCH", "FOR", "UNION", "INTERSECT", "EXCEPT"}
)
_SET_OPERATIONS = frozenset({"UNION", "INTERSECT", "EXCEPT"})


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    depth: int  # parentheses around it (a parenthesis itself counts as outside)
    in_subquery: bool  # inside a parenthesised SELECT / WITH / VALUES

    @property
    def keyword(self) -> str:
        return self.text.upper() if self.kind == "word" else ""

    @property
    def is_name(self) -> bool:
        return self.kind in ("word", "quoted")


def _tokens(text: str) -> list[_Token]:
    raw = [(m.lastgroup or "other", m.group()) for m in _TOKEN.finditer(text)]
    significant = [i for i, (kind, _) in enumerate(raw) if kind != "space"]
    following = dict(itertools.pairwise(significant))
    tokens: list[_Token] = []
    stack: list[bool] = []  # one entry per open parenthesis: does it open a subquery?
    for i, (kind, value) in enumerate(raw):
        if value == ")" and stack:
            stack.pop()
        tokens.append(_Token(kind, value, len(stack), any(stack)))
        if value == "(":
            nxt = following.get(i)
            stack.append(nxt is not None and raw[nxt][1].upper() in _SUBQUERY_START)
    return tokens


def unqualify_single_relation_view(definition: str) -> str:
    """The PostgreSQL 16+ text of a view definition printed by PostgreSQL 15 or older."""
    tokens = _tokens(definition)
    top = [i for i, t in enumerate(tokens) if t.depth == 0 and t.kind != "space"]
    if any(tokens[i].keyword in _SET_OPERATIONS for i in top):
        return definition
    select = next((i for i in top if tokens[i].keyword == "SELECT"), None)
    if select is None:
        return definition
    from_ = next((i for i in top if i > select and tokens[i].keyword == "FROM"), None)
    if from_ is None:
        return definition
    end = next((i for i in top if i > from_ and (tokens[i].keyword in _FROM_END or tokens[i].text == ";")), len(tokens))
    item = [i for i in top if from_ < i < end]
    if any(tokens[i].text == "," or tokens[i].keyword in ("JOIN", "ON", "USING") for i in item):
        return definition
    refname = _refname([tokens[i] for i in item])
    if refname is None:
        return definition
    significant = [i for i, t in enumerate(tokens) if t.kind != "space"]
    drop: set[int] = set()
    padded = [*significant, None]
    for k in range(len(significant) - 2):
        a, b, c, d = significant[k], significant[k + 1], significant[k + 2], padded[k + 3]
        if from_ <= a < end or tokens[a].in_subquery:
            continue
        if tokens[a].text != refname or tokens[b].text != "." or not tokens[c].is_name:
            continue
        if (d is not None and tokens[d].text == "(") or (a > 0 and _previous_text(tokens, a) == "."):
            continue  # a function of a schema named like the relation, or part of a longer name
        drop.update((a, b))
    return "".join(t.text for i, t in enumerate(tokens) if i not in drop)


def _previous_text(tokens: list[_Token], index: int) -> str:
    for t in reversed(tokens[:index]):
        if t.kind != "space":
            return t.text
    return ""


def _refname(item: list[_Token]) -> str | None:
    """The name a lone FROM item is referred to by: its alias, else the relation or function name.

    ``item`` holds the FROM item's tokens outside parentheses (a parenthesis group shows as its
    "(" and ")" tokens).
    """
    units = [t for t in item if t.kind != "space"]
    # Leading ONLY / LATERAL, and a trailing TABLESAMPLE clause, say nothing of the name.
    while units and units[0].keyword in ("ONLY", "LATERAL"):
        units = units[1:]
    cut = next((k for k, t in enumerate(units) if t.keyword == "TABLESAMPLE"), len(units))
    units = units[:cut]
    # Fold each parenthesis group into one "()" unit.
    folded: list[str] = []
    for t in units:
        if t.text == ")":
            continue
        folded.append("()" if t.text == "(" else t.text)
    if folded and folded[-1] == "()":
        if len(folded) >= 3 and folded[-2] not in ("()", ".") and folded[-3] != ".":
            return folded[-2]  # "func(args) alias(columns)", "(SELECT ...) alias(columns)"
        folded = folded[:-1]  # "func(args)": named after the function
    if folded and folded[-1] not in ("()", "."):
        return folded[-1]
    return None
