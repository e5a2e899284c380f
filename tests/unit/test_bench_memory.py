"""The benchmarks' memory figures are the measured process's own (``tools/bench/report.py``).

A replay runs in a spawned process; Linux carries the starting process's peak into
``ru_maxrss`` across exec, so the old figure showed the benchmark parent's peak (10 M simulated
events) as the replay's. These tests make a parent peak well above its child and check that
the child's figure is its own.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.connection import Connection

from civicloop.tools.bench import report
from civicloop.tools.local.process import wait_until

PARENT_PEAK_MB = 400
CHILD_MB = 200


def _touch(mb: int) -> bytearray:
    """``mb`` megabytes, every page written (so resident)."""
    block = bytearray(mb * 2**20)
    block[::4096] = b"\1" * len(block[::4096])
    return block


def test_a_spawned_process_reports_its_own_peak_not_the_one_of_the_process_that_started_it() -> None:
    # given a parent that has held 400 MB and let them go
    held = _touch(PARENT_PEAK_MB)
    del held
    assert report.peak_rss_mb() >= PARENT_PEAK_MB
    # when a spawned process (as the replay's) reads its peak
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        child_peak = pool.submit(report.peak_rss_mb).result()
    # then it is a fresh interpreter's, not the parent's
    assert 0 < child_peak < PARENT_PEAK_MB / 2


def _hold(mb: int, conn: Connection) -> None:
    held = _touch(mb)
    conn.send("holding")
    conn.recv()  # until the parent has seen it
    del held


def _watch_a_child(conn: Connection) -> None:
    """In a fresh interpreter (so no other child and no earlier test's memory): start a child
    that holds ``CHILD_MB`` and send back what the watch saw, this process's and its child's."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    with report.RssWatch(lambda: "holding", every=0.05) as watch:
        child = context.Process(target=_hold, args=(CHILD_MB, theirs))
        child.start()
        try:
            assert ours.poll(60) and ours.recv() == "holding"
            wait_until(lambda: watch.children_peak_mb >= CHILD_MB, 30, "the child's peak", interval=0.05)
        finally:
            ours.send("done")
            child.join(30)
    conn.send((watch.peak_mb, watch.children_peak_mb, child.exitcode))


def test_the_watch_sees_the_peak_of_a_child_process() -> None:
    # given a process with a watch (spawned: the test runner's own memory and children,
    # whatever earlier tests left, would blur both figures)
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    watcher = context.Process(target=_watch_a_child, args=(theirs,))
    watcher.start()
    try:
        # when its child (as a fold process) holds 200 MB
        assert ours.poll(120), "the watching process sent nothing"
        own_peak, children_peak, child_exit = ours.recv()
    finally:
        watcher.join(30)
    # then the watch reports the child's peak, though the watching process never held it
    assert watcher.exitcode == 0 and child_exit == 0
    assert children_peak >= CHILD_MB
    assert 0 < own_peak < CHILD_MB <= children_peak
