"""One implementation of the per-event path in a process of its own (the equivalence test).

Started with ``CIVICLOOP_COMPILED=0`` or ``1``: the choice between the mypyc build and the
sources is made once per process (civicloop/compiled.py), so the two run side by side only in
two processes. Speaks pickles over stdin/stdout (logs go to stderr): first the column types,
then one stream of batches at a time, each folded by one ``Folder`` as the worker would, with
the states of each batch remembered for the next (as after its write).
"""

from __future__ import annotations

import pickle
import re
import sys
import traceback
from datetime import UTC, datetime
from typing import Any, BinaryIO

Wire = tuple[int, int, bytes | None, bytes | None, int | None]  # partition, offset, key, value, ts
PROJECTED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def fold_stream(batches: list[list[Wire]], types: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """What each batch folds to: counts, dead letters, every table's rows and the states."""
    from civicloop.projections.projector import Folder, RawMessage
    from civicloop.projections.state_store import StateCache
    from civicloop.projections.tables import fit

    states = StateCache(lambda case_ids: {})
    folder = Folder(states, fit.Given(types))
    out = []
    for batch in batches:
        folded = folder.fold_batch([RawMessage("events", *wire) for wire in batch], PROJECTED_AT)
        states.remember(folded.states)
        result = folded.result
        out.append(
            {
                "projected": result.projected,
                "skipped": result.skipped,
                "dead": [_dead_letter(d.row()) for d in result.dead],
                "tables": {name: _rows(name, data.to_pylist()) for name, data in folded.tables},
                "states": {c: (k.state.to_bytes(), k.partition, k.offset) for c, k in folded.states.items()},
            }
        )
    return out


def _rows(table: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A table's rows but the moment a case state was written (``updated_at``: now)."""
    if table == "case_state":
        for row in rows:
            del row["updated_at"]
    return rows


def _dead_letter(row: dict[str, Any]) -> dict[str, Any]:
    """A dead letter's row but the moment it was made (``seen_at``: now) and the addresses of
    objects; an ``internal:`` one (a bug) keeps its traceback's last line only, as its frames
    name the compiled or the source files."""
    del row["seen_at"]
    if row["reason"].startswith("internal:"):
        row["detail"] = row["detail"].strip().splitlines()[-1]
    # An object's address in a message (fastavro's names the buffer it read past the end of)
    # differs from one process to the next, compiled or not.
    row["detail"] = re.sub(r" at 0x[0-9a-f]+", " at 0x…", row["detail"])
    return row


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    import civicloop

    types = pickle.load(stdin)
    _send(stdout, (civicloop.CHOSEN.compiled, civicloop.CHOSEN.why))
    while True:
        try:
            batches = pickle.load(stdin)
        except EOFError:
            return
        try:
            _send(stdout, ("ok", fold_stream(batches, types)))
        except Exception:
            _send(stdout, ("raised", traceback.format_exc()))


def _send(stdout: BinaryIO, reply: Any) -> None:
    pickle.dump(reply, stdout)
    stdout.flush()


if __name__ == "__main__":
    channel = sys.stdout.buffer
    sys.stdout = sys.stderr  # whatever prints (logs) stays off the channel
    serve(sys.stdin.buffer, channel)
