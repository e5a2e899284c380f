"""The demo's HTTP part: citizen reports through Open311 GeoReport v2, read back the same way.

What a citizen app does, over HTTP against the running ``civicloop api``: a few form-encoded
``POST requests.json`` with an intake key (made for the demo and revoked afterwards), then
``GET requests.json?service_request_id=…`` until the worker has projected them.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

from rich.table import Table

from civicloop.api.keys import ApiKeyStore
from civicloop.config import Config
from civicloop.tools.local.api_server import api_url
from civicloop.tools.local.process import wait_until

REPORTS = (
    {
        "service_code": "POTHOLE",
        "lat": "31.2815",
        "long": "121.4312",
        "attribute[SIZE]": "large",
        "description": "Deep pothole in the right lane",
        "email": "ann@example.org",
    },
    {
        "service_code": "GARBAGE",
        "address_string": "12 Elm Road",
        "attribute[WASTE][]": ["household", "bulky"],
        "description": "Bags and a sofa left out",
        "phone": "+1 410 555 0123",
    },
    {
        "service_code": "STREETLIGHT",
        "lat": "31.2904",
        "long": "121.4405",
        "attribute[LIGHTS_OUT]": "3",
        "description": "Three lights out on the avenue",
    },
    {"service_code": "NOISE", "address_string": "3 Mill Road", "description": "Drilling after midnight"},
)


def run(config: Config, timeout: float) -> Table:
    """Post the reports, wait until they are projected, and return them as Open311 shows them."""
    store = ApiKeyStore(config.api_keys)
    key, token = store.create("intake", label="make demo")
    try:
        base = f"{api_url(config)}/open311/v2"
        ids = [_post(f"{base}/requests.json", {**report, "api_key": token}) for report in REPORTS]
        query = urllib.parse.urlencode({"api_key": token, "service_request_id": ",".join(ids)})
        found: list[Any] = []

        def all_projected() -> bool:
            found[:] = _get(f"{base}/requests.json?{query}")
            return len(found) == len(ids)

        wait_until(all_projected, timeout, f"{len(ids)} Open311 requests in ClickHouse", interval=0.5)
    finally:
        store.revoke(key.key_id)
        store.close()
    table = Table(title=f"Open311 service requests ({base}/requests.json)")
    for column in ("service_request_id", "service", "status", "where"):
        table.add_column(column, overflow="fold")
    for request in found:
        where = request["address"] or f"{request['lat']}, {request['long']}"
        table.add_row(request["service_request_id"], request["service_name"], request["status"], where)
    return table


def _post(url: str, form: dict[str, Any]) -> str:
    body = urllib.parse.urlencode(form, doseq=True).encode()
    with urllib.request.urlopen(
        urllib.request.Request(url, data=body, method="POST"), timeout=30
    ) as response:
        return str(json.loads(response.read())[0]["service_request_id"])


def _get(url: str) -> list[Any]:
    with urllib.request.urlopen(url, timeout=30) as response:
        found: list[Any] = json.loads(response.read())
        return found
