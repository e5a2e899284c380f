"""The store's side of a rebuild: a fresh database to fold into, and one switch for readers.

The replay (``streams/replayer.py``) drives the :class:`Projector` over the whole event log into
``rebuild_database``; readers keep reading the complete live tables meanwhile. ``switch`` then
swaps every projection table in one ``RENAME TABLE`` statement, which ClickHouse applies as a
whole, so a reader sees all old or all new tables, never a mix (docs/DESIGN.md §6). On a
cluster the switch re-points the Distributed tables at the rebuilt generation, in one RENAME on
each node (``tables/cluster.py``, docs/CLUSTER.md).
"""

from __future__ import annotations

from civicloop import log
from civicloop.projections.store.base import Store
from civicloop.projections.store.cluster import ClusterStore
from civicloop.projections.tables import cluster, schema

_log = log.get(__name__)


def rebuild_database(database: str) -> str:
    """Where a rebuild of ``database`` writes: one fixed name, so an interrupted one resumes."""
    return f"{database}_rebuild"


def prepare(store: Store, target: str) -> None:
    """Create the rebuild's database and tables (kept if a rebuild was interrupted); on a
    cluster, in a generation no earlier rebuild used."""
    if isinstance(store, ClusterStore):
        cluster.ensure(store, target, cluster.new_generation(target))
        return
    schema.ensure(store, target)


def switch(store: Store, live: str, new: str, keep_old: bool = False) -> str:
    """Swap every table of ``new`` into ``live`` in one RENAME; return where the old ones went
    (dropped unless ``keep_old``)."""
    if isinstance(store, ClusterStore):
        return cluster.switch(store, live, new, keep_old)
    old = f"{new}_old"
    store.command(f"CREATE DATABASE IF NOT EXISTS {old}")
    present = {
        name
        for (name,) in store.query("SELECT name FROM system.tables WHERE database = %(db)s", {"db": live})
    }
    pairs = [f"{live}.{t} TO {old}.{t}" for t in schema.NAMES if t in present]
    pairs += [f"{new}.{t} TO {live}.{t}" for t in schema.NAMES]
    store.command(f"CREATE DATABASE IF NOT EXISTS {live}")
    store.command("RENAME TABLE " + ", ".join(pairs))
    if not keep_old:
        for t in schema.NAMES:
            if t in present:
                store.command(f"DROP TABLE IF EXISTS {old}.{t}")
        store.command(f"DROP DATABASE IF EXISTS {old}")
    store.command(f"DROP DATABASE IF EXISTS {new}")
    _log.info("rebuild_switched", live=live, kept_old=old if keep_old else None)
    return old
