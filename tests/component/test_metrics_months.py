"""A period's metrics read only the months that can count in it, and stay exact (docs/DESIGN.md
§7): on chDB and on ClickHouse 18.16, a simulated city of ten weeks across three months,
projected by the projector in batches with redeliveries and then replayed whole, gives for every
period — a calendar month, a period across a month boundary, a day at a boundary, the weeks after
the last report — the reference's metrics; and the month's query skips months it cannot need."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime

import pytest

from civicloop.projections.metrics import months
from civicloop.projections.metrics.closed_loop import metrics
from civicloop.projections.parallel import ParallelProjector
from civicloop.projections.projector import Projector, RawMessage
from civicloop.projections.store.base import Store
from civicloop.projections.tables import schema
from civicloop.schemas.codec import decode, encode
from civicloop.tools.simulate.engine import simulate
from tests.support.reference_metrics import reference_metrics

pytestmark = pytest.mark.integration
TOPIC = "ns.case-events"
START = datetime(2025, 1, 12, tzinfo=UTC)
NOW = datetime(2025, 5, 1, tzinfo=UTC)
PERIODS = [
    (datetime(2025, 2, 1, tzinfo=UTC), datetime(2025, 3, 1, tzinfo=UTC)),  # one month
    (datetime(2025, 1, 20, tzinfo=UTC), datetime(2025, 2, 20, tzinfo=UTC)),  # across a boundary
    (datetime(2025, 2, 28, 12, tzinfo=UTC), datetime(2025, 3, 1, 12, tzinfo=UTC)),  # a day across one
    (datetime(2025, 3, 23, tzinfo=UTC), None),  # after the last report: closures and feedback
    (None, datetime(2025, 2, 1, tzinfo=UTC)),
    (None, None),  # all time: the rollup
]


def stream(partitions: int = 3) -> list[RawMessage]:
    """Ten weeks of a simulated city as a topic of ``partitions`` partitions holds them."""
    offsets = [0] * partitions
    read = []
    for event in simulate(70, 4, 11, START):
        key = event.case_id.encode()
        partition = zlib.crc32(key) % partitions
        read.append(RawMessage(TOPIC, partition, offsets[partition], key, encode(event), 0))
        offsets[partition] += 1
    return read


def test_period_metrics_over_redelivered_and_replayed_batches_equal_the_reference(
    store: Store, database: str
) -> None:
    read = stream()
    events = [decode(m.value or b"") for m in read]
    live, rebuilt = database, f"{database}_rebuild"
    store.lay_out(live)
    store.lay_out(rebuilt)
    # given the stream projected in batches, each third batch delivered again (at-least-once),
    batches = [read[i : i + 40] for i in range(0, len(read), 40)]
    worker = Projector(store, live, lambda letters: None)
    for n, batch in enumerate(batches):
        worker.project(batch)
        if n % 3 == 2:
            worker.project(batches[n - 1] + batch)
    # then replayed over it by a projector with nothing cached, in larger batches,
    again = Projector(store, live, lambda letters: None)
    for i in range(0, len(read), 500):
        again.project(read[i : i + 500])
    # and rebuilt elsewhere as the replay does it: two fold processes, larger batches
    replay = ParallelProjector(store, rebuilt, lambda letters: None, 2)
    try:
        for i in range(0, len(read), 300):
            replay.project(read[i : i + 300])
    finally:
        replay.close()
    for db in (live, rebuilt):
        for t_from, t_to in PERIODS:
            for dim in ("department", "district", "all"):
                # then every period's metrics are the reference's, computed from the events alone
                assert metrics(store.query, db, dim, t_from, t_to, NOW) == reference_metrics(
                    events, dim, t_from, t_to, NOW
                ), (db, dim, t_from, t_to)
    february = PERIODS[0]
    reported = {e.case_id: e.occurred_at for e in events if e.type == "CaseReported"}
    closed_in_feb = [
        e.case_id for e in events if e.type == "CaseClosed" and february[0] <= e.occurred_at < february[1]
    ]
    # the test has teeth: February's figures count cases reported in January ...
    assert any(reported[c] < february[0] for c in closed_in_feb)
    # ... and February's query reads January and February but not March
    for db in (live, rebuilt):
        kept = months.keep(store.query, db, *february)
        assert kept[schema.CASE_LIFECYCLE] == months.condition("reported_at", [202501, 202502])


def test_kept_months_are_ranges_of_the_partition_column() -> None:
    assert months.condition("reported_at", []) == "0"
    assert months.condition("reported_at", [202412, 202501, 202503]) == (
        "((reported_at >= toDateTime('2024-12-01 00:00:00', 'UTC') AND "
        "reported_at < toDateTime('2025-02-01 00:00:00', 'UTC')) OR "
        "(reported_at >= toDateTime('2025-03-01 00:00:00', 'UTC') AND "
        "reported_at < toDateTime('2025-04-01 00:00:00', 'UTC')))"
    )
