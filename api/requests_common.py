"""Reading the parts of a request every router checks the same way: the Idempotency-Key
header and form bodies."""

from __future__ import annotations

import re

from starlette.datastructures import FormData
from starlette.requests import Request

from civicloop.api.errors import bad_request

_IDEMPOTENCY = re.compile(r"^[\x21-\x7e]{1,200}$")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def idempotency_key(request: Request) -> str | None:
    """The Idempotency-Key header (1-200 printable ASCII characters), or None."""
    value = request.headers.get("idempotency-key")
    if value is None:
        return None
    if not _IDEMPOTENCY.match(value):
        raise bad_request(
            "Idempotency-Key must be 1-200 printable ASCII characters without spaces (e.g. a UUID)",
            "Idempotency-Key",
        )
    return value


async def form(request: Request) -> FormData:
    """The request's form; 400 for another content type or a body that is no form."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in FORM_TYPES:
        raise bad_request(
            "send the request as application/x-www-form-urlencoded, "
            f"not {content_type or 'no content type'!r}",
            "Content-Type",
        )
    try:
        return await request.form(max_files=0, max_fields=200)
    except Exception as exc:
        raise bad_request(f"the form body cannot be read: {str(exc) or type(exc).__name__}", "body") from None
