"""What text and numbers a client may send, one rule for every part of the API.

Text is Unicode without control characters: no C0 (U+0000-U+001F) but tab and line breaks
where a field allows several lines, no DEL, no C1 (U+0080-U+009F, U+0085 NEXT LINE among
them), no lone surrogates (what a decoder makes of bytes that are not UTF-8). Numbers are
ASCII decimal text — ``float()`` would also read Arabic-Indic digits, ``1_0`` and ``1e-400``
(as 0.0) — finite, and not so small that they would be stored as zero.
"""

from __future__ import annotations

import math
import re

#: any control character (C0, DEL, C1) or surrogate
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
#: the same, less tab and line breaks (for fields that may hold several lines)
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_NUMBER = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?$")
_DECIMAL = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")
_WHOLE = re.compile(r"^[0-9]{1,18}$")
LONGEST_NUMBER = 64


def problem(value: str, multiline: bool = False) -> str | None:
    """What is wrong with ``value`` as text (None when nothing is). ``multiline`` allows tab,
    CR and LF; without it a tab is still refused along with line breaks."""
    found = (_CONTROL_MULTILINE if multiline else _CONTROL).search(value)
    if found is None:
        return None
    char = found.group()
    if 0xD800 <= ord(char) <= 0xDFFF:
        return "is not valid UTF-8 text"
    if char in "\n\r":
        return "contains a line break (this field is one line)"
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
