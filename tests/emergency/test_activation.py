"""Activation: scope, snapshot, targeting, the fan-out in the outbox, and stand-down."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tests.emergency.conftest import INCIDENT, add_cert, make_responder
from volunteer_hub.db import utcnow
from volunteer_hub.emergency import activation as activation_service
from volunteer_hub.emergency import plans, responses
from volunteer_hub.emergency.models import Activation, ActivationEvent, Responder
from volunteer_hub.emergency.settings import set_settings
from volunteer_hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from volunteer_hub.notify import fanout
from volunteer_hub.notify.models import OutboxMessage, PushSubscription
from volunteer_hub.orgs.models import TeamMember
from volunteer_hub.records.models import Activity, ServiceRecord


# Messages are only written to the outbox here; with a gateway URL SMS is not replaced
# by e-mail, and nothing is sent.
pytestmark = pytest.mark.usefixtures("sms_gateway_configured")


def called(db, activation) -> set[str]:
    rows = db.session.execute(select(Responder).where(
        Responder.activation_id == activation.id)).scalars().all()
    return {responder.volunteer.real_name for responder in rows}


def outbox(db, prefix: str) -> list[OutboxMessage]:
    """The messages of events starting with `prefix`, with the text they are sent with."""
    return fanout.filled(db.session.execute(select(OutboxMessage).where(
        OutboxMessage.event_key.startswith(prefix)).order_by(OutboxMessage.id)).scalars().all())


def test_a_drill_calls_qualified_members_in_range_on_every_channel(world, activate_drill, db):
    activation = activate_drill()
    assert called(db, activation) == {"王一", "李二", "赵三", "钱四", "孙五", "周六"}  # not 吴七
    messages = outbox(db, f"emergency:{activation.id}:alert:1")
    by_channel: dict[str, set[int]] = {}
    for message in messages:
        by_channel.setdefault(message.channel, set()).add(message.recipient_id)
        assert message.urgent
    user_ids = {v.user_id for k, v in world.volunteers.items() if k != "far"}
    assert by_channel == {"sms": user_ids, "email": user_ids, "inbox": user_ids}
    event = db.session.execute(select(ActivationEvent).filter_by(
        activation_id=activation.id, kind="activated")).scalar_one()
    assert event.detail["notified"] == 6 and event.actor_id == world.coordinator.id


def test_drill_messages_are_marked_in_each_language_with_link_and_reply_codes(
        world, activate_drill, db):
    activation = activate_drill()
    sms = {m.recipient_id: m for m in outbox(db, f"emergency:{activation.id}:alert:1")
           if m.channel == "sms"}
    chinese = sms[world.v("li").user_id]
    english = sms[world.v("wang").user_id]
    assert chinese.body.startswith("【演练】") and chinese.locale == "zh_Hans"
    assert english.body.startswith("DRILL: ") and english.locale == "en"
    assert "防汛应急预案" in chinese.body and "Ⅲ级（黄色）" in chinese.body
    assert "Level III (yellow)" in english.body and "测试路10号" in english.body
    assert "1 30" in chinese.body and '"2"' in english.body
    token = re.search(r"/emergency/respond/(\S+)", chinese.body).group(1)
    assert responses.responder_from_token(token).volunteer_id == world.v("li").id
    assert english.subject.startswith("DRILL: ")


def test_a_real_activation_has_no_drill_marker(world, activate_real, db):
    activation = activate_real()
    assert not activation.is_drill
    for message in outbox(db, f"emergency:{activation.id}:alert:1"):
        assert "演练" not in message.body and "DRILL" not in message.body


def test_targeting_skips_minors_suspended_expired_uncertified_deployed_and_unplaced(
        world, make_plan, activate_drill, tree, db):
    flood = world.flood_team
    community = tree["b"]
    minor = make_responder(community, name="少年", certs=("water_rescue_licence",))
    minor.birth_date = date.today() - timedelta(days=17 * 365)  # turned 17 this year
    db.session.add(TeamMember(team=flood, volunteer=minor))  # bypassing the team rule on purpose
    make_responder(community, name="停用者", team=flood, certs=("water_rescue_licence",),
                   status="suspended")
    expired = make_responder(community, name="过期者", team=flood)
    add_cert(expired, "water_rescue_licence", expires_on=date.today() - timedelta(days=1),
             issued_on=date.today() - timedelta(days=400))
    make_responder(community, name="无证者", team=flood, certs=("background_check",))
    unplaced = make_responder(community, name="无位置", team=flood, certs=("first_aid",))
    unplaced.lat = unplaced.lon = None
    busy = make_responder(community, name="忙碌者", team=flood, certs=("first_aid",))
    db.session.commit()
    elsewhere = activate_drill(make_plan(name="另一预案"))
    busy_there = db.session.execute(select(Responder).filter_by(
        activation_id=elsewhere.id, volunteer_id=busy.id)).scalar_one()
    busy_there.answer = "coming"
    db.session.commit()

    activation = activate_drill()
    names = called(db, activation)
    assert names == {"王一", "李二", "赵三", "钱四", "孙五", "周六"}

    activation_service.stand_down(elsewhere, by=world.coordinator)
    db.session.commit()
    again = activate_drill()
    assert "忙碌者" in called(db, again)  # free again once the other call-out is over


def test_area_subtree_instead_of_radius(world, plan_data, tree, activate_drill, db):
    in_a = make_responder(tree["a"], name="甲社区队员", km=50, team=world.flood_team,
                          certs=("first_aid",))
    db.session.commit()
    data = plan_data()
    data["levels"]["3"].update(radius_km=None, area_org_id=tree["a"].id)
    plan = plans.create_plan(world.street, data, by=world.coordinator)
    db.session.commit()
    activation = activate_drill(plan, lat=None, lon=None)
    assert called(db, activation) == {"甲社区队员"}
    responder = db.session.execute(select(Responder).filter_by(
        activation_id=activation.id)).scalar_one()
    assert responder.volunteer_id == in_a.id and responder.distance_km is None


def test_initial_teams_calls_only_the_first_teams(world, plan_data, activate_drill, db):
    data = plan_data()
    data["levels"]["3"]["initial_teams"] = 1
    plan = plans.create_plan(world.street, data, by=world.coordinator)
    db.session.commit()
    activation = activate_drill(plan)
    assert called(db, activation) == {"王一", "李二", "赵三", "钱四"}
    assert activation.team_ids_called == [world.flood_team.id]


def test_activation_snapshots_the_plan(world, make_plan, activate_drill, db):
    plan = make_plan()
    activation = activate_drill(plan)
    levels = {**plan.levels}
    level = dict(levels["3"])
    level["roles"] = [dict(level["roles"][0], count=9)]
    levels["3"] = level
    templates = {locale: dict(texts) for locale, texts in plan.templates.items()}
    templates["en"]["alert"] = "changed {link}"
    plans.update_plan(plan, {"levels": levels, "templates": templates}, by=world.coordinator)
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(Activation, activation.id)
    assert [(r.code, r.needed) for r in stored.roles] == [("rescue", 2), ("first_aid", 1),
                                                          ("driver", 1)]
    assert stored.templates["en"]["alert"].startswith("{plan}")
    assert stored.assembly_points[0]["name"] == "街道应急站"


def test_activation_refuses_out_of_scope_and_bad_input(world, make_plan, db):
    plan = make_plan()
    with pytest.raises(NotFound):
        activation_service.activate(plan, level=3, is_drill=True, lat=INCIDENT[0],
                                    lon=INCIDENT[1], by=world.outsider)
    with pytest.raises(Forbidden):
        activation_service.activate(plan, level=3, is_drill=True, lat=INCIDENT[0],
                                    lon=INCIDENT[1], by=world.organizer)
    with pytest.raises(ValidationFailed) as excinfo:
        activation_service.activate(plan, level=1, is_drill=True, lat=INCIDENT[0],
                                    lon=INCIDENT[1], by=world.coordinator)
    assert "level" in excinfo.value.errors
    with pytest.raises(ValidationFailed) as excinfo:
        activation_service.activate(plan, level=3, is_drill=True, by=world.coordinator)
    assert excinfo.value.code == "INCIDENT_POSITION_REQUIRED"
    with pytest.raises(ValidationFailed):
        activation_service.activate(plan, level=3, is_drill=True, lat=95.0, lon=0.0,
                                    by=world.coordinator)
    assert db.session.execute(select(Activation)).first() is None
    plans.archive_plan(plan, by=world.coordinator)
    with pytest.raises(Conflict):
        activation_service.activate(plan, level=3, is_drill=True, lat=INCIDENT[0],
                                    lon=INCIDENT[1], by=world.coordinator)


def test_webpush_only_for_people_with_a_live_subscription(world, activate_drill, db):
    for short, gone in (("li", None), ("sun", utcnow().replace(tzinfo=None))):
        db.session.add(PushSubscription(user_id=world.v(short).user_id,
                                        endpoint=f"https://push.example/{short}",
                                        p256dh="k", auth="a", gone_at=gone))
    db.session.commit()
    activation = activate_drill()
    push = [m.recipient_id for m in outbox(db, f"emergency:{activation.id}:alert:1")
            if m.channel == "webpush"]
    assert push == [world.v("li").user_id]


def test_activations_list_is_scoped_and_filtered(world, activate_drill, activate_real, db):
    drill = activate_drill()
    real = activate_real()

    def listed(user, **filters):
        return db.session.execute(
            activation_service.activations_query(user, **filters)).scalars().all()

    assert listed(world.organizer) == [real, drill]
    assert listed(world.organizer, include_drills=False) == [real]
    assert listed(world.outsider) == []
    activation_service.stand_down(drill, by=world.coordinator)
    db.session.commit()
    assert listed(world.coordinator, status="active") == [real]
    with pytest.raises(NotFound):
        activation_service.get_activation(real.id, by=world.outsider)


# --- stand-down -------------------------------------------------------------------------------

def _responder(db, activation, volunteer) -> Responder:
    return db.session.execute(select(Responder).filter_by(
        activation_id=activation.id, volunteer_id=volunteer.id)).scalar_one()


def test_stand_down_broadcasts_and_records_pending_hours_of_those_who_came(
        world, activate_real, db):
    activation = activate_real()
    start = activation.activated_at = utcnow() - timedelta(hours=3)  # it has run for 3 hours
    came_and_left = _responder(db, activation, world.v("li"))
    came_and_left.answer, came_and_left.arrived_at = "coming", start + timedelta(minutes=20)
    came_and_left.arrival_method = "qr"
    came_and_left.checked_out_at = start + timedelta(minutes=140)
    came_stayed = _responder(db, activation, world.v("sun"))
    came_stayed.answer, came_stayed.arrived_at = "coming", start + timedelta(minutes=30)
    came_stayed.arrival_method = "marked"
    _responder(db, activation, world.v("wang")).answer = "coming"  # never arrived
    db.session.commit()

    activation_service.stand_down(activation, note="水已退", by=world.coordinator)
    db.session.commit()

    assert activation.status == "stood_down" and activation.stand_down_note == "水已退"
    messages = outbox(db, f"emergency:{activation.id}:stand_down")
    everyone = {v.user_id for k, v in world.volunteers.items() if k != "far"}
    assert {m.recipient_id for m in messages if m.channel == "sms"} == everyone
    activity = db.session.get(Activity, activation.activity_id)
    assert activity.service_type == "emergency" and activity.org_id == world.street.id
    assert activity.starts_at == activation.activated_at
    assert activity.ends_at == activation.stood_down_at
    records = {r.volunteer_id: r for r in db.session.execute(
        select(ServiceRecord).filter_by(activity_id=activity.id)).scalars()}
    assert set(records) == {world.v("li").id, world.v("sun").id}
    left = records[world.v("li").id]
    assert left.status == "pending" and not left.missing_checkout
    assert left.check_in_at == came_and_left.arrived_at and left.method == "qr"
    assert left.minutes == 120  # 2 h, in the default 30-minute units
    stayed = records[world.v("sun").id]
    assert stayed.missing_checkout and stayed.minutes is None
    assert stayed.check_out_at == activation.stood_down_at and stayed.method == "manual"


def test_a_second_stand_down_is_a_conflict(world, activate_drill, db):
    activation = activate_drill()
    activation_service.stand_down(activation, by=world.coordinator)
    db.session.commit()
    with pytest.raises(Conflict) as excinfo:
        activation_service.stand_down(activation, by=world.coordinator)
    assert excinfo.value.status == 409


def test_drill_hours_follow_the_org_setting(world, activate_drill, db):
    set_settings(world.street, {"drill_hours_count": False}, by=world.coordinator)
    db.session.commit()
    activation = activate_drill()
    responder = _responder(db, activation, world.v("li"))
    responder.answer, responder.arrived_at = "coming", activation.activated_at
    responder.checked_out_at = activation.activated_at + timedelta(hours=1)
    db.session.commit()
    activation_service.stand_down(activation, by=world.coordinator)
    db.session.commit()
    assert activation.activity_id is None
    assert db.session.execute(select(ServiceRecord)).first() is None
    drill_message = outbox(db, f"emergency:{activation.id}:stand_down")[0]
    assert drill_message.body.startswith(("【演练】", "DRILL: "))


def test_only_coordinators_in_scope_stand_down(world, activate_drill):
    activation = activate_drill()
    with pytest.raises(NotFound):
        activation_service.stand_down(activation, by=world.outsider)
    with pytest.raises(Forbidden):
        activation_service.stand_down(activation, by=world.organizer)


# --- API --------------------------------------------------------------------------------------

def test_activation_api_with_idempotency_key_list_get_and_stand_down(
        world, make_plan, client, auth_header, db):
    plan = make_plan()
    headers = {**auth_header(world.coordinator), "Idempotency-Key": "drill-2026-11-23"}
    body = {"level": 3, "is_drill": True, "lat": INCIDENT[0], "lon": INCIDENT[1],
            "address": "测试路10号", "note": "演练"}
    first = client.post(f"/api/v1/emergency/plans/{plan.id}/activations", headers=headers,
                        json=body)
    assert first.status_code == 201, first.get_json()
    again = client.post(f"/api/v1/emergency/plans/{plan.id}/activations", headers=headers,
                        json=body)
    assert again.get_json()["id"] == first.get_json()["id"]
    assert len(db.session.execute(select(Activation)).all()) == 1  # one call-out, not two
    detail = first.get_json()
    assert detail["is_drill"] and detail["counts"]["notified"] == 6
    assert [r["code"] for r in detail["roles"]] == ["rescue", "first_aid", "driver"]

    reader = auth_header(world.organizer)
    listing = client.get("/api/v1/emergency/activations?status=active", headers=reader)
    assert [a["id"] for a in listing.get_json()["items"]] == [detail["id"]]
    assert "X-Pagination" in listing.headers
    url = f"/api/v1/emergency/activations/{detail['id']}"
    assert client.get(url, headers=reader).get_json()["counts"]["none"] == 6
    assert client.get(url, headers=auth_header(world.outsider)).status_code == 404

    assert client.post(f"{url}/stand-down", headers=reader, json={}).status_code == 403
    down = client.post(f"{url}/stand-down", headers=auth_header(world.coordinator),
                       json={"note": "结束"})
    assert down.status_code == 200 and down.get_json()["status"] == "stood_down"
    assert client.post(f"{url}/stand-down", headers=auth_header(world.coordinator),
                       json={}).status_code == 409


def test_activation_api_refuses_out_of_scope_and_bad_levels(
        world, make_plan, client, auth_header):
    plan = make_plan()
    url = f"/api/v1/emergency/plans/{plan.id}/activations"
    body = {"level": 3, "is_drill": True, "lat": INCIDENT[0], "lon": INCIDENT[1]}
    assert client.post(url, headers=auth_header(world.outsider), json=body).status_code == 404
    assert client.post(url, headers=auth_header(world.organizer), json=body).status_code == 403
    wrong_level = client.post(url, headers=auth_header(world.coordinator),
                              json={**body, "level": 2})
    assert wrong_level.status_code == 422 and "level" in wrong_level.get_json()["errors"]["json"]
    assert client.post(url, headers=auth_header(world.coordinator),
                       json={"level": 3}).status_code == 422  # is_drill must be said


# --- pages ------------------------------------------------------------------------------------

def test_activate_page_calls_out_and_leads_to_the_board(world, make_plan, client, db):
    from tests.web.helpers import login, post_form, text

    plan = make_plan()
    login(client, world.coordinator)
    url = f"/emergency/plans/{plan.id}/activate"
    form = client.get(url)
    assert form.status_code == 200 and 'name="kind"' in text(form)
    undecided = post_form(client, url, {"level": "3", "lat": str(INCIDENT[0]),
                                        "lon": str(INCIDENT[1])})
    assert undecided.status_code == 422 and db.session.execute(select(Activation)).first() is None
    response = post_form(client, url, {"kind": "drill", "level": "3", "lat": str(INCIDENT[0]),
                                       "lon": str(INCIDENT[1]), "address": "测试路10号",
                                       "note": "夜间演练"})
    assert response.status_code == 302
    activation = db.session.execute(select(Activation)).scalar_one()
    assert activation.is_drill and activation.note == "夜间演练"
    assert response.headers["Location"].endswith(f"/emergency/activations/{activation.id}/board")
    missing_position = post_form(client, url, {"kind": "real", "level": "3"})
    assert missing_position.status_code == 422
    assert 'class="field-error"' in text(missing_position)


def test_activations_page_lists_links_to_the_board_and_stands_down(
        world, activate_drill, client, db):
    from tests.web.helpers import login, post_form, text

    activation = activate_drill()
    login(client, world.coordinator)
    html = text(client.get("/emergency/activations"))
    assert f"/emergency/activations/{activation.id}/board" in html
    assert f"/emergency/activations/{activation.id}/stand-down" in html
    response = post_form(client, f"/emergency/activations/{activation.id}/stand-down",
                         {"note": "演练结束"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Activation, activation.id).status == "stood_down"
    page = text(client.get(f"/emergency/activations/{activation.id}/stand-down"))
    assert 'type="submit"' not in page.split("<main", 1)[1]  # nothing left to stand down


def test_activation_pages_refuse_people_out_of_scope(world, activate_drill, make_plan, client):
    from tests.web.helpers import login, text

    activation = activate_drill()
    login(client, world.organizer)
    assert client.get(f"/emergency/plans/{activation.plan_id}/activate").status_code == 403
    assert client.get(f"/emergency/activations/{activation.id}/stand-down").status_code == 403
    login(client, world.outsider)
    assert "防汛应急预案" not in text(client.get("/emergency/activations"))
    assert client.get(f"/emergency/activations/{activation.id}/stand-down").status_code == 404


def test_drill_hours_are_kept_apart_from_real_emergency_hours(world, activate_drill, db):
    activation = activate_drill()
    responder = _responder(db, activation, world.v("li"))
    responder.answer, responder.arrived_at = "coming", activation.activated_at
    db.session.commit()
    activation_service.stand_down(activation, by=world.coordinator)
    db.session.commit()
    assert db.session.get(Activity, activation.activity_id).service_type == "emergency_drill"


def test_a_plan_is_not_called_out_twice_at_once(world, make_plan, activate_drill, db):
    plan = make_plan()
    activate_drill(plan)
    with pytest.raises(Conflict) as excinfo:
        activate_drill(plan)
    assert excinfo.value.code == "PLAN_ALREADY_ACTIVE"
    db.session.rollback()
    assert len(db.session.execute(select(Activation)).all()) == 1


def test_a_running_drill_never_keeps_responders_from_a_real_incident(
        world, make_plan, activate_drill, activate_real, db):
    plan = make_plan()
    drill = activate_drill(plan)
    for responder in db.session.execute(select(Responder).filter_by(
            activation_id=drill.id)).scalars():
        responses.answer(responder, "coming", 10, channel="link")
    db.session.commit()
    real = activate_real(plan)
    assert called(db, real) == called(db, drill)


def test_a_worker_makes_links_to_the_site_the_call_out_came_from(
        world, make_plan, client, auth_header, db):
    plan = make_plan()
    created = client.post(
        f"/api/v1/emergency/plans/{plan.id}/activations", headers=auth_header(world.coordinator),
        json={"level": 3, "is_drill": True, "lat": INCIDENT[0], "lon": INCIDENT[1]},
        base_url="https://vh.example.cn")
    assert created.status_code == 201, created.get_json()
    sms = db.session.execute(select(OutboxMessage).filter_by(
        recipient_id=world.v("li").user_id, channel="sms")).scalar_one()
    [sent] = fanout.render([sms])  # as the dispatcher does, outside any request
    token = re.search(r"https://vh\.example\.cn/emergency/respond/(\S+)", sent.body).group(1)
    assert responses.responder_from_token(token).volunteer_id == world.v("li").id


def test_an_alert_marked_read_is_answered_with_its_text_and_link(
        world, activate_drill, client, auth_header, db):
    activation = activate_drill()
    li = world.v("li")
    inbox = db.session.execute(select(OutboxMessage).filter_by(
        event_key=f"emergency:{activation.id}:alert:1", recipient_id=li.user_id,
        channel="inbox")).scalar_one()
    headers = auth_header(li.user)
    for url, field in ((f"/api/v1/notify/inbox/{inbox.id}/read", "body"),
                       (f"/api/v1/me/notifications/{inbox.id}/read", "text")):
        answered = client.post(url, headers=headers)
        assert answered.status_code == 200, answered.get_json()
        text = answered.get_json()[field]
        assert text.startswith("【演练】") and "/emergency/respond/" in text
    listed = client.get("/api/v1/notify/inbox", headers=headers).get_json()["items"]
    assert [m["body"] for m in listed if m["id"] == inbox.id] == [text]
