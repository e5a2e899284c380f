"""Reading a chDB store through the running worker that holds its directory."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from civicloop import localauth
from civicloop.config import Config
from civicloop.projections.store.base import Params, Row, bind
from civicloop.projections.store.readonly import QueryFailed, Refused


class WorkerReader:
    """A :class:`Reader` that sends SQL to the worker's /civicloop/sql view, which runs every
    statement read-only (``Store.query_readonly``), civicloop's own included."""

    def __init__(self, base_url: str, token: str | None) -> None:
        self.url = base_url
        self._token = token  # the worker's local credential (civicloop/localauth.py)

    def query(self, sql: str, params: Params | None = None) -> list[Row]:
        try:
            return self.query_readonly(bind(sql, params))
        except (Refused, QueryFailed) as exc:
            raise RuntimeError(f"query failed in the worker: {exc}") from None

    def query_readonly(self, sql: str) -> list[Row]:
        request = urllib.request.Request(
            f"{self.url}/civicloop/sql",
            data=json.dumps({"sql": sql}).encode(),
            headers={"Content-Type": "application/json", localauth.HEADER: self._token or ""},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            answer = _json(exc.read())
            detail = str(answer.get("error", exc))
            raise (Refused(detail) if answer.get("kind") == "refused" else QueryFailed(detail)) from None
        return [tuple(_value(v) for v in row) for row in body["rows"]]

    def close(self) -> None:
        pass


def worker_reader(config: Config) -> WorkerReader:
    """A reader through this deployment's worker, with its local token (civicloop/localauth.py)."""
    return WorkerReader(
        f"http://127.0.0.1:{config.worker_web_port}", localauth.read(config.worker_token_file)
    )


def _json(raw: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _value(value: Any) -> Any:
    if isinstance(value, dict) and "$datetime" in value:
        return datetime.fromisoformat(value["$datetime"])
    return value


def worker_health(
    port: int, timeout: float = 2.0, home: Path | None = None, namespace: str | None = None
) -> dict[str, Any] | None:
    """The worker's health document, or None when no worker answers on ``port`` — or when the
    one that answers belongs to another deployment (another home or namespace)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/civicloop/health", timeout=timeout) as response:
            health: dict[str, Any] = json.loads(response.read())
    except (OSError, ValueError):
        return None
    if home is not None and health.get("home") != str(home):
        return None
    if namespace is not None and health.get("namespace") != namespace:
        return None
    return health


def deployment_health(config: Config) -> dict[str, Any] | None:
    """The health of this deployment's worker (same home and namespace), if one runs."""
    return worker_health(config.worker_web_port, home=config.home, namespace=config.namespace)
