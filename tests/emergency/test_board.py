"""The coordinator's board: counts, delivery, role fill, response curve, escalations, live.

The scene is built row by row (no activation service): a drill with six responders whose
answers, assignments, arrivals and messages happened at known minutes after activation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from volunteer_hub.emergency import board
from volunteer_hub.emergency.models import (
    Activation, ActivationEvent, ActivationRole, EmergencyPlan, Responder, ResponseChange,
)
from volunteer_hub.notify.models import OutboxMessage

T0 = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def naive(minutes: float) -> datetime:
    return at(minutes).replace(tzinfo=None)


@dataclass
class Scene:
    plan: EmergencyPlan
    activation: Activation
    roles: dict = field(default_factory=dict)
    responders: dict = field(default_factory=dict)


def make_plan_row(world, name="防汛应急预案") -> EmergencyPlan:
    plan = EmergencyPlan(org_id=world.street.id, org_path=world.street.path, name=name,
                         category="natural_disaster", levels={}, assembly_points=[],
                         templates={})
    board.db.session.add(plan)
    board.db.session.flush()
    return plan


def make_activation_row(world, plan, *, start=T0, minutes=60, is_drill=True) -> Activation:
    activation = Activation(
        plan_id=plan.id, org_id=world.street.id, org_path=world.street.path, level=3,
        is_drill=is_drill, status="stood_down" if minutes else "active",
        incident_address="测试路10号", activated_at=start,
        stood_down_at=start + timedelta(minutes=minutes) if minutes else None,
        activated_by_id=world.coordinator.id)
    board.db.session.add(activation)
    board.db.session.flush()
    return activation


def add_responder(activation, volunteer, team, *, start=T0) -> Responder:
    responder = Responder(activation_id=activation.id, volunteer_id=volunteer.id,
                          user_id=volunteer.user_id, team_id=team.id, notified_at=start)
    board.db.session.add(responder)
    board.db.session.flush()
    return responder


def answer_at(responder, minute, answer, eta=None, channel="link", start=T0) -> None:
    moment = start + timedelta(minutes=minute)
    board.db.session.add(ResponseChange(responder_id=responder.id, answer=answer,
                                        eta_minutes=eta, channel=channel, at=moment))
    responder.answer, responder.eta_minutes = answer, eta
    responder.answered_at, responder.answer_channel = moment, channel
    responder.first_answered_at = responder.first_answered_at or moment


def message(activation, responder, channel, *, kind="alert:1", status="pending", body="",
            sent=None, delivered=None, read=None, created=0.0, start=T0) -> OutboxMessage:
    def moment(minutes):
        if minutes is None:
            return None
        return (start + timedelta(minutes=minutes)).replace(tzinfo=None)

    row = OutboxMessage(
        event_key=f"emergency:{activation.id}:{kind}", recipient_id=responder.user_id,
        channel=channel, body=body or "【演练】防汛应急预案：请回复 1 或 2", status=status,
        created_at=moment(created), next_attempt_at=None, sent_at=moment(sent),
        delivered_at=moment(delivered), read_at=moment(read))
    board.db.session.add(row)
    return row


def build_scene(world, start: datetime = T0, active: bool = False) -> Scene:
    """A 60-minute drill. Minutes after activation:

    zhao cannot (sms) 1 · wang coming 10 min (link) 2 · sun coming 5 (link) 3 ·
    li coming 20 (sms) 4 · qian coming 15 (app) 6 then cannot 8 · zhou never answers.
    Assigned: sun first aid 3 (full), wang + li rescue 4 (full); driver never filled.
    Arrived: wang 15, li 30 (sun never comes: a no-show). wang checked out 55; wang, li safe.
    Alerts: SMS delivered to wang/li/zhao (receipt 10 s), failed for zhou, sent without
    receipt to qian/sun; e-mail accepted for wang and qian (5 s); zhou read the inbox at 1.
    `active`: not stood down yet (for live pages).
    """
    def at(minutes: float) -> datetime:
        return start + timedelta(minutes=minutes)

    plan = make_plan_row(world)
    activation = make_activation_row(world, plan, start=start, minutes=0 if active else 60)
    scene = Scene(plan, activation)
    for position, (code, zh, en, needed) in enumerate((
            ("rescue", "水上救援", "Water rescue", 2), ("first_aid", "急救", "First aid", 1),
            ("driver", "驾驶员", "Driver", 1))):
        role = ActivationRole(activation_id=activation.id, position=position, code=code,
                              label_zh=zh, label_en=en, needed=needed)
        board.db.session.add(role)
        scene.roles[code] = role
    board.db.session.flush()
    teams = {"wang": world.flood_team, "li": world.flood_team, "zhao": world.flood_team,
             "qian": world.flood_team, "sun": world.medical_team, "zhou": world.medical_team}
    for short, team in teams.items():
        scene.responders[short] = add_responder(activation, world.v(short), team, start=start)
    r = scene.responders
    answer_at(r["zhao"], 1, "cannot", channel="sms", start=start)
    answer_at(r["wang"], 2, "coming", 10, start=start)
    answer_at(r["sun"], 3, "coming", 5, start=start)
    answer_at(r["li"], 4, "coming", 20, channel="sms", start=start)
    answer_at(r["qian"], 6, "coming", 15, channel="app", start=start)
    answer_at(r["qian"], 8, "cannot", channel="app", start=start)
    for short, code, minute in (("sun", "first_aid", 3), ("wang", "rescue", 4),
                                ("li", "rescue", 4)):
        r[short].role_id, r[short].assigned_at = scene.roles[code].id, at(minute)
    scene.roles["first_aid"].filled_at = at(3)
    scene.roles["rescue"].filled_at = at(4)
    r["wang"].arrived_at, r["wang"].arrival_method = at(15), "qr"
    r["li"].arrived_at, r["li"].arrival_method = at(30), "marked"
    r["wang"].checked_out_at = at(55)
    r["wang"].safe_confirmed_at = r["li"].safe_confirmed_at = at(56)
    for short in ("wang", "li", "zhao"):
        message(activation, r[short], "sms", status="delivered", sent=2 / 60, delivered=10 / 60,
                start=start)
    message(activation, r["zhou"], "sms", status="failed", start=start)
    for short in ("qian", "sun"):
        message(activation, r[short], "sms", status="sent", sent=3 / 60, start=start)
    for short in ("wang", "qian"):
        message(activation, r[short], "email", status="sent", sent=5 / 60, start=start)
    for short in ("li", "zhao", "sun", "zhou"):
        message(activation, r[short], "email", status="pending", start=start)
    for short, responder in r.items():
        message(activation, responder, "inbox", status="delivered", delivered=0,
                read=1 if short == "zhou" else None, start=start)
    events = [("activated", 0, {"targets": 6}), ("assigned", 3, {"count": 1}),
              ("assigned", 4, {"count": 2}),
              ("escalated", 10, {"action": "renotify", "count": 1}),
              ("page_coordinator", 20, {})] + ([] if active else [("stood_down", 60, {})])
    for kind, minute, detail in events:
        board.db.session.add(ActivationEvent(activation_id=activation.id, kind=kind,
                                             detail=detail, at=at(minute)))
    board.db.session.commit()
    return scene


@pytest.fixture
def scene(world, db) -> Scene:
    return build_scene(world)


def test_counts_follow_answers_roles_arrivals_and_safety(scene):
    data = board.snapshot(scene.activation)
    assert data["counts"] == {"notified": 6, "coming": 3, "cannot": 2, "no_answer": 1,
                              "assigned": 3, "arrived": 2, "checked_out": 1, "safe": 2,
                              "delivered": 5}
    assert data["activation"]["is_drill"] is True
    assert data["activation"]["colour"] == "yellow"


def test_delivered_counts_people_reached_not_rows_queued(scene, db):
    """sun's SMS awaits a receipt, the e-mail is queued, the inbox unread: not reached yet.
    A receipt arriving for sun's SMS moves the count; a second channel for wang does not."""
    data = board.snapshot(scene.activation)
    assert data["counts"]["delivered"] == 5
    assert data["channels"]["sms"] == {"queued": 0, "sent": 2, "delivered": 3, "failed": 1}
    assert data["channels"]["email"] == {"queued": 4, "sent": 2, "delivered": 0, "failed": 0}
    sms = db.session.execute(board.select(OutboxMessage).where(
        OutboxMessage.recipient_id == scene.responders["sun"].user_id,
        OutboxMessage.channel == "sms")).scalar_one()
    sms.status, sms.delivered_at = "delivered", naive(1)
    db.session.commit()
    assert board.snapshot(scene.activation)["counts"]["delivered"] == 6


