"""Roll call: arrival by QR or by the coordinator, check-out, safety, accountability."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from tests.web.helpers import login, post_form, text
from volunteer_hub.db import utcnow
from volunteer_hub.emergency import responses, rollcall
from volunteer_hub.emergency.models import Responder
from volunteer_hub.errors import Conflict, Forbidden, NotFound, ValidationFailed


def responder_of(db, activation, world, short) -> Responder:
    return db.session.execute(select(Responder).filter_by(
        activation_id=activation.id, volunteer_id=world.v(short).id)).scalar_one()


def test_arrival_by_scanning_the_coordinators_code(db, client, world, drill, auth_header):
    wang = responder_of(db, drill, world, "wang")
    responses.answer(wang, "coming", 10, channel="link")
    db.session.commit()
    issued = client.get(f"/api/v1/emergency/activations/{drill.id}/arrival-token",
                        headers=auth_header(world.coordinator)).get_json()
    assert f"/emergency/activations/{drill.id}/arrive?t=" in issued["url"]
    scanned = client.post(f"/api/v1/emergency/activations/{drill.id}/arrive",
                          json={"t": issued["token"]}, headers=auth_header(world.v("wang").user))
    assert scanned.status_code == 200, scanned.get_json()
    db.session.expire_all()
    wang = db.session.get(Responder, wang.id)
    assert wang.arrived_at is not None and wang.arrival_method == "qr"


def test_the_arrival_page_after_a_scan(db, client, world, drill):
    token = rollcall.arrival_token(drill, by=world.coordinator)
    url = urlsplit(rollcall.arrival_url(drill, token))
    login(client, world.v("li").user)
    page = client.get(f"{url.path}?{url.query}")
    assert page.status_code == 200
    done = post_form(client, url.path, {"t": parse_qs(url.query)["t"][0]},
                     form_url=f"{url.path}?{url.query}", follow_redirects=True)
    assert "已登记到达" in text(done)  # li reads Chinese
    li = responder_of(db, drill, world, "li")
    # Turning up counts as coming, so the coordinator's numbers add up.
    assert li.arrived_at is not None and li.answer == "coming" and li.eta_minutes == 0


def test_an_old_forged_or_foreign_code_does_not_record_arrival(db, world, drill,
                                                               activate_drill, make_plan):
    wang = world.v("wang").user
    old = rollcall.arrival_token(drill, now=utcnow() - timedelta(minutes=10))
    with pytest.raises(ValidationFailed) as error:
        rollcall.arrive_by_qr(drill, old, by=wang)
    assert error.value.code == "EMERGENCY_QR_EXPIRED"
    with pytest.raises(ValidationFailed) as error:
        rollcall.arrive_by_qr(drill, "1.forged.sig", by=wang)
    assert error.value.code == "EMERGENCY_QR_INVALID"
    other = activate_drill(make_plan(name="另一预案"))
    with pytest.raises(ValidationFailed) as error:
        rollcall.arrive_by_qr(drill, rollcall.arrival_token(other), by=wang)
    assert error.value.code == "EMERGENCY_QR_WRONG_ACTIVATION"
    with pytest.raises(NotFound):  # not called out for this one
        rollcall.arrive_by_qr(drill, rollcall.arrival_token(drill), by=world.organizer)
    assert responder_of(db, drill, world, "wang").arrived_at is None


def test_only_coordinators_in_scope_show_the_code_and_mark_arrivals(db, world, drill):
    with pytest.raises(NotFound):
        rollcall.arrival_token(drill, by=world.outsider)
    with pytest.raises(NotFound):
        rollcall.arrival_token(drill, by=world.v("wang").user)
    li = responder_of(db, drill, world, "li")
    with pytest.raises(NotFound):
        rollcall.mark_arrived(drill, li.id, by=world.organizer)  # reads, cannot act
    rollcall.mark_arrived(drill, li.id, by=world.coordinator)
    assert li.arrival_method == "marked"


def test_accountability_lists_every_deployed_responder_until_safe_and_out(db, world, drill):
    from volunteer_hub.emergency.activation import stand_down

    wang, li, zhao = (responder_of(db, drill, world, s) for s in ("wang", "li", "zhao"))
    responses.answer(wang, "coming", 5, channel="link")  # seated, never arrives
    rollcall.mark_arrived(drill, li.id, by=world.coordinator)  # arrives
    responses.answer(zhao, "cannot", channel="sms")  # not deployed: not counted
    db.session.commit()
    missing = {u.responder.id: u.missing for u in rollcall.unaccounted(drill)}
    assert missing == {wang.id: ("safe", "checked_out"), li.id: ("safe", "checked_out")}
    with pytest.raises(Conflict):
        rollcall.check_out(wang, by=world.coordinator)  # never arrived
    stand_down(drill, by=world.coordinator)
    db.session.commit()
    # Accounting goes on after the stand-down.
    rollcall.check_out(li, by=world.v("li").user)
    rollcall.confirm_safe(li, by=world.coordinator)
    rollcall.confirm_safe(wang, by=world.v("wang").user)
    db.session.commit()
    missing = {u.responder.id: u.missing for u in rollcall.unaccounted(drill)}
    assert missing == {wang.id: ("checked_out",)}
    assert li.safe_confirmed_by_id == world.coordinator.id
    with pytest.raises(Forbidden):
        rollcall.confirm_safe(wang, by=world.v("li").user)  # not someone else's


def test_arrival_is_refused_after_stand_down(db, world, drill):
    from volunteer_hub.emergency.activation import stand_down

    token = rollcall.arrival_token(drill)
    stand_down(drill, by=world.coordinator)
    db.session.commit()
    with pytest.raises(Conflict):
        rollcall.arrive_by_qr(drill, token, by=world.v("wang").user)


def test_roll_call_page_and_api(db, client, world, drill, auth_header):
    wang = responder_of(db, drill, world, "wang")
    responses.answer(wang, "coming", 5, channel="link")
    db.session.commit()
    listed = client.get(f"/api/v1/emergency/activations/{drill.id}/responders",
                        headers=auth_header(world.organizer)).get_json()
    assert [r["id"] for r in listed["responders"]] == [wang.id]
    assert listed["unaccounted"][0]["missing"] == ["safe", "checked_out"]
    login(client, world.coordinator)
    page = client.get(f"/emergency/activations/{drill.id}/rollcall")
    assert page.status_code == 200
    assert 'id="arrival-qr"' in text(page) and "王一" in text(page)
    marked = post_form(client, f"/emergency/activations/{drill.id}/rollcall/{wang.id}/arrived",
                       {}, form_url=f"/emergency/activations/{drill.id}/rollcall")
    assert marked.status_code == 302
    db.session.expire_all()
    assert db.session.get(Responder, wang.id).arrival_method == "marked"
    outsider = client.get(f"/api/v1/emergency/activations/{drill.id}/responders",
                          headers=auth_header(world.outsider))
    assert outsider.status_code == 404


def test_the_coordinator_gives_a_role_and_replans_from_the_roll_call_page(db, client, world,
                                                                          drill):
    from volunteer_hub.emergency.models import ActivationRole

    li = responder_of(db, drill, world, "li")
    responses.answer(li, "coming", 5, channel="link")
    db.session.commit()
    page = f"/emergency/activations/{drill.id}/rollcall"
    login(client, world.coordinator)
    post_form(client, f"/emergency/activations/{drill.id}/rollcall/{li.id}/unassign", {},
              form_url=page)
    assert 'name="role_id"' in text(client.get(page))
    first_aid = db.session.execute(select(ActivationRole).filter_by(
        activation_id=drill.id, code="first_aid")).scalar_one()
    given = post_form(client, f"/emergency/activations/{drill.id}/rollcall/{li.id}/role",
                      {"role_id": str(first_aid.id)}, form_url=page, follow_redirects=True)
    assert given.status_code == 200
    db.session.expire_all()
    assert db.session.get(Responder, li.id).role_id == first_aid.id
    wang = responder_of(db, drill, world, "wang")
    wang.answer, wang.eta_minutes = "coming", 15  # e.g. recorded while the plan could not run
    db.session.commit()
    replanned = post_form(client, f"/emergency/activations/{drill.id}/rollcall/replan", {},
                          form_url=page, follow_redirects=True)
    assert replanned.status_code == 200
    db.session.expire_all()
    assert db.session.get(Responder, wang.id).role.code == "rescue"
