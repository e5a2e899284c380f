"""Reading the parts of a request every router checks the same way: the Idempotency-Key
header, form bodies and moments given as ISO text."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from civicloop.api.errors import bad_request

_IDEMPOTENCY = re.compile(r"^[\x21-\x7e]{1,200}$")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MAX_FIELDS = 200


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
    body = await request.body()
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        # starlette would read such bytes as Latin-1 (b"\xff\xfe" as "ÿþ"): refused, never altered
        raise bad_request(f"the form body is not UTF-8: {exc.reason} at byte {exc.start}", "body") from None
    if content_type == FORM_TYPES[0]:
        return _urlencoded(body)
    try:
        return await request.form(max_files=0, max_fields=MAX_FIELDS)
    except Exception as exc:
        raise bad_request(f"the form body cannot be read: {str(exc) or type(exc).__name__}", "body") from None


def _urlencoded(body: bytes) -> FormData:
    """The fields of an application/x-www-form-urlencoded body; percent-escapes must decode as
    UTF-8 (starlette would replace a bad one with U+FFFD)."""
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),  # checked by the caller
            keep_blank_values=True,
            strict_parsing=False,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except UnicodeDecodeError as exc:
        raise bad_request(f"a form field is not UTF-8 once percent-decoded: {exc.reason}", "body") from None
    except ValueError as exc:  # more than MAX_FIELDS fields
        raise bad_request(f"the form body cannot be read: {exc}", "body") from None
    fields: list[tuple[str, str | UploadFile]] = list(pairs)
    return FormData(fields)


def utc(value: str) -> datetime:
    """An ISO date or date-time, in UTC (UTC when it has no offset); ValueError when it is neither."""
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def moment(value: str | None, name: str) -> datetime | None:
    """The moment parameter ``name`` gives (None: not given); 400 naming it when it is no ISO
    date or date-time."""
    if value is None:
        return None
    try:
        return utc(value)
    except ValueError:
        raise bad_request(
            f"{name} {value!r} is not an ISO date or date-time (e.g. 2026-05-01)", name
        ) from None
