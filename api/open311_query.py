"""The filters of Open311 ``GET requests``, checked: ``service_request_id`` (overrides the
rest), ``service_code``, ``start_date`` / ``end_date`` (at most 90 days; default the last 90),
``status``, and the common ``page`` / ``page_size`` extension (at most 1,000 a page).

A comma-separated list with an empty item (``a,,b``, ``,``, or nothing at all) is refused: read
as "no filter" it would answer everything. A ``service_code`` outside the catalogue is kept as
a category to look for: requests of categories no service covers (phoned in, imported) carry
their category as their ``service_code``, and every code the API answers must work as a filter
(``service_requests.unknown_categories`` says which of them no case has)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.datastructures import QueryParams

from civicloop.api.catalogue import Catalogue
from civicloop.api.errors import ApiError, Problem, not_found, shorten
from civicloop.api.service_requests import Query
from civicloop.api.text import whole

MAX_SPAN = timedelta(days=90)
MAX_PAGE = 1000
SEARCH_PARAMS = frozenset(
    {
        "service_request_id",
        "service_code",
        "start_date",
        "end_date",
        "status",
        "page",
        "page_size",
        "jurisdiction_id",
        "api_key",
    }
)


def parse(params: QueryParams, catalogue: Catalogue) -> Query:
    """The GET requests filters, each checked; every problem is named at once."""
    known = ", ".join(sorted(SEARCH_PARAMS))
    problems = [
        Problem(f"unknown parameter {shorten(name)} (known: {known})", name)
        for name in params
        if name not in SEARCH_PARAMS
    ]
    values = {name: ",".join(params.getlist(name)) for name in SEARCH_PARAMS if name in params}
    check_jurisdiction(catalogue, values.get("jurisdiction_id"))
    ids = _listed(values, "service_request_id", problems)
    page = _number(values, "page", 1, 10**6, problems)
    size = _number(values, "page_size", MAX_PAGE, MAX_PAGE, problems)
    start, end = _period(values, problems)
    codes = _listed(values, "service_code", problems)
    categories = None
    if codes is not None:
        categories = tuple(s.category if (s := catalogue.service(c)) else c for c in codes)
    statuses = _listed(values, "status", problems) or ("open", "closed")
    if not set(statuses) <= {"open", "closed"}:
        problems.append(Problem(f"status {shorten(values['status'])}: use open, closed or both", "status"))
    if ids is not None and len(ids) > MAX_PAGE:
        problems.append(Problem(f"at most {MAX_PAGE} service_request_id at once", "service_request_id"))
    if problems:
        raise ApiError(400, problems)
    return Query(start, end, categories, tuple(statuses), page, size, ids)


def check_jurisdiction(catalogue: Catalogue, given: str | None) -> None:
    """404 for a jurisdiction other than the catalogue's; every Open311 endpoint checks it alike."""
    wanted = catalogue.jurisdiction_id
    if given and wanted and given != wanted:
        raise not_found(
            f"jurisdiction_id {shorten(given)} not found: this endpoint serves {wanted!r}", "jurisdiction_id"
        )


def _listed(values: dict[str, str], name: str, problems: list[Problem]) -> tuple[str, ...] | None:
    """The comma-separated items of ``name``; None when it was not given."""
    value = values.get(name)
    if value is None:
        return None
    items = tuple(v.strip() for v in value.split(","))
    if not all(items):
        problems.append(
            Problem(
                f"{name} {shorten(value)} has an empty item: give one or more values separated "
                "by single commas, or leave the parameter out",
                name,
            )
        )
        return None
    return items


def _number(values: dict[str, str], name: str, default: int, most: int, problems: list[Problem]) -> int:
    text = values.get(name, "").strip()
    if not text:
        return default
    number = whole(text)  # ASCII digits: str.isdigit() takes '²', which int() then refuses
    if number is None or not 1 <= number <= most:
        problems.append(Problem(f"{name} {shorten(text)} must be a whole number from 1 to {most}", name))
        return default
    return number


def _period(values: dict[str, str], problems: list[Problem]) -> tuple[datetime, datetime]:
    """[start, end] of requested_datetime: default the last 90 days, never more than 90."""
    given_start = _moment(values, "start_date", problems)
    given_end = _moment(values, "end_date", problems)
    if given_start is None:
        end = given_end or datetime.now(UTC)
        start = end - MAX_SPAN
    else:
        start, end = given_start, given_end or given_start + MAX_SPAN
    if end < start:
        problems.append(Problem("end_date is before start_date", "end_date"))
    elif end - start > MAX_SPAN:
        problems.append(Problem("start_date to end_date may not span more than 90 days", "end_date"))
    return start, end


def _moment(values: dict[str, str], name: str, problems: list[Problem]) -> datetime | None:
    text = values.get(name, "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        problems.append(
            Problem(
                f"{name} {shorten(text)} is not a W3C date-time with a time zone, e.g. 2010-01-01T00:00:00Z",
                name,
            )
        )
        return None
    return moment.astimezone(UTC)
