"""Assignment of coming responders to roles: re-plans, messages, by hand, fatigue."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tests.emergency.conftest import add_cert
from volunteer_hub.emergency import assignment, responses
from volunteer_hub.emergency.models import ActivationEvent, Responder
from volunteer_hub.errors import Conflict, NotFound, ValidationFailed
from volunteer_hub.notify.models import OutboxMessage


# Messages are only written to the outbox here; with a gateway URL SMS is not replaced
# by e-mail, and nothing is sent.
pytestmark = pytest.mark.usefixtures("sms_gateway_configured")


def responder_of(db, activation, short, world) -> Responder:
    return db.session.execute(select(Responder).filter_by(
        activation_id=activation.id, volunteer_id=world.v(short).id)).scalar_one()


def come(db, activation, world, *pairs) -> dict[str, Responder]:
    people = {}
    for short, eta in pairs:
        people[short] = responder_of(db, activation, short, world)
        responses.answer(people[short], "coming", eta, channel="link")
    db.session.commit()
    return people


def test_each_newly_seated_responder_is_told_role_and_nearest_point(db, world, drill):
    people = come(db, drill, world, ("qian", 10), ("zhao", 5))
    qian = people["qian"]
    assert qian.role.code == "first_aid"
    assert qian.assembly_point == 1  # qian lives 3 km north: the point 2.2 km north is nearer
    assert people["zhao"].role_id is None  # level 1 swimmer: below the rescue minimum
    [sms] = db.session.execute(select(OutboxMessage).filter_by(
        event_key=f"emergency:{drill.id}:assigned:{qian.id}:{qian.role_id}",
        channel="sms")).scalars()
    assert sms.body.startswith("【演练】")
    assert "急救" in sms.body and "二号集合点" in sms.body
    wang = come(db, drill, world, ("wang", 10))["wang"]  # English speaker
    body = db.session.execute(select(OutboxMessage.body).filter_by(
        event_key=f"emergency:{drill.id}:assigned:{wang.id}:{wang.role_id}",
        channel="sms")).scalar_one()
    assert body.startswith("DRILL: ") and "Water rescue" in body and "街道应急站" in body


def test_a_role_is_stamped_filled_when_it_first_becomes_full(db, world, drill):
    come(db, drill, world, ("wang", 10))
    roles = {role.code: role for role in drill.roles}
    assert roles["rescue"].filled_at is None
    come(db, drill, world, ("li", 5))
    filled = roles["rescue"].filled_at
    assert filled is not None
    responses.answer(responder_of(db, drill, "wang", world), "cannot", channel="link")
    db.session.commit()
    assert roles["rescue"].filled_at == filled  # the first time stays for the report


def test_a_replan_keeps_seated_people_and_logs_what_it_did(db, world, drill):
    people = come(db, drill, world, ("wang", 30), ("li", 30))
    seated = {r: people[r].role_id for r in people}
    come(db, drill, world, ("sun", 1))  # faster, but rescue is full: nobody is moved
    assert {r: people[r].role_id for r in people} == seated
    events = db.session.execute(select(ActivationEvent).filter_by(
        activation_id=drill.id, kind="assigned").order_by(ActivationEvent.id)).scalars().all()
    seated_ids = [a["responder_id"] for e in events for a in e.detail["assignments"]]
    assert sorted(seated_ids) == sorted([people["wang"].id, people["li"].id,
                                         responder_of(db, drill, "sun", world).id])


def test_an_expired_certificate_keeps_a_responder_out_of_the_role(db, world, drill):
    from volunteer_hub.volunteers.models import Certification

    for cert in db.session.execute(select(Certification).filter_by(
            volunteer_id=world.v("zhou").id)).scalars():
        cert.expires_on = date.today() - timedelta(days=1)
    db.session.commit()
    zhou = come(db, drill, world, ("zhou", 1))["zhou"]
    assert zhou.role_id is None
    add_cert(world.v("zhou"), "driving_licence")
    db.session.commit()
    assert [c.role_id for c in assignment.replan(drill, by=world.coordinator)] == \
        [r.id for r in drill.roles if r.code == "driver"]


def test_a_recent_deployment_makes_way_for_a_rested_responder(db, world, make_plan,
                                                               activate_drill):
    from volunteer_hub.emergency.activation import stand_down

    plan = make_plan()
    earlier = activate_drill(plan)
    come(db, earlier, world, ("wang", 10))  # wang held a rescue seat last time
    stand_down(earlier, by=world.coordinator)
    db.session.commit()
    drill = activate_drill(plan)
    come(db, drill, world, ("qian", 10))  # first aid is taken
    next(role for role in drill.roles if role.code == "rescue").needed = 1
    wang, li = (responder_of(db, drill, s, world) for s in ("wang", "li"))
    # Both answered before the plan ran: wang is 5 minutes nearer but was deployed lately.
    for responder, eta in ((wang, 10), (li, 15)):
        responder.answer, responder.eta_minutes = "coming", eta
    db.session.flush()
    [change] = assignment.replan(drill, by=world.coordinator)
    assert change.responder_id == li.id
    assert wang.role_id is None


def test_coordinator_assigns_and_unassigns_by_hand(db, client, world, drill, auth_header):
    people = come(db, drill, world, ("li", 5), ("qian", 5))
    li = people["li"]
    roles = {role.code: role for role in drill.roles}
    headers = auth_header(world.coordinator)
    base = f"/api/v1/emergency/activations/{drill.id}/responders"
    taken = client.delete(f"{base}/{li.id}/role", headers=headers)
    assert taken.status_code == 200 and taken.get_json()["role"] is None
    db.session.expire_all()
    assert db.session.get(Responder, li.id).role_id is None  # stood aside, not re-seated
    moved = client.put(f"{base}/{li.id}/role", headers=headers,
                       json={"role_id": roles["rescue"].id, "assembly_point": 0})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["role"]["code"] == "rescue"
    assert moved.get_json()["assembly_point"]["index"] == 0
    unqualified = client.put(f"{base}/{people['qian'].id}/role", headers=headers,
                             json={"role_id": roles["driver"].id})
    assert unqualified.status_code == 422
    assert unqualified.get_json()["error"] == "EMERGENCY_NOT_QUALIFIED"


def test_hand_assignment_refuses_full_roles_and_people_not_coming(db, world, drill):
    people = come(db, drill, world, ("wang", 5), ("li", 5))
    roles = {role.code: role for role in drill.roles}
    sun = responder_of(db, drill, "sun", world)
    with pytest.raises(Conflict) as error:
        assignment.assign_by_hand(drill, sun.id, roles["driver"].id, by=world.coordinator)
    assert error.value.code == "EMERGENCY_NOT_COMING"
    drill.skill_level_relaxed_by = 1
    zhao = come(db, drill, world, ("zhao", 5))["zhao"]
    with pytest.raises(Conflict) as error:
        assignment.assign_by_hand(drill, zhao.id, roles["rescue"].id, by=world.coordinator)
    assert error.value.code == "EMERGENCY_ROLE_FULL"
    with pytest.raises(ValidationFailed):
        assignment.assign_by_hand(drill, people["wang"].id, 999999, by=world.coordinator)


def test_assignment_is_for_coordinators_in_scope_and_only_while_active(db, client, world,
                                                                       drill, auth_header):
    with pytest.raises(NotFound):
        assignment.replan(drill, by=world.outsider)
    response = client.post(f"/api/v1/emergency/activations/{drill.id}/assign",
                           headers=auth_header(world.outsider))
    assert response.status_code == 404
    volunteer = client.post(f"/api/v1/emergency/activations/{drill.id}/assign",
                            headers=auth_header(world.v("wang").user))
    assert volunteer.status_code == 404
    ok = client.post(f"/api/v1/emergency/activations/{drill.id}/assign",
                     headers=auth_header(world.coordinator))
    assert ok.status_code == 200 and ok.get_json() == {"changes": []}
    from volunteer_hub.emergency.activation import stand_down

    stand_down(drill, by=world.coordinator)
    db.session.commit()
    again = client.post(f"/api/v1/emergency/activations/{drill.id}/assign",
                        headers=auth_header(world.coordinator))
    assert again.status_code == 409


def test_simultaneous_answers_never_give_one_seat_twice(app, db, world, drill):
    """Three swimmers answer at the same moment for the two rescue seats, in three real
    transactions: two get a seat, never three (the re-plan locks the activation)."""
    import threading

    from volunteer_hub.db import transaction

    come(db, drill, world, ("qian", 10), ("sun", 10))  # first aid and driver are full
    drill.skill_level_relaxed_by = 1  # zhao qualifies too
    db.session.commit()
    ids = [responder_of(db, drill, s, world).id for s in ("wang", "li", "zhao")]
    barrier = threading.Barrier(len(ids))
    errors = []

    def answer(responder_id):
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                with transaction():
                    responder = db.session.get(Responder, responder_id)
                    responses.answer(responder, "coming", 10, channel="link")
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=answer, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    db.session.rollback()  # end the test's own read transaction: see what the threads wrote
    answers = db.session.execute(select(Responder.answer).where(Responder.id.in_(ids))).all()
    assert [a for (a,) in answers] == ["coming"] * 3
    rescue = next(role for role in drill.roles if role.code == "rescue")
    seated = db.session.execute(select(Responder.id).filter_by(
        activation_id=drill.id, role_id=rescue.id)).scalars().all()
    assert len(seated) == 2
