"""What every handler shares for the life of the process: configuration, catalogue, keys,
the producer, the projections and the boundaries (``app.state.backend``, made by the app's lifespan)."""

from __future__ import annotations

import threading
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
