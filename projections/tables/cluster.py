"""civicloop's tables on a ClickHouse cluster, derived from the single-node DDL
(``schema.ddl``: the statements of the tables' declarations).

On every node, for each table of ``schema.NAMES`` (docs/CLUSTER.md):

- ``<generation>.<table>``: the table of ``schema.ddl(table)`` with its engine made replicated —
  ``Replicated<Engine>('/clickhouse/tables/{shard}/<generation>/<table>', '{replica}', <args>)``,
  the same ORDER BY and version column; the ``{shard}`` and ``{replica}`` macros come from each
  node's configuration, so the replicas of a shard share one replication log in ZooKeeper;
- ``<database>.<table>``: a ``Distributed`` table over the generation's tables, sharded by
  ``cityHash64(case_id)`` (the progress markers by topic and partition). Readers and writers
  use these names only, so every query civicloop runs is the same as on one node.

A *generation* database holds one complete set of projections: ``<database>_g0`` for a new
deployment (a fixed name, so workers starting at the same moment make the same tables), and
``<rebuild database>_g<8 hex digits>`` for each rebuild.
A rebuild fills a new generation behind ``<database>_rebuild``'s Distributed tables, then
:func:`switch` re-points readers in one ``RENAME`` of the Distributed tables on each node:
every Distributed table names one generation on all shards, so a query sees the old
projections everywhere or the new ones everywhere, never a mix. Generation names are never
reused, so neither are their ZooKeeper paths (a dropped replicated table may leave its path).
"""

from __future__ import annotations

import re
import uuid

from civicloop import log
from civicloop.projections.store.cluster import ClusterMissing, ClusterStore
from civicloop.projections.tables import schema

_log = log.get(__name__)

#: table → the sharding key of its Distributed table: every row of a case on the case's shard
SHARDING: dict[str, str] = {
    schema.EVENT_LOG: "cityHash64(case_id)",
    schema.DEAD_LETTERS: "cityHash64(case_id)",
    schema.CASE_LIFECYCLE: "cityHash64(case_id)",
    schema.CASE_TASKS: "cityHash64(case_id)",
    schema.PERIOD_SPANS: "cityHash64(source, month)",
    # a month's rollup rows on one shard: FINAL and its highest snapshot are that shard's
    schema.METRIC_ROLLUP: "cityHash64(source, month)",
    schema.BACKLOG_ROLLUP: "cityHash64(month)",
    schema.CASE_STATE: "cityHash64(case_id)",
    schema.PROGRESS: "cityHash64(topic, partition)",
    # signals belong to no case: each lives on the shard of its (deterministic) id
    schema.SIGNALS: "cityHash64(event_id)",
    schema.SIGNAL_PROGRESS: "cityHash64(detector)",
}
_ENGINE = re.compile(r"ENGINE\s*=\s*(\w*MergeTree)\(([^)]*)\)")


def new_generation(database: str) -> str:
    """A generation name no earlier rebuild used."""
    return f"{database}_g{uuid.uuid4().hex[:8]}"


def first_generation(database: str) -> str:
    return f"{database}_g0"


def reader_databases(store: ClusterStore, database: str) -> tuple[str, ...]:
    """The databases a read-only user of ``database`` needs on the cluster: ClickHouse reads a
    Distributed table's local shard under the reader's own name, so besides ``database`` the
    generation its tables name now (``<database>_g0`` before any rebuild; a rebuild's switch
    moves them to a new one, which the reader then needs too — docs/OPERATIONS.md)."""
    return tuple(dict.fromkeys([database, first_generation(database), *sorted(store.generations(database))]))


def local_statement(table: str, generation: str, cluster: str) -> str:
    """``schema.ddl(table)`` for ``generation``, ON CLUSTER, with its engine replicated."""
    statement = schema.ddl(table).format(db=generation)
    name = f"{generation}.{table}"
    if f"{name} (" not in statement or not _ENGINE.search(statement):
        raise ValueError(
            f"the DDL of {table} is not `CREATE TABLE … {{db}}.{table} (…) ENGINE = …MergeTree(…)`"
        )
    statement = statement.replace(f"{name} (", f"{name} ON CLUSTER {cluster} (", 1)
    path = f"'/clickhouse/tables/{{shard}}/{generation}/{table}'"

    def replicated(match: re.Match[str]) -> str:
        args = ", ".join(a for a in (path, "'{replica}'", match.group(2).strip()) if a)
        return f"ENGINE = Replicated{match.group(1)}({args})"

    return _ENGINE.sub(replicated, statement, count=1)


