"""What text and numbers a client may send, one rule for every part of the API.

Text is Unicode without control characters: no C0 (U+0000-U+001F) but tab and line breaks
where a field allows several lines, no DEL, no C1 (U+0080-U+009F, U+0085 NEXT LINE among
them), no bidi embeddings, overrides or isolates (U+202A-202E, U+2066-2069), no line or
paragraph separator (U+2028/2029) in one line, no lone surrogates (what a decoder makes of
bytes that are not UTF-8): the event contract's rule for free text (``schemas/ids.py``), so
what the API takes an event takes too. Numbers are ASCII decimal text — ``float()`` would
also read Arabic-Indic digits, ``1_0`` and ``1e-400`` (as 0.0) — finite, and not so small
that they would be stored as zero.
"""

from __future__ import annotations

import math
import re
import unicodedata

from civicloop.schemas.ids import refused_in_text

_NUMBER = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?$")
_DECIMAL = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")
_WHOLE = re.compile(r"^[0-9]{1,18}$")
LONGEST_NUMBER = 64


def problem(value: str, multiline: bool = False) -> str | None:
    """What is wrong with ``value`` as text (None when nothing is). ``multiline`` allows tab,
    CR and LF; without it a tab is still refused along with line breaks."""
    found = refused_in_text(value, multiline)
    if found is None:
        return None
    _, char = found
    if 0xD800 <= ord(char) <= 0xDFFF:
        return "is not valid UTF-8 text"
    if char in "\n\r\u2028\u2029":
        return "contains a line break (this field is one line)"
    if unicodedata.category(char) == "Cf":
        return f"contains the bidi control U+{ord(char):04X} ({unicodedata.name(char)})"
    return f"contains the control character U+{ord(char):04X}"


def number(text: str, decimal_only: bool = False) -> float | None:
    """``text`` as a finite float, or None: ASCII digits, an optional sign, point and
    (unless ``decimal_only``) exponent; never one that overflows or underflows to zero."""
    if len(text) > LONGEST_NUMBER:
        return None
    found = (_DECIMAL if decimal_only else _NUMBER).match(text)
    if found is None:
        return None
    value = float(text)
    if not math.isfinite(value):
        return None
    mantissa = text.split("e")[0].split("E")[0]
    if value == 0.0 and any(c in "123456789" for c in mantissa):
        return None  # underflow: a non-zero number too small for a double
    return value


def whole(text: str) -> int | None:
    """``text`` as a non-negative integer of ASCII digits, or None (``"١٢"`` and ``"²"`` are not)."""
    return int(text) if _WHOLE.match(text) else None
