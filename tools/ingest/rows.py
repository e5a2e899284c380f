"""One export row → the events it proves. Never a timestamp the row does not carry.

- created: CaseReported, CaseRegistered and (when the row names an agency) TaskDispatched to
  that agency as lead (department = the agency), all at the creation time. Every case whose
  row names an agency is dispatched, so per-agency counts match the city's own (duplicates
  aside, below). Deadlines (TaskDispatched v2 allows null, meaning "no deadline set"):
  dispose_by = the due date, or null when the row has none (counted as `missing_due_date`:
  dispatched without a deadline, so never due nor overdue in the metrics); accept_by is always
  null, since exports have no accept step (an invented accept-by would decide the response
  rate). A due date before creation is not a deadline the case could meet: the task is
  dispatched without one and the row counts as `due_before_create`. No agency: no
  TaskDispatched (`missing_agency`); the case can still close.
- closed/transferred status with a close time ≥ creation: CaseClosed (resolved / referred).
  Closed without a close time, or closing before creation: counted, the case stays open.
- duplicate status: voided, not closed, so duplicates never count as closures. The export does
  not name the original, and `reason = duplicate` requires `duplicate_of`, so the void says
  `invalid` with a note naming the source status, and the row counts as `duplicate_status`.
  Voids are legal only before dispatch, so a duplicate gets no TaskDispatched (and so no
  department: the one place where per-agency counts differ from the file's rows per agency).
- event ids: uuid5 of (importer, case, event type): importing the same rows again gives the
  same ids, which the idempotent projections ignore. recorded_at = occurred_at (the source
  system recorded the fact then; the import time would make re-imports differ).
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
        kind, closure = self._meaning(status, v.text(row, cols.resolution))
        due, closed = v.time(row, cols.due), v.time(row, cols.closed)
        if cols.due and v.text(row, cols.due) is None:
            count["missing_due_date"] += 1  # a task, if any, is dispatched without a deadline
        out = self._opened(case_id, created, row)
        if not out:
            return []
        if kind == "duplicate":
            voided_at = closed or v.time(row, cols.status_date)
            return out + self._voided(case_id, created, voided_at, status)
        out += self._dispatched(case_id, created, due, v.text(row, cols.agency))
        return out + self._closed(case_id, created, closed, closure)

    def _closed(
        self, case_id: str, created: datetime, closed: datetime | None, closure: str | None
    ) -> list[Event]:
        count = self.report.unmapped
        if closure is None:
            if closed is not None:
                count["close_date_on_open_status"] += 1
        elif closed is None:
            count["missing_close_date_on_closed_status"] += 1
        elif closed < created:
            count["close_before_create"] += 1
        else:
            return self._make("CaseClosed", case_id, closed, reason=closure)
        return []

    def _meaning(self, status: str, resolution: str | None) -> tuple[str, str | None]:
        """(status kind, closure reason or None) from the status and the resolution text."""
        kind = self.m.statuses.get(status.lower())
        if kind is None:
            self.report.unmapped[f"unknown_status:{status}"] += 1
            kind = "open"
        closure = CLOSURE_REASON.get(kind)
        for pattern, meaning in self.rules if resolution else ():
            if pattern.search(resolution or ""):
                if meaning == "duplicate":
                    return "duplicate", None
                return kind, (meaning if closure else None)
        return kind, closure

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

    def _voided(self, case_id: str, created: datetime, at: datetime | None, status: str) -> list[Event]:
        count = self.report.unmapped
        count["duplicate_status"] += 1
        if at is None or at < created:
            count["duplicate_without_date" if at is None else "close_before_create"] += 1
            return []
        note = f"source status {status!r}: duplicate of a case the export does not name"
        return self._make("CaseVoided", case_id, at, reason="invalid", duplicate_of=None, note=note)

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
