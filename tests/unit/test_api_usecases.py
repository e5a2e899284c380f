"""The API's writes as use cases (api/usecases.py), without HTTP: the steps in their one order
(first use of an Idempotency-Key, read-your-writes, the case, the event, dedupe, the fold's
guards, the send), what each refusal leaves unproduced, and what a retry is. The collaborators
are small fakes that record what was asked of them; the key records are the real SQLite store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from civicloop.api import catalogue, departments, intake, usecases
from civicloop.api.actions import ACTIONS
from civicloop.api.errors import ApiError
from civicloop.api.events import PROJECTED, Outcome
from civicloop.api.idempotency import Idempotency
from civicloop.api.keys import ApiKey
from civicloop.projections.fold.casestate import CaseState
from civicloop.projections.fold.lifecycle import fold_all
from civicloop.schemas.event import Event
from civicloop.schemas.events import new_event
from civicloop.streams.producer import Delivered

NOW = datetime.now(UTC).replace(microsecond=0)
SERVICES = catalogue.load(None)
DISPATCHER = ApiKey("k-dispatcher", "dispatcher", None, "desk", "2026-01-01")
TRANSPORT = ApiKey("k-transport", "department", "transport", "transport", "2026-01-01")
ACTOR = {"type": "system", "id": "tests"}


def _event(kind: str, case_id: str = "c-1", **fields: Any) -> Event:
    return new_event(
        kind, case_id=case_id, actor=ACTOR, source="tests", occurred_at=NOW - timedelta(hours=1), **fields
    )


def _reported(case_id: str) -> Event:
    return _event(
        "CaseReported",
        case_id,
        channel="app",
        category="traffic.illegal_parking",
        description="a van on the kerb",
        location={"lat": 39.29, "lon": -76.61, "address": "4 Dock Street"},
        priority="normal",
        reporter_ref=None,
    )


REPORTED = _reported("c-1")
REGISTERED = _event(
    "CaseRegistered", category="traffic.illegal_parking", priority="normal", deadline_policy=None
)
PARKS_TASK = _event(
    "TaskDispatched",
    task_id="P1",
    department="parks",
    role="lead",
    accept_by=NOW + timedelta(hours=2),
    dispose_by=NOW + timedelta(days=2),
)


class Producer:
    """Acknowledges every event at the next offset of partition 0."""

    def __init__(self) -> None:
        self.sent: list[Event] = []
        self.acked: dict[str, Delivered] = {}

    def already_sent(self, event_id: str) -> Delivered | None:
        return self.acked.get(event_id)

    async def send(self, event: Event) -> Delivered:
        self.acked[event.event_id] = Delivered("events", 0, len(self.sent))
        self.sent.append(event)
        return self.acked[event.event_id]


class Progress:
    def __init__(self, caught_up: bool = True) -> None:
        self.value = caught_up
        self.asked: list[str] = []

    async def caught_up(self, case_id: str, timeout: float) -> bool:
        self.asked.append(case_id)
        return self.value


class Site:
    """The collaborators of one test, and everything asked of them, in order."""

    def __init__(self, tmp_path: Path, cases: dict[str, CaseState], caught_up: bool = True) -> None:
        self.producer = Producer()
        self.progress = Progress(caught_up)
        self.cases = cases
        self.read: list[str] = []
        self.sealed = 0
        self.outcomes: list[tuple[str, Delivered | None]] = []
        self.writes = usecases.Writes(
            producer=self.producer,
            first_uses=Idempotency(tmp_path / "idempotency.sqlite"),
            progress=self.progress,
            case=self._case,
            outcome=self._outcome,
            with_contacts=self._with_contacts,
            route=SERVICES.routed_to,
            departments=departments.load(None, SERVICES),
        )

    def _case(self, case_id: str) -> CaseState | None:
        self.read.append(case_id)
        return self.cases.get(case_id)

    async def _outcome(self, event: Event, delivered: Delivered | None, timeout: float) -> Outcome:
        self.outcomes.append((event.event_id, delivered))
        return Outcome(PROJECTED, event.event_id, event.case_id, event.type, case={"state": "after"})

    def _with_contacts(self, work: Callable[[Any], Any]) -> Any:
        self.sealed += 1
        return work(None)  # an anonymous report never opens the key store

    def take(self, action: str, body: dict[str, Any], retry: str | None = None, **kw: Any) -> usecases.Taken:
        call = usecases.Call(
            ACTIONS[action],
            kw.pop("case_id", "c-1"),
            ACTIONS[action].body.model_validate(body),
            kw.pop("key", DISPATCHER),
            retry,
            kw.pop("wait", None),
            "tests/usecases",
        )
        return asyncio.run(usecases.take_action(self.writes, call))

    def report(self, form: dict[str, str], retry: str | None = None) -> usecases.Reported:
        submission = intake.parse(form.items(), SERVICES)
        asked = sorted(form.items())
        report = usecases.Report(submission, DISPATCHER, retry, asked, "tests/usecases")
        return asyncio.run(usecases.report_problem(self.writes, report))


def _refused(call: Callable[[], object]) -> ApiError:
    with pytest.raises(ApiError) as refused:
        call()
    return refused.value


def test_a_key_reused_with_another_body_is_refused_before_the_case_is_read(tmp_path: Path) -> None:
    # given a register call made with an Idempotency-Key
    site = Site(tmp_path, {"c-1": fold_all([REPORTED])})
    first = site.take("register", {"priority": "high"}, retry="r-1")
    site.read.clear()
    site.progress.asked.clear()
    # when the same key comes with another body
    error = _refused(lambda: site.take("register", {"priority": "low"}, retry="r-1"))
    # then it is 422 idempotency_key_reused, and the case was neither waited for nor read
    assert (error.status, error.extra) == (422, {"reason": "idempotency_key_reused"})
    assert error.problems[0].field == "Idempotency-Key"
    assert (site.progress.asked, site.read) == ([], [])
    # and only the first call's event was produced
    assert [e.event_id for e in site.producer.sent] == [first.event.event_id]


def test_a_key_reused_for_another_report_is_refused_before_the_contact_is_sealed(tmp_path: Path) -> None:
    site = Site(tmp_path, {})
    form = {"service_code": "PARKING", "address_string": "9 Market Street"}
    first = site.report(form, retry="rep-1")
    assert (first.duplicate, site.sealed, len(site.producer.sent)) == (False, 1, 1)
    error = _refused(lambda: site.report({**form, "description": "x"}, retry="rep-1"))
    assert error.status == 422 and error.problems[0].code == "idempotency_key_reused"
    assert (site.sealed, len(site.producer.sent)) == (1, 1)


def test_a_retried_report_is_the_same_case_and_event_and_is_not_sent_again(tmp_path: Path) -> None:
    site = Site(tmp_path, {})
    form = {"service_code": "PARKING", "address_string": "9 Market Street"}
    first, again = site.report(form, retry="rep-2"), site.report(form, retry="rep-2")
    assert (again.case_id, again.event_id, again.duplicate) == (first.case_id, first.event_id, True)
    assert [(e.case_id, e.event_id, e.type) for e in site.producer.sent] == [
        (first.case_id, first.event_id, "CaseReported")
    ]
    # without a key every report is a case of its own
    one, two = site.report(form), site.report(form)
    assert len({first.case_id, one.case_id, two.case_id}) == 3 and len(site.producer.sent) == 3
    assert all(r.case_id.startswith("sr-") for r in (first, one, two))


def test_a_retried_call_is_one_event_sent_once_and_a_dispatch_keeps_its_task(tmp_path: Path) -> None:
    site = Site(tmp_path, {"c-1": fold_all([REPORTED, REGISTERED])})
    first = site.take("dispatch", {}, retry="d-1")
    again = site.take("dispatch", {}, retry="d-1")
    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.event.event_id == first.event.event_id
    assert again.event["task_id"] == first.event["task_id"] and first.event["task_id"].startswith("t-")
    assert first.event["department"] == "traffic_police"  # where services.toml routes parking
    assert [e.event_id for e in site.producer.sent] == [first.event.event_id]


def test_a_retry_the_case_already_folded_is_a_duplicate_and_not_sent(tmp_path: Path) -> None:
    # given a register call whose event the case has folded (another process sent it)
    sent_elsewhere = Site(tmp_path / "a", {"c-1": fold_all([REPORTED])}).take("register", {}, retry="r-2")
    site = Site(tmp_path / "b", {"c-1": fold_all([REPORTED, sent_elsewhere.event])})
    # when it is retried here, waiting for the outcome
    again = site.take("register", {}, retry="r-2", wait=5.0)
    # then it is the same event, a duplicate, not sent, and its outcome is the case as projected
    assert (again.event.event_id, again.duplicate) == (sent_elsewhere.event.event_id, True)
    assert site.producer.sent == []
    assert site.outcomes == [(again.event.event_id, None)]
    assert again.outcome is not None and again.outcome.case == {"state": "after"}


def test_an_illegal_call_is_409_when_caught_up_and_503_when_the_projection_is_behind(tmp_path: Path) -> None:
    for caught_up, status in ((True, 409), (False, 503)):
        site = Site(tmp_path / str(caught_up), {"c-1": fold_all([REPORTED])}, caught_up=caught_up)
        error = _refused(lambda site=site: site.take("close", {"reason": "resolved"}))
        assert error.status == status, error
        if caught_up:
            assert error.extra["reason"] == error.problems[0].code
        assert site.producer.sent == []


def test_the_case_is_judged_only_after_the_projection_caught_up_with_it(tmp_path: Path) -> None:
    site = Site(tmp_path, {"c-1": fold_all([REPORTED])})
    site.take("register", {})
    assert (site.progress.asked, site.read) == (["c-1"], ["c-1"])
    unknown = _refused(lambda: site.take("register", {}, case_id="c-404"))
    assert (unknown.status, unknown.problems[0].field) == (404, "case_id")
    behind = Site(tmp_path / "behind", {}, caught_up=False)
    assert _refused(lambda: behind.take("register", {}, case_id="c-404")).status == 503


def test_a_department_acts_only_on_its_own_task_and_nothing_is_sent_otherwise(tmp_path: Path) -> None:
    site = Site(tmp_path, {"c-1": fold_all([REPORTED, REGISTERED, PARKS_TASK])})
    error = _refused(lambda: site.take("accept", {"task_id": "P1"}, key=TRANSPORT))
    assert error.status == 403 and "parks" in str(error)
    assert site.producer.sent == []


def test_a_body_refused_for_its_content_is_400_naming_the_field(tmp_path: Path) -> None:
    site = Site(tmp_path, {"c-1": fold_all([REPORTED, REGISTERED])})
    error = _refused(lambda: site.take("close", {"reason": "bored"}))
    assert (error.status, error.problems[0].field) == (400, "reason")
    early = (NOW - timedelta(days=30)).isoformat()
    error = _refused(lambda: site.take("close", {"reason": "resolved", "occurred_at": early}))
    assert (error.status, error.problems[0].field) == (400, "occurred_at")
    assert site.producer.sent == []


def test_a_void_as_duplicate_needs_an_original_that_exists(tmp_path: Path) -> None:
    site = Site(tmp_path, {"c-1": fold_all([REPORTED]), "c-0": fold_all([_reported("c-0")])})
    for other in ("c-1", "c-missing"):
        error = _refused(
            lambda other=other: site.take("void", {"reason": "duplicate", "duplicate_of": other})
        )
        assert (error.status, error.problems[0].code) == (422, "unknown_case")
    voided = site.take("void", {"reason": "duplicate", "duplicate_of": "c-0"})
    assert site.progress.asked[-2:] == ["c-1", "c-0"]  # the original is caught up with too
    assert [e.event_id for e in site.producer.sent] == [voided.event.event_id]


def test_the_outcome_is_asked_for_only_when_the_call_waits(tmp_path: Path) -> None:
    site = Site(tmp_path, {"c-1": fold_all([REPORTED])})
    plain = site.take("register", {})
    assert plain.outcome is None and site.outcomes == []
    waited = Site(tmp_path / "w", {"c-1": fold_all([REPORTED])}).take("register", {}, wait=3.0)
    assert waited.outcome is not None and waited.outcome.status == PROJECTED


def test_without_a_key_each_call_is_a_new_event(tmp_path: Path) -> None:
    site = Site(tmp_path, {"c-1": fold_all([REPORTED, REGISTERED])})
    one, two = site.take("dispatch", {}), site.take("dispatch", {})
    assert one.event.event_id != two.event.event_id and one.event["task_id"] != two.event["task_id"]
    assert len(site.producer.sent) == 2


def _closed() -> tuple[CaseState, str]:
    lead = {"task_id": "L1"}
    history = [
        REPORTED,
        REGISTERED,
        _event(
            "TaskDispatched",
            **lead,
            department="transport",
            role="lead",
            accept_by=NOW + timedelta(hours=2),
            dispose_by=NOW + timedelta(days=2),
        ),
        _event("TaskAccepted", **lead),
        _event("TaskDisposed", **lead, outcome="fixed", note=None),
        _event("CaseClosed", reason="resolved"),
    ]
    return fold_all(history), history[-1].event_id


def _rating(closing: str, case_id: str = "c-1", comment: str | None = None) -> usecases.Rating:
    return usecases.Rating(case_id, closing, 4, True, comment, "tests/usecases")


def test_a_feedback_link_rates_a_closure_once(tmp_path: Path) -> None:
    closed, closing = _closed()
    site = Site(tmp_path, {"c-1": closed})
    rate = lambda **kw: asyncio.run(usecases.rate_handling(site.writes, _rating(closing), **kw))  # noqa: E731
    # the page asks first (nothing sent), then the citizen rates: one FeedbackReceived
    assert (rate(send=False), site.producer.sent) == (usecases.TAKEN, [])
    assert rate() == usecases.TAKEN
    assert [(e.type, e["rating"], e["satisfaction"]) for e in site.producer.sent] == [
        ("FeedbackReceived", 4, "satisfied")  # docs/NOTIFY.md: 5 and 4 stars are satisfied
    ]
    # the link used again: already rated, nothing more sent, by this process or once folded
    assert rate() == usecases.ALREADY and len(site.producer.sent) == 1
    folded = Site(tmp_path / "folded", {"c-1": fold_all([site.producer.sent[0]], closed)})
    assert asyncio.run(usecases.rate_handling(folded.writes, _rating(closing))) == usecases.ALREADY
    assert folded.producer.sent == []


def test_a_comment_of_several_lines_with_tabs_is_taken_as_written(tmp_path: Path) -> None:
    closed, closing = _closed()
    site = Site(tmp_path, {"c-1": closed})
    comment = "Fixed, thanks.\r\nBut the sign\tis still bent 👍"

    assert (
        asyncio.run(usecases.rate_handling(site.writes, _rating(closing, comment=comment))) == usecases.TAKEN
    )
    assert [e["comment"] for e in site.producer.sent] == [comment]


def test_a_feedback_link_says_why_it_cannot_rate(tmp_path: Path) -> None:
    closed, closing = _closed()
    site = Site(tmp_path, {"c-1": closed, "c-open": fold_all([_reported("c-open")])})
    cases = [
        (_rating(closing, case_id="c-missing"), usecases.UNKNOWN),
        (_rating(closing, case_id="c-open"), usecases.NO_MORE),
        (_rating(closing, comment="x" * 4001), usecases.BAD_COMMENT),  # at most 4,000 characters
        # no control character but tab and line breaks, no bidi override (docs/API.md, the
        # event contract's rule for free text)
        (_rating(closing, comment="nul \x00"), usecases.BAD_COMMENT),
        (_rating(closing, comment="escape \x1b[2J"), usecases.BAD_COMMENT),
        (_rating(closing, comment="next line \x85"), usecases.BAD_COMMENT),
        (_rating(closing, comment="refund \u202e001$"), usecases.BAD_COMMENT),
    ]
    for given, answer in cases:
        assert asyncio.run(usecases.rate_handling(site.writes, given)) == answer, given
    assert site.producer.sent == []
    assert site.progress.asked == ["c-missing", "c-open"] + ["c-1"] * 5  # each judged once caught up


def test_a_return_visit_records_the_reporters_stars_and_words_and_refuses_what_the_contract_would(
    tmp_path: Path,
) -> None:
    # given a closed case
    closed, _ = _closed()
    site = Site(tmp_path, {"c-1": closed})
    # when a hotline agent records the return visit with the stars and the words the reporter gave
    comment = "Fixed on Tuesday.\nThe kerb is still cracked."
    body = {"resolved": True, "satisfaction": "basically_satisfied", "rating": 4, "comment": comment}
    taken = site.take("feedback", body)
    # then the event carries them as said
    sent = site.producer.sent[0]
    assert sent.event_id == taken.event.event_id
    assert (sent["rating"], sent["comment"], sent["satisfaction"]) == (4, comment, "basically_satisfied")
    # and without them both are null, as from a visit that asked only the two questions
    plain = Site(tmp_path / "plain", {"c-1": closed}).take(
        "feedback", {"resolved": False, "satisfaction": "unsatisfied"}
    )
    assert (plain.event["rating"], plain.event["comment"]) == (None, None)
    # and stars outside 1-5, a number as text, or a comment with a control character are refused
    for wrong in (
        {"rating": 6},
        {"rating": 0},
        {"rating": "4"},
        {"comment": "ok\x1b[2J"},
        {"comment": "\u202e"},
    ):
        with pytest.raises(ValidationError):
            ACTIONS["feedback"].body.model_validate({**body, **wrong})
