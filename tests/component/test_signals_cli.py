"""``civicloop signals``, ``hotspots`` and ``nearby`` on chDB, in table, json and csv."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from civicloop.cli import app
from civicloop.projections.backend import open_store
from civicloop.projections.projector import RawMessage
from civicloop.projections.signals.projector import SignalProjection
from tests.component.test_signals_sql import LAT, LON, _case, _north
from tests.support.signal_events import day_surge

pytestmark = pytest.mark.integration
MAY = datetime(2024, 5, 10, tzinfo=UTC)


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"chdb://{tmp_path / 'chdb'}"
    monkeypatch.setenv("CIVICLOOP_CLICKHOUSE_URL", url)
    monkeypatch.setenv("CIVICLOOP_NAMESPACE", "clitest")
    monkeypatch.setenv("CIVICLOOP_HOME", str(tmp_path))
    monkeypatch.setenv("CIVICLOOP_WORKER_WEB_PORT", "1")  # no worker: read the chDB directory itself
    store = open_store(url)
    store.lay_out("clitest")
    rows = [_case(f"m{n}", MAY + timedelta(hours=n), lat=_north(30 * n)) for n in range(4)]
    rows += [_case("a1", MAY - timedelta(days=30), lat=_north(400))]
    store.insert("clitest.case_lifecycle", rows)
    start = MAY.replace(day=9)
    surge = day_surge(start)
    SignalProjection(store, "clitest", lambda _: None).project([RawMessage("s", 0, 0, None, _encode(surge))])
    store.close()
    return url


def _encode(signal: object) -> bytes:
    from civicloop.schemas.signals import encode_signal

    return encode_signal(signal)  # type: ignore[arg-type]


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_signals_in_every_format(deployment: str) -> None:
    table = _run("signals", "--from", "2024-05-01")
    assert "SurgeDetected" in table and "G1" in table
    [row] = json.loads(_run("signals", "--format", "json"))
    assert (row["type"], row["place"], row["observed"]) == ("SurgeDetected", "G1", 21)
    assert row["signal"]["reference_windows"] == 4  # json carries the whole signal
    [line] = list(csv.DictReader(io.StringIO(_run("signals", "--format", "csv"))))
    assert line["category"] == "roads" and line["threshold"] == "12"
    assert json.loads(_run("signals", "--from", "2024-06-01", "--format", "json")) == []


def test_hotspots_in_every_format(deployment: str) -> None:
    [row] = json.loads(_run("hotspots", "--month", "2024-05", "--format", "json"))
    assert (row["place"], row["cases"], row["previous_month"], row["trend"]) == ("G1", 4, 1, "+300%")
    assert "+300%" in _run("hotspots", "--month", "2024-05")
    assert (
        next(
            csv.DictReader(
                io.StringIO(_run("hotspots", "--month", "2024-05", "--by", "district", "--format", "csv"))
            )
        )["place"]
        == "D1"
    )
    bad = CliRunner().invoke(app, ["hotspots", "--month", "May"])
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output


def test_nearby_in_every_format(deployment: str) -> None:
    found = json.loads(
        _run("nearby", "--lat", str(_north(50)), "--lon", str(LON), "--category", "roads", "--format", "json")
    )
    assert [r["case_id"] for r in found] == ["m2", "m1", "m3", "m0"]
    assert "m2" in _run("nearby", "--lat", str(_north(50)), "--lon", str(LON), "--category", "roads")
    args = ("--lat", str(LAT), "--lon", str(LON), "--category", "roads", "--radius", "40", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(_run("nearby", *args))))
    assert [r["case_id"] for r in rows] == ["m0", "m1"]
