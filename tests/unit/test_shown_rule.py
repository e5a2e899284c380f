"""The console's and the dashboard's ``shown()`` name the same characters as the Python rule
(``schemas.ids.shown``, the contract's free-text rule): three copies of one character class —
the browser cannot import Python — kept equal by this test, character by character."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from civicloop.schemas.ids import shown

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = [ROOT / "api/console/static/console.js", ROOT / "api/dashboard/static/common.js"]
#: every character of the Basic Multilingual Plane but the surrogates (a JS string's unit)
BMP = [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_the_pages_name_exactly_the_characters_the_contract_refuses(script: Path) -> None:
    found = re.search(r"const HIDDEN = /(\[[^\]]+\])/g;", script.read_text(encoding="utf-8"))
    assert found, f"{script.name} no longer defines HIDDEN as this test reads it"
    hidden = re.compile(found.group(1))  # JS's \uXXXX escapes mean the same in Python's re
    differ = [f"U+{ord(c):04X}" for c in BMP if bool(hidden.fullmatch(c)) != (shown(c) != c)]
    assert not differ, f"{script.name} and schemas.ids disagree on {differ[:10]}"
