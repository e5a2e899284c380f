"""One export row → the events it proves. Never a timestamp the row does not carry.

The import rules of docs/DESIGN.md §6 ("the numbers the export implies"):

- Every row is one case, reported under its agency — duplicates included: CaseReported and
  CaseRegistered at the creation time. A row that names an agency is dispatched to it as lead
  (TaskDispatched, department = the agency) at creation, unless it is a duplicate (below).
  Deadlines (TaskDispatched v2 allows null, meaning "no deadline set"): dispose_by = the due
  date, or null when the row has none (`missing_due_date`: never due nor overdue in the
  metrics); accept_by is always null, since exports have no accept step (an invented accept-by
  would decide the response rate). A due date before creation is not a deadline the case
  could meet: dispatched without one (`due_before_create`). No agency: no TaskDispatched
  (`missing_agency`); the case counts under no department and can still close.
- Closed = a close time at or after the creation time, whatever the status text says
  (CaseClosed at the close time; reason `resolved` for a closed status, `referred` for a
  transferred one, `other` when the status says open; a mapping's resolution rules may name a
  more precise reason, never whether the row closed). Status text that disagrees with the
  times is counted in the report's `disagreements`, by reason, and never drops or invents a
  closure: `close_date_on_open_status` (closed anyway), `missing_close_date_on_closed_status`
  (stays open), `close_before_create` (reported, not a closure).
- Duplicate = only when the export's status field says so (Baltimore's `… (Duplicate)`);
  free-text resolution descriptions decide nothing. A duplicate is voided, not closed, at its
  close time (else its status date), before any dispatch; the void names the agency
  (CaseVoided v2 `department`), so the case still counts as reported under it. The export
  does not name the original, and `reason = duplicate` requires `duplicate_of`, so the void
  says `invalid` with a note naming the source status (`duplicate_status`). A duplicate the
  export gives no usable date for is imported as an open request of its agency
  (`duplicate_without_date`): voiding it would need a time the row does not carry.
- Event ids: uuid5 of (importer, case, event type): importing the same rows again gives the
  same ids, which the idempotent projections ignore. recorded_at = occurred_at (the source
  system recorded the fact then; the import time would make re-imports differ).
- One case per case id: a later row with the id of a case already imported from the file is
  counted (`repeated_case_id`) and imports nothing. Its events would carry the first row's
  event ids with other facts — copies the log refuses (dead letters), after the import had
  counted the row as a case — or a second CaseReported of one case. The first row decides, as
  it would on Kafka.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from civicloop.schemas.event import Event
from civicloop.schemas.events import EventValidationError, new_event
from civicloop.tools.ingest.report import Report
from civicloop.tools.ingest.spec import CLOSURE_REASON, CityMapping
from civicloop.tools.ingest.values import Row, Values

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/civicloop/importers")
MAX_DESCRIPTION = 4000


class RowMapper:
    def __init__(self, mapping: CityMapping, tz: str, report: Report) -> None:
        self.m, self.report, self.values = mapping, report, Values(mapping, tz, report)
        self.rules = [(re.compile(p, re.IGNORECASE), meaning) for p, meaning in mapping.resolution_rules]
        self.imported: set[str] = set()  # the case ids imported so far
        self.actor = {"type": "importer", "id": mapping.importer}
        self.source = f"importer/{mapping.importer}"

    def events(self, row: Row) -> list[Event]:
        v, cols, count = self.values, self.m.columns, self.report.unmapped
        status = v.text(row, cols.status) or ""
        self.report.statuses[status] += 1
        key, created = v.text(row, cols.case_id), v.time(row, cols.created)
        if key is None or created is None:
            if key is None or v.text(row, cols.created) is None:  # unparseable: counted already
                count["missing_case_id" if key is None else "missing_created_date"] += 1
            return []
        case_id = f"{self.m.city}-{key}"
        if case_id in self.imported:
            count["repeated_case_id"] += 1
            return []
        kind = self._kind(status)
        due, closed = v.time(row, cols.due), v.time(row, cols.closed)
        if cols.due and v.text(row, cols.due) is None:
            count["missing_due_date"] += 1  # a task, if any, is dispatched without a deadline
        out = self._opened(case_id, created, row)
        if not out:
            return []
        self.imported.add(case_id)
        agency = v.text(row, cols.agency)
        if kind == "duplicate":
            voided = self._voided(case_id, created, closed, v.time(row, cols.status_date), status, agency)
            if voided:
                return out + voided
        out += self._dispatched(case_id, created, due, agency)
        if kind == "duplicate":
            return out
        closed_at = self._close_time(kind, created, closed)
        if closed_at is None:
            return out
        reason = self._closure_reason(kind, v.text(row, cols.resolution))
        return out + self._make("CaseClosed", case_id, closed_at, reason=reason)

    def _close_time(self, kind: str, created: datetime, closed: datetime | None) -> datetime | None:
        """The close time when it is one (at or after creation); status text that disagrees
        with the times is counted, never obeyed."""
        count = self.report.disagreements
        if closed is None:
            if kind in CLOSURE_REASON:
                count["missing_close_date_on_closed_status"] += 1
            return None
        if closed < created:
            count["close_before_create"] += 1
            return None
        if kind not in CLOSURE_REASON:
            count["close_date_on_open_status"] += 1
        return closed

    def _kind(self, status: str) -> str:
        kind = self.m.statuses.get(status.lower())
        if kind is None:
            self.report.unmapped[f"unknown_status:{status}"] += 1
            return "open"
        return kind

    def _closure_reason(self, kind: str, resolution: str | None) -> str:
        """The status kind's reason (``other`` for a row whose status says open), unless a
        resolution rule names a more precise one."""
        for pattern, reason in self.rules if resolution else ():
            if pattern.search(resolution or ""):
                return reason
        return CLOSURE_REASON.get(kind, "other")

    def _opened(self, case_id: str, at: datetime, row: Row) -> list[Event]:
        v, cols = self.values, self.m.columns
        category = v.text(row, cols.category)
        if category is None:
            self.report.unmapped["missing_category"] += 1
            category = "uncategorised"  # a code for "the source gave none", counted above
        channel = self.m.channels.get((v.text(row, cols.channel) or "").lower(), "other")
        description = (v.text(row, cols.description) or category)[:MAX_DESCRIPTION]
        reported = self._make(
            "CaseReported",
            case_id,
            at,
            channel=channel,
            category=category,
            description=description,
            location=v.location(row),
            priority="normal",
            reporter_ref=None,
        )
        if not reported:
            return []
        self.report.cases_imported += 1
        # Exports carry no priority: every imported case is "normal".
        return reported + self._make("CaseRegistered", case_id, at, category=category, priority="normal")

    def _dispatched(
        self, case_id: str, at: datetime, due: datetime | None, agency: str | None
    ) -> list[Event]:
        if agency is None:
            self.report.unmapped["missing_agency"] += 1
            return []
        if due is not None and due < at:
            self.report.unmapped["due_before_create"] += 1
            due = None
        return self._make(
            "TaskDispatched",
            case_id,
            at,
            task_id=f"{case_id}-t1",
            department=agency,
            role="lead",
            accept_by=None,  # exports have no accept step: no accept-by deadline
            dispose_by=due,  # None: dispatched without a deadline
        )

    def _voided(
        self,
        case_id: str,
        created: datetime,
        closed: datetime | None,
        status_date: datetime | None,
        status: str,
        agency: str | None,
    ) -> list[Event]:
        """The void of a duplicate at its close time (else its status date), naming its agency;
        [] when the row has no such time at or after its creation."""
        self.report.unmapped["duplicate_status"] += 1
        at = next((t for t in (closed, status_date) if t is not None and t >= created), None)
        if at is None:
            self.report.disagreements["duplicate_without_date"] += 1
            return []
        note = f"source status {status!r}: duplicate of a case the export does not name"
        return self._make(
            "CaseVoided", case_id, at, reason="invalid", duplicate_of=None, note=note, department=agency
        )

    def _make(self, type: str, case_id: str, at: datetime, **fields: Any) -> list[Event]:
        event_id = str(uuid.uuid5(NAMESPACE, f"{self.m.importer}|{case_id}|{type}"))
        try:
            event = new_event(
                type,
                case_id=case_id,
                actor=self.actor,
                source=self.source,
                occurred_at=at,
                recorded_at=at,
                event_id=event_id,
                **fields,
            )
        except EventValidationError as err:
            self.report.unmapped[f"invalid_event:{type}:{err.field}"] += 1
            return []
        self.report.events_by_type[type] += 1
        return [event]
