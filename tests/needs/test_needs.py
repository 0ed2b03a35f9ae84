"""Needs: validation, recurrence expansion into slots, and every state transition."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.needs import helpers
from volunteer_hub.db import db
from volunteer_hub.errors import Conflict, DomainError, ValidationFailed
from volunteer_hub.matching import services as matching
from volunteer_hub.needs import services as needs


def test_one_occurrence_expands_into_one_slot_per_volunteer(tree):
    need = helpers.need(tree["b"], volunteers_per_occurrence=3)
    assert need.state == "open"
    assert len(need.slots) == 3
    assert {s.position for s in need.slots} == {1, 2, 3}
    assert all(s.start.hour == 9 and s.end.hour == 11 for s in need.slots)


def test_weekly_recurrence_every_tuesday_for_three_months(tree):
    first = helpers.next_weekday(1)
    need = helpers.need(tree["b"], recurrence="weekly", weekdays=[1], first_date=first,
                        until=first + timedelta(days=90))
    starts = sorted({s.start for s in need.slots})
    assert len(starts) == 13
    assert all(s.weekday() == 1 for s in starts)
    assert starts[1] - starts[0] == timedelta(weeks=1)


def test_weekly_recurrence_needs_days_and_an_end(tree):
    with pytest.raises(ValidationFailed) as error:
        needs.create_need(helpers.need_data(tree["b"], recurrence="weekly", weekdays=[]),
                          by=None)
    assert error.value.code == "WEEKDAYS_REQUIRED"
    with pytest.raises(ValidationFailed) as error:
        needs.create_need(helpers.need_data(tree["b"], recurrence="weekly", weekdays=[1]),
                          by=None)
    assert error.value.code == "RECURRENCE_UNTIL"


def test_unknown_skill_and_bad_time_window_are_refused(tree):
    with pytest.raises(ValidationFailed) as error:
        needs.create_need(helpers.need_data(tree["b"], required_skills=[
            {"code": "juggling", "min_level": 1}]), by=None)
    assert error.value.code == "SKILL_UNKNOWN"
    with pytest.raises(ValidationFailed) as error:
        needs.create_need(helpers.need_data(tree["b"], start_minute=600, end_minute=540),
                          by=None)
    assert error.value.code == "TIME_WINDOW"


def test_draft_has_no_slots_until_opened(tree):
    need = helpers.need(tree["b"], publish=False)
    assert need.state == "draft" and need.slots == []
    needs.set_need_state(need, "open", by=None)
    assert need.state == "open" and len(need.slots) == 1


def test_open_partly_matched_matched_follow_the_slots(tree):
    need = helpers.need(tree["b"], volunteers_per_occurrence=2)
    a = helpers.volunteer(tree["b"])
    b = helpers.volunteer(tree["b"])
    first = matching.sign_up(need, a, by=None)
    db.session.commit()
    assert first.state == "accepted" and need.state == "partly_matched"
    matching.sign_up(need, b, by=None)
    db.session.commit()
    assert need.state == "matched"
    matching.cancel_assignment(first, reason="ill", by=None)
    db.session.commit()
    assert need.state == "partly_matched"


def test_in_progress_then_done(tree):
    need = helpers.need(tree["b"])
    needs.set_need_state(need, "in_progress", by=None)
    assert need.state == "in_progress"
    needs.set_need_state(need, "done", by=None)
    assert need.state == "done"
    assert all(s.status == "done" for s in need.slots)


def test_cancel_needs_a_reason_and_releases_everyone(tree):
    need = helpers.need(tree["b"])
    v = helpers.volunteer(tree["b"])
    assignment = matching.sign_up(need, v, by=None)
    db.session.commit()
    with pytest.raises(ValidationFailed) as error:
        needs.set_need_state(need, "cancelled", reason=" ", by=None)
    assert error.value.code == "REASON_REQUIRED"
    needs.set_need_state(need, "cancelled", reason="The family moved away", by=None)
    db.session.commit()
    assert need.state == "cancelled" and need.cancel_reason == "The family moved away"
    assert assignment.state == "cancelled"
    assert all(s.status == "cancelled" for s in need.slots)
    inbox = db.session.execute(needs.inbox(v.user)).scalars().all()
    assert "cancelled" in inbox[0].body


@pytest.mark.parametrize("start, target", [
    ("draft", "in_progress"), ("draft", "done"), ("open", "done"), ("open", "draft"),
])
def test_forbidden_transitions(tree, start, target):
    need = helpers.need(tree["b"], publish=start != "draft")
    with pytest.raises(Conflict) as error:
        needs.set_need_state(need, target, by=None)
    assert error.value.code == "NEED_STATE_TRANSITION"


def test_done_and_cancelled_are_final(tree):
    need = helpers.need(tree["b"])
    needs.set_need_state(need, "cancelled", reason="x", by=None)
    for target in ("open", "in_progress", "done"):
        with pytest.raises(DomainError):
            needs.set_need_state(need, target, by=None)


def test_only_a_draft_can_be_edited(tree, make_staff):
    organizer = make_staff(tree["b"], "organizer")
    need = helpers.need(tree["b"], publish=False)
    needs.update_need(need, {"title": "New title", "priority": "urgent"}, by=organizer)
    assert need.title == "New title" and need.priority == "urgent"
    needs.set_need_state(need, "open", by=organizer)
    with pytest.raises(Conflict):
        needs.update_need(need, {"title": "x"}, by=organizer)


def test_need_for_a_child_always_asks_for_a_background_check(tree):
    child = helpers.beneficiary(tree["b"], category="left_behind_child", name="小明",
                                birth_date=helpers.next_weekday(0).replace(year=2015),
                                guardian={"name": "李奶奶", "phone": "13900000009"},
                                guardian_consent=True)
    need = helpers.need(tree["b"], type="tutoring", beneficiary_id=child.id)
    assert need.background_check is True