def distributed_statement(table: str, database: str, generation: str, cluster: str) -> str:
    """The Distributed table ``database``.``table`` over ``generation``'s, on every node."""
    return (
        f"CREATE TABLE IF NOT EXISTS {database}.{table} ON CLUSTER {cluster} AS {generation}.{table} "
        f"ENGINE = Distributed({cluster}, {generation}, {table}, {SHARDING[table]})"
    )


def ensure(store: ClusterStore, database: str, generation: str | None = None) -> str:
    """Create ``database``'s Distributed tables and their generation on every node when
    missing; return the generation. A database without Distributed tables gets ``generation``
    (default: its first generation). Nothing runs ON CLUSTER when the entry node has them all
    (statements ON CLUSTER are queued in ZooKeeper, so a node that was down gets them later)."""
    tables = _tables(store, database)
    foreign = sorted(name for name, engine in tables.items() if engine != "Distributed")
    if foreign:
        raise ClusterMissing(
            f"{database} on {store.url} holds tables that are not Distributed ({', '.join(foreign)}): "
            "it was made by a single-server deployment; use another CIVICLOOP_NAMESPACE for the "
            "cluster, or replay into it from Kafka after dropping that database"
        )
    existing = store.local_database(database)
    names = schema.names(set(tables))
    if existing and set(tables) >= set(names) and set(_tables(store, existing)) >= set(names):
        return existing
    generation = existing or generation or first_generation(database)
    cluster = store.cluster
    store.command(f"CREATE DATABASE IF NOT EXISTS {generation} ON CLUSTER {cluster}")
    store.command(f"CREATE DATABASE IF NOT EXISTS {database} ON CLUSTER {cluster}")
    for table in names:
        store.command(local_statement(table, generation, cluster))
    for table in names:
        store.command(distributed_statement(table, database, generation, cluster))
    named = store.generations(database)
    if named != {generation}:
        raise ClusterMissing(
            f"the Distributed tables of {database} name the generations {sorted(named)}, not only "
            f"{generation}: another process created them at the same time with another generation; "
            "drop the database ON CLUSTER and start again"
        )
    _log.info("cluster_tables_ready", database=database, generation=generation, cluster=cluster)
    return generation


def switch(store: ClusterStore, live: str, new: str, keep_old: bool = False) -> str:
    """Point ``live``'s Distributed tables at ``new``'s generation, on every node; return the
    database the old Distributed tables went to (dropped with their generation unless
    ``keep_old``)."""
    down = store.unreachable()
    if down:
        raise ClusterMissing(
            f"node(s) {', '.join(n.address for n in down)} do not answer: a rebuild switches only when "
            "every replica can be brought up to date first; start them and run the replay again "
            "(it resumes)"
        )
    new_generation_db, old_generation = store.local_database(new), store.local_database(live)
    # Every replica of the new generation holds all of it before any reader is sent there.
    for table in schema.NAMES:
        store.on_every_node(f"SYSTEM SYNC REPLICA {new_generation_db}.{table}")
    old = f"{new}_old"
    cluster = store.cluster
    store.command(f"CREATE DATABASE IF NOT EXISTS {old} ON CLUSTER {cluster}")
    store.command(f"CREATE DATABASE IF NOT EXISTS {live} ON CLUSTER {cluster}")
    present = set(_tables(store, live))
    pairs = [f"{live}.{t} TO {old}.{t}" for t in schema.NAMES if t in present]
    pairs += [f"{new}.{t} TO {live}.{t}" for t in schema.NAMES]
    # One statement per node: each node swaps all its Distributed tables at once.
    store.command(f"RENAME TABLE {', '.join(pairs)} ON CLUSTER {cluster}")
    if not keep_old:
        store.command(f"DROP DATABASE IF EXISTS {old} ON CLUSTER {cluster}")
        if old_generation:
            store.command(f"DROP DATABASE IF EXISTS {old_generation} ON CLUSTER {cluster}")
    # ``new`` stays, empty: ClickHouse 18.16 leaves a renamed Distributed table's (empty) data
    # directory behind, and DROP DATABASE refuses a directory that is not empty. The next
    # rebuild creates its tables in it again.
    _log.info("rebuild_switched", live=live, generation=new_generation_db, kept_old=old if keep_old else None)
    return old


def _tables(store: ClusterStore, database: str) -> dict[str, str]:
    """name → engine of the tables of ``database`` on the entry node."""
    found = store.query("SELECT name, engine FROM system.tables WHERE database = %(db)s", {"db": database})
    return {str(name): str(engine) for name, engine in found}