def test_messages_of_another_activation_do_not_count(scene, world, db):
    other = make_activation_row(world, scene.plan, start=at(120), minutes=0)
    responder = add_responder(other, world.v("far"), world.flood_team, start=at(120))
    message(other, responder, "sms", status="delivered", sent=121, delivered=121)
    db.session.commit()
    assert board.snapshot(scene.activation)["counts"]["delivered"] == 5
    assert board.snapshot(other)["counts"] == {
        "notified": 1, "coming": 0, "cannot": 0, "no_answer": 1, "assigned": 0, "arrived": 0,
        "checked_out": 0, "safe": 0, "delivered": 1}


def test_role_fill_shows_who_is_short(scene):
    roles = {r["code"]: r for r in board.snapshot(scene.activation)["roles"]}
    assert [r["code"] for r in board.snapshot(scene.activation)["roles"]] == [
        "rescue", "first_aid", "driver"]
    assert (roles["rescue"]["needed"], roles["rescue"]["assigned"],
            roles["rescue"]["arrived"], roles["rescue"]["short"]) == (2, 2, 2, 0)
    assert (roles["first_aid"]["assigned"], roles["first_aid"]["arrived"]) == (1, 0)
    assert (roles["driver"]["assigned"], roles["driver"]["short"]) == (0, 1)
    assert roles["driver"]["filled_at"] is None
    assert roles["first_aid"]["filled_at"] == at(3).isoformat()


