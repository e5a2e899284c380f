"""A pool of fold processes stopped while they wait for states the writer cannot look up (its
store is gone): each process ends on the writer's STOP, instead of waiting for an answer that
never comes until the writer kills it (five seconds a process, at every retry of the batch and
again in a worker's SIGTERM stop, when the store is gone under a worker: tests/e2e/test_shutdown)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from civicloop.projections.backend import open_store
from civicloop.projections.parallel import ParallelProjector
from civicloop.projections.parallel.pool import FoldProcess
from civicloop.projections.projector import RawMessage
from civicloop.projections.store.base import Row
from civicloop.schemas.codec import encode
from tests.support import case_events as ev

pytestmark = pytest.mark.integration


def test_fold_processes_waiting_for_a_failed_look_up_end_on_the_writers_stop(tmp_path: Path) -> None:
    store = open_store(f"chdb://{tmp_path / 'chdb'}")
    try:
        store.lay_out("pool_stop")
        projector = ParallelProjector(store, "pool_stop", lambda letters: None, 2)
        # cases of both processes, none known yet: each process asks the writer for states
        events = [ev.reported(ev.at(0), f"C-{n}") for n in range(20)]
        batch = [RawMessage("t", 0, n, e.case_id.encode(), encode(e), 0) for n, e in enumerate(events)]
        asked: list[FoldProcess] = []

        def gone(case_ids: list[str]) -> list[Row]:
            asked[:] = projector.pool.processes
            raise ConnectionError("the store is gone")

        with pytest.raises(ConnectionError):
            projector.pool.fold(batch, datetime.now(UTC), gone)

        assert len(asked) == 2 and projector.pool.processes == []
        # each ended by itself (exit code 0), none was killed (-9) after the stop's wait
        assert [child.process.exitcode for child in asked] == [0, 0]
    finally:
        store.close()
