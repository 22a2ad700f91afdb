"""Order migration folder names exactly like Prisma does, or refuse.

Why this exists
---------------
Prisma Migrate (``packages/migrate/src/utils/listMigrations.ts``) orders the
folders of ``prisma/migrations`` with::

    migrationDirectories.sort((a, b) => a.path.localeCompare(b.path))

``localeCompare`` is called without a locale argument, so Node.js uses ICU
collation for its *default* locale.  That is not byte order: ICU compares
case-insensitively first, sorts punctuation before digits before letters and
only breaks remaining ties by case (lowercase first).  ``"20240101000000_b"``
sorts *before* ``"20240101000000_C"`` for Prisma although ``"C" < "b"`` in
byte order.  safemigrate must apply migrations in Prisma's order, so it
emulates that comparison here, without ever calling Node.

What is emulated
----------------
ICU root collation (which is what Node uses for ``en-US`` and most other
locales) at its default strength (tertiary, ``alternate=non-ignorable``,
``caseFirst`` off, ``numeric`` off), restricted to printable ASCII
(U+0020..U+007E).  Measured with Node 20 / ICU 78 (``tests/test_collation.py``
re-checks it against Node on thousands of random names):

* Every printable ASCII character has exactly one collation element with a
  non-zero primary weight; there are no contractions between ASCII
  characters.  Primary order (each position strictly greater than the
  previous one, letters case-insensitive)::

      space _ - , ; : ! ? . ' " ( ) [ ] { } @ * / \\ & # % ` ^ + < = > | ~ $
      0 1 2 3 4 5 6 7 8 9  a/A b/B ... z/Z

* Strings are compared on the whole primary sequence first (a proper prefix
  sorts first), so ``"a_b" < "aB" < "ab_"``; digits are compared one by one
  (``numeric`` is off), so ``"10" < "9"``.
* Only if the primary sequences are equal (the names are equal ignoring
  case) does the tertiary level decide: the first position where the case
  differs, lowercase before uppercase: ``"a_b" < "a_B"``, ``"aB" < "Ab"``.
* Two different printable-ASCII strings never compare equal, so the order is
  total and independent of the order the directory listing came in.

Limits (the reasons :func:`sort_like_prisma` may refuse)
--------------------------------------------------------
* Characters outside printable ASCII are not emulated.  Control characters
  are *completely ignorable* in ICU (``"a\\x01b"`` compares equal to ``"ab"``,
  after which the stable JS sort keeps readdir order), non-ASCII letters
  interleave with ASCII ones (``"é"`` sorts with ``"e"``), and contractions
  exist (``"l·"``).
* The emulation assumes Node runs with a root-collation locale.  Node takes
  its default locale from ``LC_ALL``, ``LC_MESSAGES`` or ``LANG`` (not from
  ``LC_COLLATE``), and some locales tailor even ASCII (e.g. ``da``/``nb``:
  ``"aa"`` sorts after ``"z"`` and uppercase first; ``lt``: ``"y"`` with
  ``"i"``; ``cs``/``sk``: ``"ch"`` after ``"h"``; also az, br, bs, cy, et,
  fo, hr, hu, lv, mt, sq, th, tr, ...).  This module cannot see the locale of
  the machine that will run Prisma.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

__all__ = [
    "PROVEN_CHARACTERS",
    "UnorderableNamesError",
    "is_emulated_name",
    "prisma_sort_key",
    "sort_like_prisma",
]

# Printable ASCII characters in ICU root primary order; a letter stands for
# both its cases.
_PRIMARY_ORDER = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz"

_PRIMARY: dict[str, int] = {}
_TERTIARY: dict[str, int] = {}
for _weight, _char in enumerate(_PRIMARY_ORDER, start=1):
    _PRIMARY[_char] = _weight
    _TERTIARY[_char] = 0
    if _char.islower():
        _PRIMARY[_char.upper()] = _weight
        _TERTIARY[_char.upper()] = 1  # uppercase after lowercase
del _weight, _char

#: The characters the emulation is proven for: U+0020..U+007E.
PROVEN_CHARACTERS: frozenset[str] = frozenset(chr(c) for c in range(0x20, 0x7F))

if frozenset(_PRIMARY) != PROVEN_CHARACTERS:  # pragma: no cover - table sanity
    raise AssertionError("collation table does not cover printable ASCII exactly")


class UnorderableNamesError(ValueError):
    """Prisma's order of some names cannot be determined with certainty.

    ``names`` holds the offending names (those containing characters outside
    printable ASCII whose position is ambiguous), in input order.  ``pairs``
    holds the pairs whose relative order is unknown (possibly truncated to
    the first few).
    """

    names: tuple[str, ...]
    pairs: tuple[tuple[str, str], ...]

    def __init__(
        self,
        names: Iterable[str],
        pairs: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.names = tuple(names)
        self.pairs = tuple(pairs)
        message = (
            "cannot determine Prisma's (ICU localeCompare) order of migration "
            "names containing characters outside printable ASCII: " + ", ".join(repr(n) for n in self.names)
        )
        if self.pairs:
            shown = "; ".join(f"{a!r} vs {b!r}" for a, b in self.pairs[:5])
            more = len(self.pairs) - 5
            message += f" (ambiguous: {shown}{f'; and {more} more' if more > 0 else ''})"
        super().__init__(message)

    def __reduce__(
        self,
    ) -> tuple[type[UnorderableNamesError], tuple[tuple[str, ...], tuple[tuple[str, str], ...]]]:
        return (type(self), (self.names, self.pairs))


def is_emulated_name(name: str) -> bool:
    """True if every character of ``name`` is printable ASCII."""
    return all(c in PROVEN_CHARACTERS for c in name)


def prisma_sort_key(name: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Return a key that orders printable-ASCII names like ``localeCompare``.

    The key is ``(primary weights, tertiary weights)``: Python's tuple
    comparison then compares the whole primary sequence first (shorter prefix
    first) and, only for names equal ignoring case (same length), the case
    pattern with lowercase first.  Raises :class:`UnorderableNamesError` if
    ``name`` contains any other character.
    """
    try:
        primary = tuple(_PRIMARY[c] for c in name)
        tertiary = tuple(_TERTIARY[c] for c in name)
    except KeyError:
        raise UnorderableNamesError((name,)) from None
    return primary, tertiary