def test_curve_replays_changed_answers_minute_by_minute(scene):
    curve = board.snapshot(scene.activation)["curve"]
    assert len(curve) == 60 and curve[-1]["minute"] == 60  # stood down after 60 minutes
    by_minute = {p["minute"]: (p["coming"], p["cannot"]) for p in curve}
    # A point is the state at the end of its minute: an answer at 1:00 shows from minute 2.
    assert [by_minute[m] for m in range(1, 10)] == [
        (0, 0), (0, 1), (1, 1), (2, 1), (3, 1), (3, 1), (4, 1), (4, 1), (3, 2)]
    assert by_minute[60] == (3, 2)


def test_curve_of_a_long_incident_is_thinned(world, db):
    plan = make_plan_row(world)
    activation = make_activation_row(world, plan, minutes=24 * 60)
    responder = add_responder(activation, world.v("wang"), world.flood_team)
    answer_at(responder, 700, "coming", 30)
    db.session.commit()
    curve = board.response_curve(activation)
    assert len(curve) <= board.CURVE_MAX_POINTS
    assert curve[-1]["minute"] == 24 * 60 and curve[-1]["coming"] == 1
    assert [p["coming"] for p in curve if p["minute"] <= 700] == [0] * sum(
        1 for p in curve if p["minute"] <= 700)


def test_escalation_steps_in_order_with_labels(scene):
    steps = board.snapshot(scene.activation)["escalations"]
    assert [s["action"] for s in steps] == ["renotify", "page_coordinator"]
    assert steps[0]["at"] == at(10).isoformat()
    assert steps[0]["detail"] == {"action": "renotify", "count": 1}


