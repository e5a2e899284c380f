"""The lifecycle rules, scenario by scenario: given events, when folded, then state and rows."""

from __future__ import annotations

from datetime import timedelta

import pytest

from civicloop.projections.fold.lifecycle import IllegalTransition, fold_all
from civicloop.projections.fold.states import State
from civicloop.projections.tables.rows import case_row, task_rows
from tests.support import case_events as ev
from tests.support.case_events import at

S = State
DISPATCHED = [ev.reported(at(0)), ev.registered(at(1)), ev.dispatched(at(2))]
IN_PROGRESS = [*DISPATCHED, ev.accepted(at(3))]
DISPOSED = [*IN_PROGRESS, ev.disposed(at(10))]
CLOSED = [*DISPOSED, ev.checked(at(11)), ev.closed(at(12))]


class TestMultiDepartment:
    def test_assists_work_in_parallel_and_the_case_follows_the_lead(self):
        case = fold_all(
            [
                *DISPATCHED,
                ev.dispatched(at(2), "A1", "water", "assist"),
                ev.dispatched(at(2), "A2", "parks", "assist"),
                ev.accepted(at(3), "A1"),
            ]
        )
        assert case.state == S.DISPATCHED  # an assist accepting does not move the case
        case = fold_all([ev.accepted(at(4)), ev.accepted(at(4), "A2"), ev.disposed(at(5), "A1")], case)
        assert case.state == S.IN_PROGRESS
        assert case_row(case)["lead_department"] == "roads"
        assert {r["task_id"]: r["status"] for r in task_rows(case)} == {
            "T1": "accepted",
            "A1": "disposed",
            "A2": "accepted",
        }

    def test_a_second_live_lead_is_illegal(self):
        with pytest.raises(IllegalTransition, match="lead_task_active"):
            fold_all([*DISPATCHED, ev.dispatched(at(3), "T2")])

    def test_an_assist_cannot_start_a_dispatch_round(self):
        with pytest.raises(IllegalTransition, match="illegal_transition"):
            fold_all([ev.reported(at(0)), ev.registered(at(1)), ev.dispatched(at(2), "A1", role="assist")])

    def test_closure_ends_the_tasks_still_live(self):
        case = fold_all(
            [*DISPATCHED, ev.dispatched(at(2), "A1", "water", "assist"), ev.closed(at(3), reason="withdrawn")]
        )
        assert case.state == S.CLOSED
        assert {t.status for t in case.tasks.values()} == {"closed"}
        with pytest.raises(IllegalTransition, match="task_closed"):
            fold_all([ev.accepted(at(4), "A1")], case)


class TestReturnAndRedispatch:
    def test_a_returned_lead_leaves_the_case_returned_until_a_new_lead(self):
        case = fold_all([*IN_PROGRESS, ev.returned(at(4))])
        assert (case.state, case.returns) == (S.RETURNED, 1)
        case = fold_all([ev.dispatched(at(5), "T2", "water", dispose_h=10)], case)
        row = case_row(case)
        assert (case.state, row["lead_department"], row["tasks"]) == (S.DISPATCHED, "water", 2)
        assert row["due_at"] == at(15)

    def test_a_returned_task_has_ended(self):
        with pytest.raises(IllegalTransition, match="task_returned"):
            fold_all([*DISPATCHED, ev.returned(at(3)), ev.accepted(at(4))])

    def test_a_task_id_is_dispatched_once(self):
        with pytest.raises(IllegalTransition, match="task_exists"):
            fold_all([*DISPATCHED, ev.returned(at(3)), ev.dispatched(at(4))])

    def test_redispatch_after_a_not_responsible_disposal(self):
        case = fold_all(
            [
                *IN_PROGRESS,
                ev.disposed(at(5), outcome="not_responsible"),
                ev.dispatched(at(6), "T2", "police"),
            ]
        )
        assert (case.state, case_row(case)["lead_department"]) == (S.DISPATCHED, "police")


class TestExtension:
    def test_an_extension_moves_the_deadline_and_keeps_the_original(self):
        case = fold_all([*IN_PROGRESS, ev.extended(at(5), at(100))])
        (task,) = task_rows(case)
        assert (task["dispose_by"], task["original_dispose_by"]) == (at(100), at(50))
        assert (case_row(case)["due_at"], case.extensions, task["extensions"]) == (at(100), 1, 1)

    def test_an_earlier_deadline_is_not_an_extension(self):
        with pytest.raises(IllegalTransition, match="not_an_extension"):
            fold_all([*IN_PROGRESS, ev.extended(at(5), at(40))])

    def test_a_disposed_task_cannot_be_extended(self):
        with pytest.raises(IllegalTransition, match="task_disposed"):
            fold_all([*DISPOSED, ev.extended(at(11), at(100))])