def _decided_by_ascii_primary(a: str, b: str) -> int | None:
    """Compare two names by the rule for names with unemulated characters.

    Returns -1/1 if the order is certain, ``None`` if it is not.  See
    :func:`sort_like_prisma` for the rule and why it is safe.
    """
    for ca, cb in zip(a, b, strict=False):  # stops at the shorter name
        pa = _PRIMARY.get(ca)
        pb = _PRIMARY.get(cb)
        if pa is None or pb is None:
            return None  # an unemulated character before the decision point
        if pa != pb:
            return -1 if pa < pb else 1
    return None  # equal primaries up to the shorter length: the rest decides


def sort_like_prisma(names: Iterable[str]) -> list[str]:
    """Sort migration names the way Prisma does, or raise.

    Names made of printable ASCII only are sorted with
    :func:`prisma_sort_key`.  A name containing any other character is
    accepted only if, against every other name, the order is settled by the
    *rule*: walking both names from the start, the first position where the
    two characters have different primary weights is reached while both
    names still consist of printable ASCII (that position included).  The
    order is then the order of those two primary weights.  If a name with
    unemulated characters is ambiguous against any name, nothing is sorted:
    :class:`UnorderableNamesError` is raised with the offending names.

    Why the rule is safe: ICU compares the complete primary weight sequence
    before looking at any secondary or tertiary weight, so the first
    differing primary decides.  Up to and including that position both names
    are printable ASCII, whose primaries are emulated exactly and do not form
    contractions with each other.  Characters after it cannot change those
    primaries: whatever follows only appends later weights, except through a
    contraction starting at an ASCII character.  The only such contractions
    in CLDR root are ``L``/``l`` + U+00B7/U+0387, which keep the primary of
    ``L``; and for every printable ASCII ``c`` and every code point ``u``,
    ``c + u`` was checked (Node 20, ICU 78, 105 million pairs) to sort
    strictly after everything starting with the primary predecessor of ``c``
    and before its primary successor.  The rule does not apply when one name
    is a primary-prefix of the other (``"abc"`` vs ``"abc\\x01"`` compare
    *equal* in ICU because control characters are ignorable) or when the
    names differ only in case or in unemulated characters.

    Agreement with byte order is deliberately *not* used as evidence: byte
    order and ICU order disagree even on pure ASCII, so such agreement proves
    nothing about unemulated characters.
    """
    items = list(names)
    unemulated = [n for n in items if not is_emulated_name(n)]
    if not unemulated:
        return sorted(items, key=prisma_sort_key)

    distinct = list(dict.fromkeys(items))
    offending: set[str] = set()
    ambiguous: list[tuple[str, str]] = []
    seen_pairs: set[tuple[str, str]] = set()
    for name in dict.fromkeys(unemulated):
        for other in distinct:
            if other == name:
                continue
            pair = (name, other) if name < other else (other, name)
            if pair in seen_pairs:
                continue
            seen_pairs.add(pair)
            if _decided_by_ascii_primary(name, other) is None:
                offending.add(name)
                if not is_emulated_name(other):
                    offending.add(other)
                ambiguous.append((name, other))
    if offending:
        raise UnorderableNamesError((n for n in dict.fromkeys(items) if n in offending), ambiguous)

    def compare(a: str, b: str) -> int:
        if a == b:
            return 0
        if is_emulated_name(a) and is_emulated_name(b):
            ka, kb = prisma_sort_key(a), prisma_sort_key(b)
            return -1 if ka < kb else 1
        decided = _decided_by_ascii_primary(a, b)
        if decided is None:  # pragma: no cover - excluded by the check above
            raise UnorderableNamesError((a, b), ((a, b),))
        return decided

    return sorted(items, key=functools.cmp_to_key(compare))
