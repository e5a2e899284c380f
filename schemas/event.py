"""The in-memory form of one decoded or newly built event.

The Avro files in ``schemas/avro/`` are the contract; this class only carries a record that
was validated against one of them, plus the name of its type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    """One fact about a case: ``type`` is the Avro record name, ``fields`` the record."""

    type: str
    fields: dict[str, Any] = field(hash=False)
    version: int = 1

    @property
    def event_id(self) -> str:
        return str(self.fields["event_id"])

    @property
    def case_id(self) -> str:
        return str(self.fields["case_id"])

    @property
    def occurred_at(self) -> datetime:
        occurred: datetime = self.fields["occurred_at"]
        return occurred

    def __getitem__(self, name: str) -> Any:
        return self.fields[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)
