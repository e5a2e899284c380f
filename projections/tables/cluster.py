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

A *generation* database holds one complete set of projections, and there are two of them:
``<database>_g0`` for a new deployment (a fixed name, so workers starting at the same moment
make the same tables) and ``<database>_g1``. A rebuild fills the one the live tables do not
name, behind ``<database>_rebuild``'s Distributed tables, then :func:`switch` re-points readers
in one ``RENAME`` of the Distributed tables on each node: every Distributed table names one
generation on all shards, so a query sees the old projections everywhere or the new ones
everywhere, never a mix. Two fixed names, so that a read-only user is allowed them once:
ClickHouse 18.16 reads a Distributed table's local shard under the reader's own name, and its
``allow_databases`` takes no patterns (:func:`reader_databases`). Their ZooKeeper paths are
never reused (a dropped replicated table may leave its path): a rebuild's generation gets a
path of its own (:func:`prepare`).
"""

from __future__ import annotations

import re
import uuid

from civicloop import log
from civicloop.projections.rebuild import live_database
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


def first_generation(database: str) -> str:
    return f"{database}_g0"


def generations_of(database: str) -> tuple[str, str]:
    """The two generation databases of ``database``: a new deployment's, then the other one."""
    return first_generation(database), f"{database}_g1"


def reader_databases(store: ClusterStore, database: str) -> tuple[str, ...]:
    """The databases a read-only user of ``database`` needs on the cluster: ClickHouse reads a
    Distributed table's local shard under the reader's own name, so besides ``database`` both
    its generations (every rebuild's switch moves the tables from one to the other), and the
    generation its tables name now if an older civicloop made it (``<database>_rebuild_g<hex>``,
    until the next rebuild)."""
    return tuple(dict.fromkeys([database, *generations_of(database), *sorted(store.generations(database))]))


def prepare(store: ClusterStore, target: str) -> str:
    """The tables of the rebuild into ``target`` (``rebuild_database(live)``); return their
    generation. An interrupted rebuild's tables are kept (the replay resumes into them).
    Otherwise the rebuild gets the generation the live tables do not name, emptied first: what
    is there is an earlier ``--keep-old``'s old projections (they go with the Distributed tables
    it kept in ``<target>_old``: a rebuild keeps the projections it replaces, not older ones),
    or a rebuild abandoned before its switch. Its replicated tables get ZooKeeper paths no
    table had before."""
    if store.local_database(target):
        return ensure(store, target)
    live = live_database(target)
    first, second = generations_of(live)
    generation = first if second in store.generations(live) else second
    kept = f"{target}_old"
    stale = [kept, *sorted(store.generations(kept) - store.generations(live)), generation]
    for database in dict.fromkeys(stale):
        store.command(f"DROP DATABASE IF EXISTS {database} ON CLUSTER {store.cluster}")
    return ensure(store, target, generation, path=f"{generation}_{uuid.uuid4().hex[:8]}")


def local_statement(table: str, generation: str, cluster: str, path: str | None = None) -> str:
    """``schema.ddl(table)`` for ``generation``, ON CLUSTER, with its engine replicated; its
    replication log at ``/clickhouse/tables/{shard}/<path>/<table>`` (``path``: the generation's
    name unless given)."""
    statement = schema.ddl(table).format(db=generation)
    name = f"{generation}.{table}"
    if f"{name} (" not in statement or not _ENGINE.search(statement):
        raise ValueError(
            f"the DDL of {table} is not `CREATE TABLE … {{db}}.{table} (…) ENGINE = …MergeTree(…)`"
        )
    statement = statement.replace(f"{name} (", f"{name} ON CLUSTER {cluster} (", 1)
    zookeeper = f"'/clickhouse/tables/{{shard}}/{path or generation}/{table}'"

    def replicated(match: re.Match[str]) -> str:
        args = ", ".join(a for a in (zookeeper, "'{replica}'", match.group(2).strip()) if a)
        return f"ENGINE = Replicated{match.group(1)}({args})"

    return _ENGINE.sub(replicated, statement, count=1)


def distributed_statement(table: str, database: str, generation: str, cluster: str) -> str:
    """The Distributed table ``database``.``table`` over ``generation``'s, on every node."""
    return (
        f"CREATE TABLE IF NOT EXISTS {database}.{table} ON CLUSTER {cluster} AS {generation}.{table} "
        f"ENGINE = Distributed({cluster}, {generation}, {table}, {SHARDING[table]})"
    )


def ensure(store: ClusterStore, database: str, generation: str | None = None, path: str | None = None) -> str:
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
        store.command(local_statement(table, generation, cluster, path))
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
