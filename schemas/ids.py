"""What an id, a code or free text may contain: one rule each for every such field civicloop accepts
(docs/TRUST.md §1).

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

* **Free text** — ``description``, ``note``, ``comment`` (several lines), ``location.address``
  and ``media_url`` (one line): any character of any script, spaces, quotes, emoji and the
  invisible joiners and marks scripts need (U+200C/200D, U+200E/200F), up to its length
  (``limits.MAX_TEXT``). Refused: control characters (C0, DEL, C1 — U+0085 NEXT LINE among
  them) except tab, CR and LF where several lines are allowed; the bidi embeddings, overrides
  and isolates (U+202A–202E, U+2066–2069: ``pay\u202e001$`` shows as ``pay$100``); lone
  surrogates; and in one-line text also the line and paragraph separators U+2028/2029. The
  handling API applies the same rule to every text it is sent (``api/text.py``).
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


#: the free-text fields that may hold several lines (tab, CR and LF)
MULTILINE = frozenset({"description", "note", "comment"})
TEXT_ALLOWED = (
    "no control characters (but tab and line breaks where several lines are allowed) or bidi overrides"
)
#: bidi embeddings, overrides (U+202A-202E) and isolates (U+2066-2069)
BIDI_CONTROLS = r"\u202a-\u202e\u2066-\u2069"
_TEXT_REFUSED = re.compile(rf"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{BIDI_CONTROLS}\ud800-\udfff]")
_LINE_REFUSED = re.compile(rf"[\x00-\x1f\x7f-\x9f\u2028\u2029{BIDI_CONTROLS}\ud800-\udfff]")


def refused_in_text(value: str, multiline: bool) -> tuple[int, str] | None:
    """The first character free text may not hold (its position and the character), or None."""
    found = (_TEXT_REFUSED if multiline else _LINE_REFUSED).search(value)
    return None if found is None else (found.start(), found.group())


def text_problem(value: str, multiline: bool) -> str | None:
    """None when ``value`` is valid free text, else what is wrong with it (its length aside)."""
    found = refused_in_text(value, multiline)
    if found is None:
        return None
    position, char = found
    if char in "\t\n\r\u2028\u2029":
        return f"{_named(char)} at position {position} is not allowed: the field is one line"
    return f"{_named(char)} at position {position} is not allowed: {TEXT_ALLOWED}"


def shown(value: str) -> str:
    """``value`` with each character free text may not hold (tab and line breaks aside) written
    as ``⟨U+XXXX⟩``: text an older revision of the contract accepted, made visible wherever it is
    shown or exported (the console's and the dashboard's ``shown()`` do the same in the browser)."""
    return _TEXT_REFUSED.sub(lambda found: f"⟨U+{ord(found.group()):04X}⟩", value)


#: how a spreadsheet starts a formula (OWASP "CSV injection"): a cell of text beginning with one
#: of these is read as one by Excel, LibreOffice and Google Sheets
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: str) -> str:
    """Text as a CSV cell a person may open in a spreadsheet: refused characters made visible
    (``shown``), and a leading formula character kept as text by a ``'`` before it."""
    text = shown(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _named(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" ({name})" if name else "")
