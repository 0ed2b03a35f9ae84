"""run_matching persists proposals with explanations; confirm -> inbox -> accept;
a decline re-matches only that slot and keeps the others."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.needs import helpers
from volunteer_hub.db import db
from volunteer_hub.errors import DomainError, ValidationFailed
from volunteer_hub.matching import jobs
from volunteer_hub.matching import services as matching
from volunteer_hub.matching.models import Assignment, MatchingRun
from volunteer_hub.needs import services as needs


def _range():
    day = helpers.next_weekday(1)
    return day - timedelta(days=1), day + timedelta(days=1)


def test_run_persists_proposals_with_explanations(tree, make_staff):
    organizer = make_staff(tree["b"], "organizer")
    near = helpers.volunteer(tree["b"], skills=[{"code": "elder_care", "level": 2}])
    helpers.volunteer(tree["b"], skills=[{"code": "elder_care", "level": 2}],
                      lat=helpers.LAT + 0.03)  # about 3 km further away
    need = helpers.need(tree["b"], required_skills=[{"code": "elder_care", "min_level": 2}])
    start, end = _range()
    run = matching.run_matching(tree["b"], start, end, by=organizer)
    db.session.commit()
    assert run.stats["slots"] == 1 and run.stats["filled"] == 1
    [proposal] = run.assignments
    assert proposal.state == "proposed" and proposal.volunteer_id == near.id
    assert proposal.slot.need_id == need.id
    explanation = proposal.explanation
    assert explanation["relation"] == "coordinates"
    assert explanation["distance_km"] < 1
    assert explanation["skills_matched"] == {"elder_care": {"level": 2, "required": 2}}
    assert explanation["recent_load"] == 0 and explanation["continuity"] is False
    assert need.state == "open"  # a proposal fills nothing until confirmed


def test_unfilled_slots_carry_their_reason(tree):
    helpers.volunteer(tree["b"])  # no skills
    helpers.need(tree["b"], required_skills=[{"code": "nursing", "min_level": 3}])
    run = matching.run_matching(tree["b"], *_range(), by=None)
    assert run.stats["filled"] == 0
    assert run.stats["unfilled"][0]["reason"] == "missing_skill"


def test_a_second_run_replaces_unconfirmed_proposals_and_keeps_confirmed(tree):
    helpers.volunteer(tree["b"])
    helpers.volunteer(tree["b"])
    helpers.need(tree["b"], volunteers_per_occurrence=2)
    first = matching.run_matching(tree["b"], *_range(), by=None)
    keep, drop = first.assignments
    matching.confirm_assignment(keep, by=None)
    db.session.commit()
    second = matching.run_matching(tree["b"], *_range(), by=None)
    db.session.commit()
    assert keep.state == "confirmed"
    assert drop.state == "cancelled" and "superseded" in drop.reason
    assert [a.slot_id for a in second.assignments] == [drop.slot_id]


def test_one_volunteer_gets_several_non_overlapping_slots_over_rounds(tree):
    helpers.volunteer(tree["b"])
    first = helpers.next_weekday(1)
    helpers.need(tree["b"], recurrence="weekly", weekdays=[1, 3], first_date=first,
                 until=first + timedelta(days=3))
    run = matching.run_matching(tree["b"], first, first + timedelta(days=3), by=None)
    assert run.stats["slots"] == 2 and run.stats["filled"] == 2
    assert len({a.volunteer_id for a in run.assignments}) == 1


def test_confirm_notifies_and_the_volunteer_accepts(tree, make_staff):
    organizer = make_staff(tree["b"], "organizer")
    v = helpers.volunteer(tree["b"])
    need = helpers.need(tree["b"])
    run = matching.run_matching(tree["b"], *_range(), by=organizer)
    [proposal] = run.assignments
    matching.confirm_assignment(proposal, by=organizer)
    db.session.commit()
    assert proposal.state == "confirmed" and need.state == "matched"
    [note] = db.session.execute(needs.inbox(v.user)).scalars().all()
    assert need.title in note.body and note.link == f"/me/tasks/{proposal.id}"
    with pytest.raises(DomainError) as error:
        matching.accept_assignment(proposal, by=organizer)
    assert error.value.code == "NOT_YOUR_TASK"
    matching.accept_assignment(proposal, by=v.user)
    db.session.commit()
    assert proposal.state == "accepted" and proposal.responded_at is not None


def test_decline_rematches_only_that_slot_and_keeps_the_others(tree, make_staff):
    organizer = make_staff(tree["b"], "organizer")
    organizer.locale = "en"  # the inbox text below is read in English
    volunteers = [helpers.volunteer(tree["b"], lat=helpers.LAT + i * 0.002) for i in range(3)]
    helpers.need(tree["b"], volunteers_per_occurrence=2)
    run = matching.run_matching(tree["b"], *_range(), by=organizer)
    first, second = run.assignments
    for assignment in (first, second):
        matching.confirm_assignment(assignment, by=organizer)
    matching.accept_assignment(second, by=second.volunteer.user)
    db.session.commit()
    decliner = first.volunteer
    matching.decline_assignment(first, reason="away", by=decliner.user)
    db.session.commit()
    assert first.state == "declined"
    assert second.state == "accepted"  # untouched
    fresh = db.session.execute(db.select(Assignment).where(
        Assignment.slot_id == first.slot_id, Assignment.state == "proposed")).scalar_one()
    assert fresh.volunteer_id not in {decliner.id, second.volunteer_id}
    assert fresh.volunteer_id == volunteers[2].id
    assert fresh.run.kind == "rematch"
    # The organizer who confirmed hears about it.
    notes = db.session.execute(needs.inbox(organizer)).scalars().all()
    assert "new proposal" in notes[0].body


def test_cancel_by_organizer_rematches_and_never_proposes_the_same_person(tree):
    helpers.volunteer(tree["b"])
    helpers.need(tree["b"])
    [proposal] = matching.run_matching(tree["b"], *_range(), by=None).assignments
    matching.cancel_assignment(proposal, reason="not suitable", by=None)
    db.session.commit()
    rematch = db.session.execute(db.select(MatchingRun).where(
        MatchingRun.kind == "rematch")).scalar_one()
    assert rematch.stats["filled"] == 0 and rematch.stats["excluded"] == [proposal.volunteer_id]


def test_replace_volunteer_checks_feasibility(tree, make_staff):
    organizer = make_staff(tree["b"], "organizer")
    helpers.volunteer(tree["b"], skills=[{"code": "elder_care", "level": 2}])
    other = helpers.volunteer(tree["b"], skills=[{"code": "elder_care", "level": 3}],
                              lat=helpers.LAT + 0.01)
    unskilled = helpers.volunteer(tree["b"])
    helpers.need(tree["b"], required_skills=[{"code": "elder_care", "min_level": 2}])
    [proposal] = matching.run_matching(tree["b"], *_range(), by=organizer).assignments
    with pytest.raises(ValidationFailed) as error:
        matching.replace_volunteer(proposal, unskilled.id, by=organizer)
    assert error.value.code == "SKILL_MISSING"
    matching.replace_volunteer(proposal, other.id, by=organizer)
    assert proposal.volunteer_id == other.id and proposal.explanation["manual"] is True
    assert proposal.explanation["skills_matched"]["elder_care"] == {"level": 3, "required": 2}


def test_confirm_refuses_a_volunteer_already_committed_at_that_time(tree):
    v = helpers.volunteer(tree["b"])
    one = helpers.need(tree["b"])
    helpers.need(tree["b"])
    matching.sign_up(one, v, by=None)
    db.session.commit()
    run = matching.run_matching(tree["b"], *_range(), by=None)
    assert run.stats["filled"] == 0 and run.stats["unfilled"][0]["reason"] == "busy"


def _within_the_night_horizon():
    return needs.local_today() + timedelta(days=2)


def test_nightly_job_runs_only_communities_with_open_slots(tree):
    helpers.volunteer(tree["b"])
    helpers.volunteer(tree["a"])
    helpers.need(tree["b"], first_date=_within_the_night_horizon())
    run_ids = jobs.nightly_matching()
    runs = [db.session.get(MatchingRun, i) for i in run_ids]
    assert [r.org.id for r in runs] == [tree["b"].id]  # tree["a"] has nothing to match
    assert all(r.kind == "nightly" for r in runs)
    assert runs[0].stats["filled"] == 1
    assert jobs.JOBS[0].trigger == "cron"


def test_nightly_job_replaces_its_own_proposals_of_the_night_before(tree):
    helpers.volunteer(tree["b"])
    helpers.need(tree["b"], first_date=_within_the_night_horizon())
    [first] = jobs.nightly_matching()
    [second] = jobs.nightly_matching()
    old, new = db.session.get(MatchingRun, first), db.session.get(MatchingRun, second)
    assert new.stats["withdrawn"] == 1 and new.stats["filled"] == 1
    assert [a.state for a in old.assignments] == ["cancelled"]


def test_organizer_outside_scope_cannot_run(tree, make_staff):
    outsider = make_staff(tree["a"], "organizer")
    from volunteer_hub.errors import Forbidden

    with pytest.raises(Forbidden):
        matching.run_matching(tree["b"], *_range(), by=outsider)


def test_the_notification_shows_the_local_time_of_the_task(tree):
    v = helpers.volunteer(tree["b"])
    helpers.need(tree["b"])  # 09:00-11:00 station time
    [proposal] = matching.run_matching(tree["b"], *_range(), by=None).assignments
    matching.confirm_assignment(proposal, by=None)
    [note] = db.session.execute(needs.inbox(v.user)).scalars().all()
    assert "9:00" in note.body or "09:00" in note.body, note.body
