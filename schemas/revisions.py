"""The revisions of the event contract: each time a rule is made stricter, a new revision.

An event is judged by the revision that was in force when the system first judged it, never
by a later one: a replay must not take back a "yes" (docs/TRUST.md §1). Which revision that is
follows from the event's place in the log — the offset where each revision took effect on
each partition, recorded before the first event was judged under it
(``projections/contract.py``) — never from anything the producer wrote (its ``recorded_at``,
its schema version): a producer cannot choose a laxer rule for a new event.

A new revision is a new entry here, and its guards are added in ``limits._GUARDS`` with the
number of the revision that brought them in; a guard that changes an existing predicate keeps
the old one as a named function for the earlier revisions, so an old event passes exactly what
it passed then.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Revision:
    number: int
    commits: str  # where its rules came in (git)
    rule: str  # what it added to the one before


#: every revision, oldest first
REVISIONS: tuple[Revision, ...] = (
    Revision(
        1,
        "before d862e90",
        "ids and codes by the rule of ids (bd512de); free text bounded in length only; the Open311 "
        "answers of a CaseReported not checked",
    ),
    Revision(
        2,
        "d862e90, f5e8064",
        "free text holds no control character (but tab and line breaks where several lines are "
        "allowed) and no bidi control, one line no U+2028/2029; each Open311 answer's code is a "
        "code and each answer free text of at most 1,000 characters",
    ),
)
#: the revision every event was judged by before revisions were recorded
BASE = REVISIONS[0].number
#: the revision this code judges new events by
CURRENT = REVISIONS[-1].number