class TestCheckAndRework:
    def test_a_failed_check_sends_the_lead_back_to_work(self):
        case = fold_all([*DISPOSED, ev.checked(at(11), passed=False)])
        assert (case.state, case.rework, case.disposed_at) == (S.IN_PROGRESS, 1, None)
        assert case.lead is not None and case.lead.status == "accepted"
        case = fold_all([ev.disposed(at(20)), ev.checked(at(21))], case)
        assert (case.state, case.disposals, case_row(case)["disposed_at"]) == (S.CHECKED, 2, at(20))

    def test_an_escalation_is_counted_in_any_open_state(self):
        case = fold_all(
            [
                ev.reported(at(0)),
                ev.escalated(at(1), level=2),
                ev.registered(at(2)),
                ev.escalated(at(3), level=1),
            ]
        )
        assert (case.escalations, case.escalation_level) == (2, 2)


class TestFeedbackAndReopen:
    def test_unresolved_feedback_then_reopen_then_redispatch(self):
        case = fold_all(
            [*CLOSED, ev.feedback(at(13), resolved=False, satisfaction="unsatisfied"), ev.reopened(at(14))]
        )
        row = case_row(case)
        assert (case.state, row["closed_at"], row["reopens"], row["resolved"]) == (S.REOPENED, None, 1, 0)
        case = fold_all([ev.dispatched(at(15), "T2")], case)
        assert case.state == S.DISPATCHED

    @pytest.mark.parametrize("given", [[], [ev.feedback(at(13), resolved=True)]])
    def test_reopen_for_unresolved_feedback_needs_it(self, given):
        with pytest.raises(IllegalTransition, match="no_unresolved_feedback"):
            fold_all([*CLOSED, *given, ev.reopened(at(14))])

    def test_one_feedback_per_closure(self):
        with pytest.raises(IllegalTransition, match="feedback_exists"):
            fold_all([*CLOSED, ev.feedback(at(13)), ev.feedback(at(14))])

    def test_feedback_needs_a_closed_case(self):
        with pytest.raises(IllegalTransition, match="illegal_transition"):
            fold_all([*DISPOSED, ev.feedback(at(13))])


class TestVoid:
    def test_a_duplicate_names_the_other_case(self):
        case = fold_all([ev.reported(at(0)), ev.voided(at(1), "duplicate", "C-9")])
        row = case_row(case)
        assert (row["state"], row["void_reason"], row["duplicate_of"]) == ("VOIDED", "duplicate", "C-9")

    @pytest.mark.parametrize("other", [None, "C-1"])
    def test_a_duplicate_without_another_case_is_illegal(self, other):
        with pytest.raises(IllegalTransition, match="duplicate_of_missing"):
            fold_all([ev.reported(at(0)), ev.voided(at(1), "duplicate", other)])

    def test_nothing_follows_a_void(self):
        with pytest.raises(IllegalTransition, match="case_voided"):
            fold_all([ev.reported(at(0)), ev.voided(at(1)), ev.escalated(at(2))])


class TestRows:
    def test_a_full_case_row(self):
        case = fold_all([*CLOSED, ev.feedback(at(13), satisfaction="basically_satisfied")])
        row = case_row(case)
        assert row["reported_at"] == at(0) and row["closed_at"] == at(12)
        assert (row["due_at"], row["accept_by"], row["version"]) == (at(50), at(3), 8)
        assert (row["resolved"], row["satisfaction"], row["feedback_at"]) == (
            1,
            "basically_satisfied",
            at(13),
        )
        # Mon 09:00 → 21:00 New York: 9 office hours
        assert (row["report_to_close_ws"], row["report_to_register_ws"]) == (9 * 3600, 3600)

    def test_times_are_floored_to_whole_seconds(self):
        case = fold_all([ev.reported(at(0) + timedelta(milliseconds=999))])
        assert case_row(case)["reported_at"] == at(0)

    def test_task_rows_since_a_version_are_the_changed_ones(self):
        case = fold_all(
            [*DISPATCHED, ev.dispatched(at(2), "A1", "water", "assist"), ev.accepted(at(3), "A1")]
        )
        assert [r["task_id"] for r in task_rows(case, since_version=4)] == ["A1"]
        assert len(task_rows(case)) == 2
