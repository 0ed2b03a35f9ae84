"""Well-being roll call of vulnerable beneficiaries: who is checked, who sees what, the log."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.emergency.conftest import near
from tests.web.helpers import login, post_form, text
from volunteer_hub.emergency import responses, wellbeing
from volunteer_hub.emergency.models import Responder, WellbeingCheck
from volunteer_hub.errors import NotFound, ValidationFailed
from volunteer_hub.needs import services as needs
from volunteer_hub.needs.models import BeneficiaryAccessLog


def person(world, name, category="elderly_alone", km=1.0, **extra):
    lat, lon = near(km)
    data = {"category": category, "name": name, "community_id": world.tree["b"].id,
            "address": f"{name}家 幸福路 8 号", "phone": "13900000001", "lat": lat, "lon": lon}
    if category == "left_behind_child":
        data.update(birth_date=date(2016, 3, 1), guardian_consent=True,
                    guardian={"name": "爷爷", "phone": "13900000077",
                              "relationship": "grandfather"})
    data.update(extra)
    return needs.create_beneficiary(data, by=None)


@pytest.fixture
def area(db, world):
    people = {
        "granny": person(world, "王奶奶", km=0.8),
        "child": person(world, "小明", "left_behind_child", km=1.2),
        "disabled": person(world, "刘叔", "disability", km=2.5),
        "empty_nest": person(world, "陈伯", "empty_nest", km=1.0),  # not in the roll call
        "far": person(world, "远方", km=40.0),  # outside the 10 km radius
        "moved": person(world, "已迁出", km=1.0),
    }
    people["moved"].active = False
    db.session.commit()
    return people


def coming(db, drill, world, *shorts):
    out = []
    for short in shorts:
        responder = db.session.execute(select(Responder).filter_by(
            activation_id=drill.id, volunteer_id=world.v(short).id)).scalar_one()
        responses.answer(responder, "coming", 10, channel="link")
        out.append(responder)
    db.session.commit()
    return out


def test_the_roll_call_takes_the_vulnerable_of_the_area_and_spreads_them(db, world, area,
                                                                         drill):
    wang, zhou = coming(db, drill, world, "wang", "zhou")
    checks = wellbeing.start(drill, by=world.organizer)
    db.session.commit()
    assert sorted(c.beneficiary_id for c in checks) == sorted(
        area[k].id for k in ("granny", "child", "disabled"))
    by_responder = {}
    for check in checks:
        by_responder.setdefault(check.responder_id, []).append(check.beneficiary_id)
    assert sorted(len(v) for v in by_responder.values()) == [1, 2]
    assert set(by_responder) == {wang.id, zhou.id}
    # wang lives 0.5 km north, zhou 2.5 km: the one 2.5 km north goes to zhou
    assert area["disabled"].id in by_responder[zhou.id]
    from volunteer_hub.notify.models import OutboxMessage

    told = db.session.execute(select(OutboxMessage.body).where(
        OutboxMessage.recipient_id == world.v("zhou").user_id, OutboxMessage.channel == "inbox",
        OutboxMessage.event_key.like(f"emergency:{drill.id}:wellbeing:%"))).scalars().all()
    assert len(told) == 1 and told[0].startswith("DRILL: ") and "/emergency/alerts" in told[0]
    assert "刘" not in told[0]  # no names in messages
    assert wellbeing.start(drill, by=world.coordinator) == []  # nothing new the second time
    from volunteer_hub.emergency.models import ActivationEvent

    started = db.session.execute(select(ActivationEvent.detail).filter_by(
        activation_id=drill.id, kind="wellbeing_started").order_by(ActivationEvent.id)).all()
    assert [d["count"] for (d,) in started] == [3, 0]


def test_without_responders_the_checks_stay_with_the_organizers(db, world, area, drill):
    checks = wellbeing.start(drill, by=world.coordinator)
    assert checks and all(c.responder_id is None for c in checks)
    with pytest.raises(NotFound):
        wellbeing.start(drill, by=world.outsider)
    with pytest.raises(NotFound):
        wellbeing.start(drill, by=world.v("wang").user)


def test_the_assigned_volunteer_sees_only_their_check_and_every_read_is_logged(
        db, world, area, drill):
    [wang] = coming(db, drill, world, "wang")
    coming(db, drill, world, "li")  # another responder of the same call-out
    checks = wellbeing.start(drill, by=world.organizer)
    db.session.commit()
    check = next(c for c in checks if c.beneficiary_id == area["granny"].id)
    wellbeing.reassign(check, wang.id, by=world.coordinator)
    db.session.commit()
    view = wellbeing.contact_view(check, by=world.v("wang").user)
    assert view["name_masked"] == "王**" and "name" not in view
    assert view["address"] == "王奶奶家 幸福路 8 号" and view["phone"] == "13900000001"
    assert view["note"] is None
    [log] = db.session.execute(select(BeneficiaryAccessLog).filter_by(
        beneficiary_id=area["granny"].id)).scalars().all()
    assert log.user_id == world.v("wang").user.id
    assert log.field_list == ["address", "phone"]
    assert log.purpose == f"emergency:{drill.id}:wellbeing:drill"
    with pytest.raises(NotFound):
        wellbeing.contact_view(check, by=world.v("li").user)


def test_a_volunteer_who_drops_out_or_goes_home_loses_the_address(db, world, area, drill):
    from volunteer_hub.emergency import rollcall

    wang, li = coming(db, drill, world, "wang", "li")
    checks = wellbeing.start(drill, by=world.organizer)
    granny = next(c for c in checks if c.beneficiary_id == area["granny"].id)
    child = next(c for c in checks if c.beneficiary_id == area["child"].id)
    wellbeing.reassign(granny, wang.id, by=world.organizer)
    wellbeing.reassign(child, li.id, by=world.organizer)
    db.session.commit()
    assert wellbeing.contact_view(granny, by=world.v("wang").user)["address"]
    responses.answer(wang, "cannot", channel="link")
    db.session.commit()
    with pytest.raises(NotFound):
        wellbeing.contact_view(granny, by=world.v("wang").user)
    rollcall.mark_arrived(drill, li.id, by=world.coordinator)
    rollcall.check_out(li, by=world.coordinator)
    db.session.commit()
    with pytest.raises(NotFound):
        wellbeing.contact_view(child, by=world.v("li").user)


def test_after_stand_down_only_the_communitys_organizers_see_contact_details(
        db, world, area, drill):
    from volunteer_hub.emergency.activation import stand_down

    check = wellbeing.start(drill, by=world.organizer)[0]
    db.session.commit()
    assert wellbeing.contact_view(check, by=world.coordinator)["address"]
    stand_down(drill, by=world.coordinator)
    db.session.commit()
    with pytest.raises(NotFound):
        wellbeing.contact_view(check, by=world.coordinator)  # district coordinator
    assert wellbeing.contact_view(check, by=world.organizer)["address"]


def test_a_childs_own_phone_is_never_shown_the_guardians_is(db, world, area, drill):
    [wang] = coming(db, drill, world, "wang")
    check = next(c for c in wellbeing.start(drill, by=world.organizer)
                 if c.beneficiary_id == area["child"].id)
    wellbeing.reassign(check, wang.id, by=world.organizer)
    view = wellbeing.contact_view(check, by=world.v("wang").user)
    assert "phone" not in view and view["guardian_phone"] == "13900000077"


def test_outcomes_are_recorded_with_an_encrypted_note(db, world, area, drill):
    [wang] = coming(db, drill, world, "wang")
    check = next(c for c in wellbeing.start(drill, by=world.organizer)
                 if c.beneficiary_id == area["granny"].id)
    wellbeing.reassign(check, wang.id, by=world.organizer)
    with pytest.raises(ValidationFailed):
        wellbeing.record(check, "fine", by=world.v("wang").user)
    with pytest.raises(ValidationFailed) as error:
        wellbeing.record(check, "needs_help", "", by=world.v("wang").user)
    assert error.value.code == "WELLBEING_NOTE_REQUIRED"
    wellbeing.record(check, "needs_help", "一楼进水，需要转移", by=world.v("wang").user)
    db.session.commit()
    stored = db.session.get(WellbeingCheck, check.id)
    assert stored.status == "needs_help" and "进水" not in stored.note_encrypted
    staff_view = wellbeing.contact_view(stored, by=world.coordinator)
    assert staff_view["note"] == "一楼进水，需要转移"
    assert wellbeing.counts(drill)["needs_help"] == 1


def test_after_stand_down_the_volunteer_loses_access(db, world, area, drill):
    from volunteer_hub.emergency.activation import stand_down

    [wang] = coming(db, drill, world, "wang")
    check = wellbeing.start(drill, by=world.organizer)[0]
    wellbeing.reassign(check, wang.id, by=world.organizer)
    stand_down(drill, by=world.coordinator)
    db.session.commit()
    with pytest.raises(NotFound):
        wellbeing.contact_view(check, by=world.v("wang").user)
    assert wellbeing.contact_view(check, by=world.organizer)["address"]


def test_wellbeing_pages_and_api(db, client, world, area, drill, auth_header):
    [wang] = coming(db, drill, world, "wang")
    started = client.post(f"/api/v1/emergency/activations/{drill.id}/wellbeing-checks",
                          headers=auth_header(world.coordinator))
    assert started.status_code == 201
    assert started.get_json()["counts"]["pending"] == 3
    mine = client.get(f"/api/v1/emergency/activations/{drill.id}/wellbeing-checks",
                      headers=auth_header(world.v("wang").user)).get_json()
    assert len(mine["items"]) == 3 and all(i["responder_id"] == wang.id for i in mine["items"])
    assert "address" not in mine["items"][0]
    stranger = client.get(f"/api/v1/emergency/activations/{drill.id}/wellbeing-checks",
                          headers=auth_header(world.v("far").user))
    assert stranger.status_code == 404
    check_id = mine["items"][0]["id"]
    login(client, world.v("wang").user)
    alerts = client.get("/emergency/alerts")
    assert f"/emergency/wellbeing/{check_id}" in text(alerts)
    page = client.get(f"/emergency/wellbeing/{check_id}")
    assert page.status_code == 200 and "幸福路" in text(page)
    done = post_form(client, f"/emergency/wellbeing/{check_id}", {"status": "safe"},
                     follow_redirects=True)
    assert done.status_code == 200
    db.session.expire_all()
    assert db.session.get(WellbeingCheck, check_id).status == "safe"