def test_fingerprint_changes_with_what_the_board_shows(scene, db):
    before = board.fingerprint(scene.activation.id)
    assert board.fingerprint(scene.activation.id) == before
    zhou = scene.responders["zhou"]
    answer_at(zhou, 30, "coming", 5)
    db.session.commit()
    after_answer = board.fingerprint(scene.activation.id)
    assert after_answer != before
    zhou.arrived_at = at(40)
    db.session.commit()
    assert board.fingerprint(scene.activation.id) != after_answer


def test_cache_rebuilds_only_when_something_changed(scene, db, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(board.time, "monotonic", lambda: clock[0])
    cache = board.SnapshotCache()
    first = cache.get(scene.activation, key_ttl=board.KEY_TTL)
    clock[0] += 2  # past the change-check interval, nothing changed
    assert cache.get(scene.activation, key_ttl=board.KEY_TTL) is first
    scene.responders["zhou"].safe_confirmed_at = at(58)
    db.session.commit()
    # a stream checked a moment ago: not yet; a page always checks
    assert cache.get(scene.activation, key_ttl=board.KEY_TTL) is first
    assert cache.get(scene.activation)["counts"]["safe"] == 3
    clock[0] += 2
    second = cache.get(scene.activation, key_ttl=board.KEY_TTL)
    assert second is not first and second["counts"]["safe"] == 3
    assert second["version"] != first["version"]


def test_delivery_receipts_show_after_the_refresh_interval(scene, db, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(board.time, "monotonic", lambda: clock[0])
    cache = board.SnapshotCache()
    assert cache.get(scene.activation)["counts"]["delivered"] == 5
    sms = db.session.execute(board.select(OutboxMessage).where(
        OutboxMessage.recipient_id == scene.responders["sun"].user_id,
        OutboxMessage.channel == "sms")).scalar_one()
    sms.status, sms.delivered_at = "delivered", naive(1)
    db.session.commit()
    clock[0] += 5
    assert cache.get(scene.activation)["counts"]["delivered"] == 5
    clock[0] += board.DELIVERY_REFRESH
    assert cache.get(scene.activation)["counts"]["delivered"] == 6


def test_snapshot_version_is_stable_when_nothing_changed(scene):
    assert board.snapshot(scene.activation)["version"] == board.snapshot(
        scene.activation)["version"]


# --- pages, JSON and the event stream ------------------------------------------------------------

def login(client, user):
    from tests.web.helpers import login as web_login

    web_login(client, user)


def test_board_page_shows_the_numbers_on_a_phone_layout(client, scene, world):
    login(client, world.coordinator)
    response = client.get(f"/emergency/activations/{scene.activation.id}/board")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'class="drill-banner"' in html
    assert 'data-count="coming"' in html and '<span class="num">3</span>' in html
    assert 'data-role="driver" class="short"' in html
    assert "<svg" in html and "js/board.js" in html
    assert f"/emergency/activations/{scene.activation.id}/events" in html


def test_board_is_hidden_outside_the_coordinators_scope(client, scene, world):
    login(client, world.outsider)
    for suffix in ("board", "board.json", "events", "report", "report.csv", "report.pdf"):
        response = client.get(f"/emergency/activations/{scene.activation.id}/{suffix}")
        assert response.status_code == 404, suffix


def test_a_volunteer_without_a_role_cannot_open_the_board(client, scene, world):
    login(client, world.v("wang").user)
    assert client.get(f"/emergency/activations/{scene.activation.id}/board").status_code == 403


def test_polling_json_for_the_page_and_the_api(client, scene, world, auth_header):
    login(client, world.coordinator)
    page_json = client.get(f"/emergency/activations/{scene.activation.id}/board.json")
    assert page_json.status_code == 200 and page_json.headers["Cache-Control"] == "no-store"
    assert page_json.get_json()["counts"]["arrived"] == 2
    api = client.get(f"/api/v1/emergency/activations/{scene.activation.id}/board",
                     headers=auth_header(world.coordinator))
    assert api.status_code == 200
    body = api.get_json()
    assert body["counts"] == page_json.get_json()["counts"]
    assert body["version"] == board.snapshot(scene.activation)["version"]
    outsider = client.get(f"/api/v1/emergency/activations/{scene.activation.id}/board",
                          headers=auth_header(world.outsider))
    assert outsider.status_code == 404
    assert client.get(f"/api/v1/emergency/activations/{scene.activation.id}/board"
                      ).status_code == 401  # the session cookie grants nothing under /api


def sse_events(chunks) -> list[tuple[str, str]]:
    """(event, data) pairs and ("comment", text) for heartbeats, from raw stream chunks."""
    events = []
    for block in "".join(chunks).split("\n\n"):
        lines = [line for line in block.split("\n") if line]
        if not lines:
            continue
        if lines[0].startswith(":"):
            events.append(("comment", lines[0][1:].strip()))
            continue
        fields = dict(line.split(": ", 1) for line in lines if ": " in line)
        if "event" in fields:
            events.append((fields["event"], fields.get("data", "")))
    return events


@pytest.fixture
def fast_stream(app):
    saved = {k: app.config.get(k) for k in ("EMERGENCY_SSE_SECONDS", "EMERGENCY_SSE_POLL_SECONDS",
                                             "EMERGENCY_SSE_HEARTBEAT_SECONDS")}
    app.config.update(EMERGENCY_SSE_SECONDS=1.2, EMERGENCY_SSE_POLL_SECONDS=0.1,
                      EMERGENCY_SSE_HEARTBEAT_SECONDS=0.5)
    yield
    for key, value in saved.items():
        if value is None:
            app.config.pop(key, None)
        else:
            app.config[key] = value


def test_event_stream_sends_a_snapshot_then_heartbeats_and_ends(client, scene, world,
                                                                fast_stream):
    import json
    import time

    login(client, world.coordinator)
    started = time.monotonic()
    response = client.get(f"/emergency/activations/{scene.activation.id}/events")
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-store"
    events = sse_events([response.get_data(as_text=True)])
    elapsed = time.monotonic() - started
    assert [kind for kind, _ in events if kind != "comment"] == ["snapshot"]  # no change: one
    assert ("comment", "heartbeat") in events
    assert json.loads(events[0][1])["counts"]["coming"] == 3
    assert 1.0 <= elapsed < 5  # bounded: the browser reconnects


def test_event_stream_pushes_a_new_snapshot_when_someone_answers(client, scene, world, db,
                                                                 app, fast_stream):
    import json

    login(client, world.coordinator)
    response = client.get(f"/emergency/activations/{scene.activation.id}/events",
                          buffered=False)
    stream = response.iter_encoded()  # read it while changing the database
    first = [next(stream).decode() for _ in range(2)]  # retry: ..., then the first snapshot
    assert "event: snapshot" in first[1]
    with app.app_context():
        zhou = db.session.get(Responder, scene.responders["zhou"].id)
        answer_at(zhou, 30, "coming", 5)
        db.session.commit()
    rest = [chunk.decode() for chunk in stream]
    snapshots = [json.loads(data) for kind, data in sse_events(first + rest)
                 if kind == "snapshot"]
    assert [s["counts"]["coming"] for s in snapshots] == [3, 4]
    response.close()


def test_event_stream_resumes_without_repeating_what_the_browser_has(client, scene, world,
                                                                     fast_stream):
    login(client, world.coordinator)
    version = board.snapshot(scene.activation)["version"]
    response = client.get(f"/emergency/activations/{scene.activation.id}/events",
                          headers={"Last-Event-ID": version})
    events = sse_events([response.get_data(as_text=True)])
    assert [kind for kind, _ in events] == ["comment", "comment"]  # heartbeats only


def test_event_stream_can_be_switched_off_for_sync_workers(client, scene, world, app):
    login(client, world.coordinator)
    app.config["EMERGENCY_SSE_SECONDS"] = 0
    try:
        response = client.get(f"/emergency/activations/{scene.activation.id}/events")
    finally:
        app.config.pop("EMERGENCY_SSE_SECONDS")
    assert response.status_code == 204 and response.data == b""
