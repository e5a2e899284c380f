"""What every handler shares for the life of the process: configuration, catalogue, keys,
the producer, the projections and the boundaries (``app.state.backend``, made by the app's lifespan)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import TypeVar

from starlette.requests import Request

from civicloop.api.catalogue import Catalogue
from civicloop.api.departments import Departments
from civicloop.api.idempotency import Idempotency
from civicloop.api.keys import ApiKey, ApiKeyStore
from civicloop.api.producing import Sender
from civicloop.api.progress import Progress
from civicloop.api.projected import Projections
from civicloop.config import Config
from civicloop.geography import Boundaries
from civicloop.privacy import KeyStore

T = TypeVar("T")
VERSION = version("civicloop")
#: namespace of the event ids derived from an Idempotency-Key (uuid5)
IDEMPOTENCY_NAMESPACE = uuid.UUID("7b1f0c7e-55a4-4c55-9a38-0b1d7c3b9a11")


@dataclass
class Backend:
    config: Config
    catalogue: Catalogue
    departments: Departments
    keys: ApiKeyStore
    contacts: KeyStore  # per-reporter contact keys (crypto-shredding)
    sender: Sender
    projections: Projections
    idempotency: Idempotency  # what each Idempotency-Key was first used for (all processes)
    progress: Progress  # Kafka's log ends and the projection's marker (read-your-writes)
    boundaries: Boundaries  # districts and grid cells (CIVICLOOP_BOUNDARIES)
    _contacts_lock: threading.Lock = field(default_factory=threading.Lock)

    def source(self, key: ApiKey) -> str:
        """The ``source`` of events this API produces: the app and the key that asked."""
        return f"civicloop-api/{VERSION} key {key.key_id}"

    def with_contacts(self, work: Callable[[KeyStore], T]) -> T:
        """Run ``work`` on the contact key store alone (one SQLite connection, many threads)."""
        with self._contacts_lock:
            return work(self.contacts)

    def close(self) -> None:
        self.sender.close()
        self.keys.close()
        self.idempotency.close()
        self.contacts.close()


def backend(request: Request) -> Backend:
    found: Backend = request.app.state.backend
    return found


def derived_id(key: ApiKey, idempotency_key: str | None, *parts: str) -> str:
    """A new UUID4, or — with an Idempotency-Key — the same UUID5 every time the same key
    asks the same thing again, so a retried call is one event."""
    if idempotency_key is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, "\x1f".join((key.key_id, *parts, idempotency_key))))
