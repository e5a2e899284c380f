"""Open311 GeoReport v2 documents in XML (the required format) and JSON, chosen by suffix.

The JSON is the programmatic mapping of the XML the spec prescribes (its "Spark convention"):
a list container such as ``<services>`` holds repeated ``<service>`` elements and becomes a
JSON array; a record becomes an object. XML carries ``<?xml version="1.0" encoding="utf-8"?>``,
no namespace; empty or absent values are empty elements (``null`` in JSON); booleans are
``true``/``false``; times are ISO 8601 with their offset.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any, Literal

from starlette.responses import Response

Format = Literal["xml", "json"]
FORMATS: tuple[str, ...] = ("xml", "json")
MEDIA_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
#: each list container of the spec and the element its items are written as
ITEM = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}
_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'


def render(root: str, data: Any, fmt: Format, status: int = 200) -> Response:
    """``data`` (a list for list containers, else a dict) as the ``root`` document."""
    if fmt == "json":
        body = json.dumps(data, ensure_ascii=False, default=_text)
    else:
        body = _DECLARATION + ET.tostring(_element(root, data), encoding="unicode")
    return Response(body.encode(), status_code=status, media_type=MEDIA_TYPES[fmt])


def _element(tag: str, value: Any) -> ET.Element:
    element = ET.Element(tag)
    if isinstance(value, list):
        item = ITEM[tag]
        element.extend(_element(item, v) for v in value)
    elif isinstance(value, dict):
        element.extend(_element(k, v) for k, v in value.items())
    elif value is not None:
        element.text = _text(value)
    return element


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return w3c(value)
    return str(value)


def w3c(moment: datetime) -> str:
    """ISO 8601 with the offset (``Z`` for UTC), seconds precision, as the spec's examples."""
    text = moment.isoformat(timespec="seconds")
    return text.replace("+00:00", "Z")


def split_format(name: str) -> tuple[str, Format | None]:
    """``"services.json"`` → ("services", "json"); an unknown or missing suffix → (name, None)."""
    stem, dot, suffix = name.rpartition(".")
    if dot and suffix in FORMATS:
        return stem, suffix  # type: ignore[return-value]
    return name, None
