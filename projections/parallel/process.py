"""One fold process: it folds the shares of batches the writer sends, asking the writer for
the states its cache misses, and holds their states pending until the writer says whether
the batch was written (``pending.py``). It is the one-process ``Folder`` — the same code."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection

from civicloop import log
from civicloop.projections.parallel.messages import (
    Answer,
    Control,
    Failed,
    FoldedShare,
    FoldShare,
    Need,
    Rejected,
    States,
)
from civicloop.projections.parallel.pending import PendingStates
from civicloop.projections.projector import Fold, Folder
from civicloop.projections.state_store import Known, known_from_rows
from civicloop.projections.store import arrow
from civicloop.projections.store.base import StoreRejected
from civicloop.projections.tables import fit
from civicloop.schemas.event import Event


@dataclass(frozen=True)
class Recipe:
    """Everything a fold process needs, sent once when it starts (picklable: functions by name)."""

    types: dict[str, dict[str, str]]  # table → column → ClickHouse type
    capacity: int
    ignore_illegal: frozenset[str]
    check_event: Callable[[Event, int], None]
    fold: Fold


def serve(conn: Connection, recipe: Recipe) -> None:
    """A fold process: fold what the writer sends until it says stop (or is gone)."""
    from civicloop.runtime import tune_gc

    log.configure()
    tune_gc()

    def ask(case_ids: list[str]) -> dict[str, Known]:
        conn.send(Need(case_ids))
        answer = conn.recv()
        if not isinstance(answer, States):
            # Control.STOP: the writer's look-up failed (its store is gone) and it stops the
            # pool instead of answering; this process ends now, not when the writer kills it.
            raise EOFError("the writer stopped while this process waited for states")
        return known_from_rows(answer.rows)

    states = PendingStates(ask, recipe.capacity)
    folder = Folder(states, fit.Given(recipe.types), recipe.ignore_illegal, recipe.check_event, recipe.fold)
    obey = {
        Control.COMMIT: states.commit,
        Control.DISCARD: states.discard,
        Control.FORGET: states.forget,
    }
    try:
        while True:
            message = conn.recv()
            if isinstance(message, FoldShare):
                answer, folded = fold_share(folder, message)
                states.fold_onto(folded)
                conn.send(answer)
            elif message is Control.STOP:
                return
            else:
                obey[message]()
    except (EOFError, OSError):
        return  # the writer is gone (stopped or killed): nothing here is worth keeping


def fold_share(folder: Folder, share: FoldShare) -> tuple[Answer, dict[str, Known]]:
    """(the answer to the writer, the states to remember if the batch is written)."""
    try:
        folded = folder.fold_batch(share.batch(), share.projected_at, share.boundaries)
        tables = [(name, arrow.to_bytes(data)) for name, data in folded.tables]
    except StoreRejected as exc:
        return Rejected(exc.code, str(exc).removeprefix(f"{exc.code}: ")), {}
    except (EOFError, OSError):
        raise  # the writer is gone while this process asked it for states
    except Exception:
        return Failed(traceback.format_exc()), {}
    result = folded.result
    return FoldedShare(result.projected, result.skipped, result.dead, tables), folded.states
