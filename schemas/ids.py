"""What an id may contain: one rule for every id and code civicloop accepts (docs/TRUST.md §1).

Ids travel into SQL look-ups, URL paths, log lines, terminals, CSV files and the dashboard; a
NUL, an escape sequence, a quote or a right-to-left override inside one hides or fakes what an
operator reads (``C-1\\u202e2-C`` shows as ``C-1C-2``). The SDK (``new_event``: producers,
importers, the API) refuses what breaks these rules, and the worker dead-letters it as
``invalid:<field>``; the API checks the case ids in its paths with the same functions.

* **Ids** — ``event_id``, ``case_id``, ``task_id``, ``duplicate_of``: 1 to ``MAX_ID``
  characters, each a letter, combining mark or digit of any script, or one of ``- _ . :``.
  No spaces, quotes, backslashes, slashes (an id is one segment of an API path), controls or
  invisible characters. Real ids look like ``nyc-43000001``, ``bal-18-00269879``, ``sr-1f…``,
  ``C-7-t2``, ``京-2024-000123``.
* **Codes** — every other id-like field (actor id, source, category, department, district,
  grid, reporter, key id, address id, approver, deadline policy): up to ``MAX_ID`` printable
  characters. Refused: control characters (C0, DEL, C1: Unicode category Cc), format
  characters (Cf: bidi embeddings, overrides and isolates U+202A–202E and U+2066–2069, the
  marks U+200E/200F/061C, zero-width U+200B–200D, U+FEFF, …), line and paragraph separators
  (Zl, Zp) and lone surrogates (Cs). Spaces, quotes and any script stay allowed: codes come
  from cities' exports ("Noise - Residential", "Mayor's Office").

Free text (``description``, ``note``, ``location.address``) is not an id: only its length is
bounded (``limits.MAX_TEXT``).
"""

from __future__ import annotations

import re
import unicodedata

#: characters of ids and codes (the worker looks cases up by id; a 300 KB id once exceeded
#: ClickHouse's query size)
MAX_ID = 128
#: the fields that hold ids (top-level names; everything else bounded by MAX_ID is a code)
ID_FIELDS = frozenset({"event_id", "case_id", "task_id", "duplicate_of"})
#: the characters other than letters, marks and digits an id may hold
ID_PUNCTUATION = "-_.:"
ID_ALLOWED = f"letters, digits and {' '.join(ID_PUNCTUATION)} only (no spaces, quotes, slashes or controls)"
CODE_ALLOWED = "printable characters only (no control, format or bidi characters)"

# The worker checks every id of every event it decodes: plain ASCII ids take one regex.
_ASCII_ID = re.compile(r"[0-9A-Za-z_.:\-]+")
_ID_CATEGORIES = "LMN"  # letters, marks, numbers (the first letter of a Unicode category)
_CODE_REFUSED = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def id_problem(value: str) -> str | None:
    """None when ``value`` is a valid id, else what is wrong with it (its length aside)."""
    if _ASCII_ID.fullmatch(value):
        return None
    if not value:
        return "must not be empty"
    for position, char in enumerate(value):
        if char.isascii():
            allowed = char.isalnum() or char in ID_PUNCTUATION
        else:
            allowed = unicodedata.category(char)[0] in _ID_CATEGORIES
        if not allowed:
            return f"{_named(char)} at position {position} is not allowed: {ID_ALLOWED}"
    return None


def code_problem(value: str) -> str | None:
    """None when ``value`` is a valid code, else what is wrong with it (its length aside)."""
    if value.isascii() and value.isprintable():
        return None
    for position, char in enumerate(value):
        if unicodedata.category(char) in _CODE_REFUSED:
            return f"{_named(char)} at position {position} is not allowed: {CODE_ALLOWED}"
    return None


def _named(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" ({name})" if name else "")
