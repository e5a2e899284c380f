"""The store's side of a rebuild: a fresh database to fold into, and one switch for readers.

The replay (``streams/replayer.py``) drives the :class:`Projector` over the whole event log into
``rebuild_database``, which the store prepares (``Store.prepare_rebuild``); readers keep reading
the complete live tables meanwhile. ``Store.switch_rebuild`` then sends readers to the new tables
all at once, so a reader sees all old or all new tables, never a mix (docs/DESIGN.md §6): one
node swaps every projection table in one ``RENAME TABLE`` statement, which ClickHouse applies as
a whole (``store/single.py``); a cluster re-points its Distributed tables at the rebuilt
generation, in one RENAME on each node (``tables/cluster.py``, docs/CLUSTER.md).
"""

from __future__ import annotations


def rebuild_database(database: str) -> str:
    """Where a rebuild of ``database`` writes: one fixed name, so an interrupted one resumes."""
    return f"{database}_rebuild"


def live_database(rebuild: str) -> str:
    """The database a rebuild into ``rebuild`` (``rebuild_database``'s name) replaces."""
    if not rebuild.endswith("_rebuild"):
        raise ValueError(f"{rebuild} is not a rebuild's database (<database>_rebuild)")
    return rebuild.removesuffix("_rebuild")
