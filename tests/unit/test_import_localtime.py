"""Reading export timestamps: the spellings cities use, and the documented DST rule."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from civicloop.tools.ingest.localtime import BadTimestamp, parse_naive, to_utc

NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("04/12/2018 11:11:26 AM", datetime(2018, 4, 12, 11, 11, 26)),
        ("12/25/2013 11:59:08 PM", datetime(2013, 12, 25, 23, 59, 8)),
        ("12/26/2013 12:15:00 AM", datetime(2013, 12, 26, 0, 15)),
        ("12/31/2013 12:05:00 PM", datetime(2013, 12, 31, 12, 5)),
        ("10/21/18 0:15", datetime(2018, 10, 21, 0, 15)),
        ("1/2/69 23:59", datetime(1969, 1, 2, 23, 59)),  # POSIX %y pivot
        ("12/25/2013 23:59", datetime(2013, 12, 25, 23, 59)),
        ("2019-03-10T02:30:00.000", datetime(2019, 3, 10, 2, 30)),
        ("2019-03-10 02:30:00", datetime(2019, 3, 10, 2, 30)),
    ],
)
def test_spellings_of_a_local_time(text: str, expected: datetime) -> None:
    assert parse_naive(text) == expected


@pytest.mark.parametrize(
    "text", ["", "04/12/2018", "2018-04-12", "13:00", "13/45/2018 10:00", "04/12/2018 13:00 PM", "soon"]
)
def test_what_is_not_a_timestamp_is_refused(text: str) -> None:
    with pytest.raises(BadTimestamp):
        parse_naive(text)


def test_explicit_formats_win() -> None:
    assert parse_naive("2018.04.12 07h05", ("%Y.%m.%d %Hh%M",)) == datetime(2018, 4, 12, 7, 5)
    with pytest.raises(BadTimestamp, match="formats"):
        parse_naive("04/12/2018 11:11:26 AM", ("%Y.%m.%d %Hh%M",))


def test_ordinary_times_need_no_rule() -> None:
    assert to_utc(datetime(2018, 7, 1, 12, 0), NY) == (datetime(2018, 7, 1, 16, 0, tzinfo=UTC), None)
    assert to_utc(datetime(2018, 1, 1, 12, 0), NY) == (datetime(2018, 1, 1, 17, 0, tzinfo=UTC), None)


def test_the_repeated_hour_reads_as_its_first_occurrence() -> None:
    assert to_utc(datetime(2018, 11, 4, 1, 30), NY) == (datetime(2018, 11, 4, 5, 30, tzinfo=UTC), "ambiguous")


def test_the_skipped_hour_moves_forward_by_the_gap() -> None:
    assert to_utc(datetime(2018, 3, 11, 2, 43, 56), NY) == (
        datetime(2018, 3, 11, 7, 43, 56, tzinfo=UTC),
        "nonexistent",
    )


def test_times_with_an_offset_are_taken_as_they_are() -> None:
    aware = parse_naive("2018-11-04T01:30:00-05:00")
    assert to_utc(aware, NY) == (datetime(2018, 11, 4, 6, 30, tzinfo=UTC), None)
