"""The figures through the API are the CLI's: the same parameters (filters included) give the
same numbers as ``civicloop metrics|durations|backlog --format json``; a parameter the CLI does
not take, and an empty period, are 400 — never an answer about something else."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from civicloop.cli import app as cli
from civicloop.config import to_env
from civicloop.schemas.events import new_event
from civicloop.streams.producer import EventProducer
from tests.support.api_site import Site

pytestmark = [
    pytest.mark.integration,
    pytest.mark.every_backend(
        "the dashboard's figures: the metric SQL through the API's reader of each backend"
    ),
]


def _cli(site: Site, *args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(cli, [*args, "--format", "json"], env=to_env(site.config))
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def _dispatched(case_id: str, department: str, at: datetime) -> list[Any]:
    envelope = {"case_id": case_id, "actor": {"type": "system", "id": "tests"}, "source": "tests/figures"}
    return [
        new_event(
            "CaseReported",
            **envelope,
            occurred_at=at,
            channel="hotline",
            category="road.pothole",
            description="a hole",
            location={"address": "1 Figure Street"},
            priority="normal",
            reporter_ref=None,
        ),
        new_event(
            "CaseRegistered",
            **envelope,
            occurred_at=at + timedelta(minutes=1),
            category="road.pothole",
            priority="normal",
        ),
        new_event(
            "TaskDispatched",
            **envelope,
            occurred_at=at + timedelta(minutes=2),
            task_id="T1",
            department=department,
            role="lead",
            accept_by=at + timedelta(days=1),
            dispose_by=at + timedelta(days=7),
        ),
    ]


def test_figures_take_the_clis_filters_and_give_its_numbers(site: Site) -> None:
    # given cases of two departments of this test's own, among whatever other tests reported
    run = datetime.now(UTC).strftime("%H%M%S%f")
    ours, theirs = f"fig-{run}-a", f"fig-{run}-b"
    at = datetime.now(UTC) - timedelta(hours=1)
    events = [
        *_dispatched(f"fig-{run}-1", ours, at),
        *_dispatched(f"fig-{run}-2", theirs, at),
        *_dispatched(f"fig-{run}-3", theirs, at),
    ]
    with EventProducer(site.config.kafka_bootstrap, site.config.events_topic) as producer:
        for event in events:
            producer.send(event)
    site.settle()
    t_from = (at - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S")
    t_to = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    headers = {"X-API-Key": site.key("analyst")}

    with site.client() as http:

        def api(path: str, **params: str) -> Any:
            answer = http.get(f"/api/v1/{path}", params=params, headers=headers)
            assert answer.status_code == 200, answer.text
            return answer.json()

        # when one department's figures are asked for, then they are that department's alone
        scoped = api("metrics", by="all", department=ours, **{"from": t_from, "to": t_to})
        assert [row["reported"] for row in scoped] == [1]
        # and exactly what the CLI says for the same parameters
        cli_metrics = _cli(
            site, "metrics", "--by", "all", "--department", ours, "--from", t_from, "--to", t_to
        )
        assert scoped == json.loads(json.dumps(cli_metrics, default=str))
        durations = api("durations", by="department", department=theirs, **{"from": t_from, "to": t_to})
        assert {row["group"] for row in durations} == {theirs}
        assert {row["duration"]: row["n"] for row in durations}["register_to_dispatch"] == 2
        backlog = api("backlog", by="department", department=theirs)
        assert sum(row["cases"] for row in backlog) == 2
        assert {row["group"] for row in backlog} == {theirs}
        cli_backlog = _cli(site, "backlog", "--by", "department", "--department", theirs)
        assert sum(row["cases"] for row in cli_backlog) == 2

        # and what the CLI does not take, or an empty period, is 400 naming it
        for path, params, field in [
            ("metrics", {"departmnet": ours}, "departmnet"),
            ("durations", {"as_of": t_to}, "as_of"),
            ("backlog", {"from": t_from}, "from"),
            ("metrics", {"department": [ours, theirs]}, "department"),
            ("metrics", {"from": t_to, "to": t_from}, "to"),
            ("durations", {"from": t_from, "to": t_from}, "to"),
        ]:
            refused = http.get(f"/api/v1/{path}", params=params, headers=headers)
            assert refused.status_code == 400, (path, params, refused.text)
            assert refused.json()["errors"][0]["field"] == field, refused.text
