"""Ordinary catch-up at scale: a worker started behind 20,000 events of 20,000 cases with
64-character ids projects every one (the state look-up of a whole batch never outgrows the
store's query size). On chDB: that the server's own query size holds a whole batch's look-up
is tests/component/test_projector_trust.py's (20,000 ids in one look-up, both backends,
through the same StateStore that answers the fold processes here)."""

from __future__ import annotations

import pytest

from civicloop.config import Config
from tests.support import case_events as ev
from tests.support.workers import Worker, produce, wait_projected

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parallel_fold("the fold processes' look-ups, chunked by the writing process"),
]
CASES = 20_000


def test_a_worker_started_behind_20000_events_with_64_character_ids_projects_them_all(config: Config) -> None:
    ids = [f"catch-up-{n:055d}" for n in range(CASES)]
    assert {len(cid) for cid in ids} == {64}
    offsets = produce(config, (ev.reported(ev.at(n / 3600), cid) for n, cid in enumerate(ids)))
    assert sum(offset + 1 for offset in offsets.values()) == CASES

    worker = Worker(config).start()
    try:
        wait_projected(config, offsets, 600)
        reader = worker.reader()
        db = config.database
        assert reader.query(f"SELECT count(), uniqExact(case_id) FROM {db}.case_lifecycle FINAL") == [
            (CASES, CASES)
        ]
        assert reader.query(f"SELECT count() FROM {db}.dead_letters") == [(0,)]
    finally:
        worker.kill()  # teardown: stopping gracefully is test_shutdown's
