"""One ClickHouse connection per thread (projections/store/server.py): a worker's projector,
watchdog and SQL readers use one ServerStore from several threads at once, on a real server.
A shared connection breaks under this (BrokenPipe, PartiallyConsumedQueryError, hangs)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from civicloop.projections.store.server import ServerStore
from civicloop.projections.tables import schema

THREADS, ROUNDS, ROWS = 6, 15, 500


def test_threads_sharing_a_store_each_get_their_own_connection(
    clickhouse_server_url: str, database: str
) -> None:
    store = ServerStore("127.0.0.1", int(clickhouse_server_url.rsplit(":", 1)[1].strip("/")))
    try:
        store.lay_out(database)
        table = f"{database}.{schema.DEAD_LETTERS}"  # keyed by (topic, partition, offset)
        start = threading.Barrier(THREADS)

        def work(n: int) -> int:
            # given every thread writing and reading at the same moment, over and over
            start.wait()
            for r in range(ROUNDS):
                rows = [{"topic": f"t{n}", "partition": r, "offset": i, "reason": "x"} for i in range(ROWS)]
                store.insert(table, rows)
                (count,) = store.query(f"SELECT count() FROM {table} WHERE topic = %(t)s", {"t": f"t{n}"})[0]
                assert count == (r + 1) * ROWS  # every row this thread wrote so far, no other's
            return n

        with ThreadPoolExecutor(THREADS) as pool:
            done = sorted(pool.map(work, range(THREADS)))
        # then every thread finished without a protocol error, each on a connection of its own
        assert done == list(range(THREADS))
        assert store.connections == THREADS + 1  # and the main thread's, which made the tables
        assert store.query(f"SELECT count() FROM {table}")[0][0] == THREADS * ROUNDS * ROWS
    finally:
        store.command(f"DROP DATABASE IF EXISTS {database}")
        store.close()
