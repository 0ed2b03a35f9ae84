"""The escalation ladder: due steps taken in order, only while a role is short."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests import factories
from volunteer_hub.db import utcnow
from volunteer_hub.emergency import activation as activation_service
from volunteer_hub.emergency import escalation, jobs
from volunteer_hub.emergency.models import Activation, ActivationEvent, Responder
from volunteer_hub.notify.models import OutboxMessage


# Messages are only written to the outbox here; with a gateway URL SMS is not replaced
# by e-mail, and nothing is sent.
pytestmark = pytest.mark.usefixtures("sms_gateway_configured")


def plan_with(make_plan, world, steps, **level_changes):
    from tests.emergency.conftest import default_plan_data

    levels = default_plan_data(world)["levels"]
    levels["3"].update(escalation=steps, **level_changes)
    return make_plan(levels=levels)


def responders(db, activation) -> dict[str, Responder]:
    rows = db.session.execute(select(Responder).where(
        Responder.activation_id == activation.id)).scalars().all()
    return {r.volunteer.real_name: r for r in rows}


def recipients(db, event_key: str, channel: str = "sms") -> set[int]:
    return set(db.session.execute(select(OutboxMessage.recipient_id).where(
        OutboxMessage.event_key == event_key, OutboxMessage.channel == channel)).scalars())


def steps_logged(db, activation) -> list[str]:
    return [e.detail["action"] for e in db.session.execute(
        select(ActivationEvent).filter_by(activation_id=activation.id, kind="escalation")
        .order_by(ActivationEvent.id)).scalars()]


def fill_every_role(db, activation) -> None:
    """Assign enough coming responders to every seat (as assignment would)."""
    people = list(responders(db, activation).values())
    for role in activation.roles:
        for _ in range(role.needed):
            person = people.pop()
            person.answer, person.role_id = "coming", role.id


def test_renotify_is_due_only_after_its_minutes_and_reaches_the_silent(
        world, make_plan, activate_drill, db):
    plan = plan_with(make_plan, world, [{"after_minutes": 10, "action": "renotify"}])
    activation = activate_drill(plan)
    people = responders(db, activation)
    people["李二"].answer = "cannot"
    people["王一"].answer = "coming"
    db.session.commit()
    start = activation.activated_at

    assert escalation.run_escalation(activation, start + timedelta(minutes=9)) == 0
    assert escalation.run_escalation(activation, start + timedelta(minutes=10)) == 1
    db.session.commit()

    silent = {world.v(k).user_id for k in ("zhao", "qian", "sun", "zhou")}
    assert recipients(db, f"emergency:{activation.id}:alert:2") == silent
    assert recipients(db, f"emergency:{activation.id}:alert:2", "email") == silent
    assert responders(db, activation)["赵三"].notify_round == 2
    assert responders(db, activation)["王一"].notify_round == 1
    assert activation.escalation_steps_taken == 1 and steps_logged(db, activation) == ["renotify"]
    # Taken once: a later check does not notify again.
    assert escalation.run_escalation(activation, start + timedelta(minutes=60)) == 0


def test_no_step_while_every_role_is_full_and_the_ladder_resumes_on_a_drop_out(
        world, make_plan, activate_drill, db):
    plan = plan_with(make_plan, world, [{"after_minutes": 5, "action": "lower_level"}])
    activation = activate_drill(plan)
    fill_every_role(db, activation)
    db.session.commit()
    later = activation.activated_at + timedelta(minutes=30)
    assert escalation.run_escalation(activation, later) == 0
    assert activation.skill_level_relaxed_by == 0

    dropped = next(r for r in responders(db, activation).values() if r.role_id is not None)
    dropped.answer, dropped.role_id = "cannot", None
    db.session.commit()
    assert escalation.run_escalation(activation, later) == 1
    assert activation.skill_level_relaxed_by == 1
    event = db.session.execute(select(ActivationEvent).filter_by(
        activation_id=activation.id, kind="escalation")).scalar_one()
    assert event.detail["short"]  # the timeline says which role was short


def test_next_team_and_widen_radius_call_new_people_in_order(
        world, make_plan, activate_drill, db):
    plan = plan_with(make_plan, world, [
        {"after_minutes": 5, "action": "next_team"},
        {"after_minutes": 15, "action": "widen_radius", "value": 40},
    ], initial_teams=1)
    activation = activate_drill(plan)
    assert set(responders(db, activation)) == {"王一", "李二", "赵三", "钱四"}
    start = activation.activated_at

    assert escalation.run_escalation(activation, start + timedelta(minutes=6)) == 1
    db.session.commit()
    assert activation.team_ids_called == [world.flood_team.id, world.medical_team.id]
    assert set(responders(db, activation)) == {"王一", "李二", "赵三", "钱四", "孙五", "周六"}
    assert recipients(db, f"emergency:{activation.id}:alert:1") == {
        v.user_id for k, v in world.volunteers.items() if k != "far"}

    assert escalation.run_escalation(activation, start + timedelta(minutes=16)) == 1
    db.session.commit()
    far = responders(db, activation)["吴七"]
    assert activation.radius_km == 40 and 29 < far.distance_km < 31
    assert world.v("far").user_id in recipients(db, f"emergency:{activation.id}:alert:1")
    assert steps_logged(db, activation) == ["next_team", "widen_radius"]


def test_all_due_steps_run_in_one_check(world, make_plan, activate_drill, db):
    plan = plan_with(make_plan, world, [
        {"after_minutes": 5, "action": "lower_level"},
        {"after_minutes": 10, "action": "lower_level"},
        {"after_minutes": 90, "action": "renotify"},
    ])
    activation = activate_drill(plan)
    assert escalation.run_escalation(activation, activation.activated_at
                                     + timedelta(minutes=11)) == 2
    assert activation.skill_level_relaxed_by == 2 and activation.escalation_steps_taken == 2


def test_page_coordinator_reaches_the_activator_and_coordinators_above(
        world, make_plan, activate_drill, tree, db):
    district_coordinator = factories.make_staff(tree["district"], "coordinator", "区协调员")
    db.session.commit()
    plan = plan_with(make_plan, world, [{"after_minutes": 1, "action": "page_coordinator"}])
    activation = activate_drill(plan)
    assert escalation.run_escalation(activation,
                                     activation.activated_at + timedelta(minutes=2)) == 1
    db.session.commit()
    key = f"emergency:{activation.id}:page:0"
    assert recipients(db, key, "inbox") == {world.coordinator.id, district_coordinator.id}
    assert world.outsider.id not in recipients(db, key, "inbox")
    page = db.session.execute(select(OutboxMessage).filter_by(
        event_key=key, recipient_id=world.coordinator.id, channel="sms")).scalar_one()
    assert page.urgent and page.body.startswith("【演练】") and "rescue 0/2" in page.body


def test_the_job_escalates_active_activations_only(world, make_plan, activate_drill, app, db):
    plan = plan_with(make_plan, world, [{"after_minutes": 1, "action": "lower_level"}])
    ended = activate_drill(plan)
    activation_service.stand_down(ended, by=world.coordinator)
    db.session.commit()
    running = activate_drill(plan)
    for activation in (running, ended):
        activation.activated_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    job = next(job for job in jobs.JOBS if job.id == "emergency.escalation")
    assert job.trigger == "interval" and job.trigger_args == {"minutes": 1}
    job.func()
    db.session.expire_all()
    assert db.session.get(Activation, running.id).skill_level_relaxed_by == 1
    assert db.session.get(Activation, ended.id).skill_level_relaxed_by == 0


def test_a_renotified_link_counts_its_lifetime_from_its_own_round(
        world, make_plan, activate_drill, db):
    from volunteer_hub.emergency import responses
    from volunteer_hub.emergency.settings import set_settings
    from volunteer_hub.errors import DomainError
    from volunteer_hub.notify import fanout
    from volunteer_hub.notify.models import OutboxContent, now

    set_settings(world.tree["street"], {"link_valid_hours": 1}, by=None)
    plan = plan_with(make_plan, world, [{"after_minutes": 90, "action": "renotify"}])
    activation = activate_drill(plan)
    first_round = f"emergency:{activation.id}:alert:1"
    # The first round went out two hours ago: its links have expired.
    db.session.execute(OutboxContent.__table__.update().where(
        OutboxContent.event_key == first_round).values(created_at=now() - timedelta(hours=2)))
    db.session.execute(Responder.__table__.update().where(
        Responder.activation_id == activation.id).values(
        notified_at=utcnow() - timedelta(hours=2)))
    db.session.commit()
    due = activation.activated_at + timedelta(minutes=90)
    assert escalation.run_escalation(activation, due) == 1
    db.session.commit()

    def token(event_key: str) -> str:
        sms = db.session.execute(select(OutboxMessage).filter_by(
            event_key=event_key, recipient_id=world.v("zhao").user_id, channel="sms")).scalar_one()
        [sent] = fanout.render([sms])
        return sent.body.split("/emergency/respond/")[1].split()[0]

    with pytest.raises(DomainError) as expired:
        responses.responder_from_token(token(first_round))
    assert expired.value.code == "EMERGENCY_LINK_EXPIRED"
    second = responses.responder_from_token(token(f"emergency:{activation.id}:alert:2"))
    assert second.volunteer_id == world.v("zhao").id


def test_a_team_called_later_gets_links_that_count_from_its_call(
        world, make_plan, activate_drill, db):
    from volunteer_hub.emergency import responses
    from volunteer_hub.emergency.settings import set_settings
    from volunteer_hub.notify import fanout
    from volunteer_hub.notify.models import OutboxContent, now

    set_settings(world.tree["street"], {"link_valid_hours": 1}, by=None)
    plan = plan_with(make_plan, world, [{"after_minutes": 120, "action": "next_team"}],
                     initial_teams=1)
    activation = activate_drill(plan)
    alert = f"emergency:{activation.id}:alert:1"
    db.session.execute(OutboxContent.__table__.update().where(
        OutboxContent.event_key == alert).values(created_at=now() - timedelta(hours=2)))
    db.session.commit()
    assert escalation.run_escalation(
        activation, activation.activated_at + timedelta(minutes=120)) == 1
    db.session.commit()
    sms = db.session.execute(select(OutboxMessage).filter_by(
        event_key=alert, recipient_id=world.v("sun").user_id, channel="sms")).scalar_one()
    [sent] = fanout.render([sms])  # the same round-1 text, two hours after it was written
    token = sent.body.split("/emergency/respond/")[1].split()[0]
    assert responses.responder_from_token(token).volunteer_id == world.v("sun").id
