"""The one-tap API's fast lane (emergency/fast_answer.py): the plain answer skips Flask, and
a client cannot tell, because every other request still gets the full API's answer."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from volunteer_hub.emergency import fast_answer, responses
from volunteer_hub.emergency.models import Responder, ResponseChange

FIXED = datetime(2026, 11, 23, 8, 30, 15, 123456, tzinfo=timezone.utc)


# Messages are only written to the outbox here; with a gateway URL SMS is not replaced
# by e-mail, and nothing is sent.
pytestmark = pytest.mark.usefixtures("sms_gateway_configured")


@pytest.fixture
def flask_calls(app, monkeypatch):
    """How many requests the lane passed on to Flask."""
    lane = app.wsgi_app
    assert isinstance(lane, fast_answer.FastAnswer)
    calls = []
    flask = lane.next
    monkeypatch.setattr(lane, "next", lambda environ, start: calls.append(1) or flask(
        environ, start))
    return calls


def token_for(db, drill, world, short: str) -> str:
    responder = db.session.execute(select(Responder).filter_by(
        activation_id=drill.id, volunteer_id=world.v(short).id)).scalar_one()
    return responses.response_link(responder).rsplit("/", 1)[1]


def fill_every_role(db, drill, world) -> None:
    for short in ("qian", "wang", "li", "sun"):
        responder = db.session.execute(select(Responder).filter_by(
            activation_id=drill.id, volunteer_id=world.v(short).id)).scalar_one()
        responses.answer(responder, "coming", 10, channel="link")
    db.session.commit()


def history_rows(db) -> int:
    db.session.rollback()
    return db.session.execute(select(func.count(ResponseChange.id))).scalar_one()


def answer(client, token: str, body, **headers):
    return client.post(f"/api/v1/emergency/respond/{token}", json=body, headers=headers)


@pytest.mark.parametrize("short, body", [
    ("zhao", {"answer": "coming", "eta_minutes": 5}),   # every seat taken: stays on standby
    ("wang", {"answer": "coming", "eta_minutes": 3}),   # seated: role and assembly point
    ("zhou", {"answer": "cannot"}),
])
def test_the_lane_replies_byte_for_byte_as_the_api(db, app, client, world, drill, monkeypatch,
                                                    flask_calls, short, body):
    fill_every_role(db, drill, world)
    token = token_for(db, drill, world, short)
    monkeypatch.setattr(fast_answer, "utcnow", lambda: FIXED)
    monkeypatch.setattr(responses, "utcnow", lambda: FIXED)
    fast = answer(client, token, body)
    assert fast.status_code == 200 and flask_calls == []
    monkeypatch.setattr(app.wsgi_app, "_answer", lambda *args: None)  # the lane declines
    full = answer(client, token, body)
    assert flask_calls == [1]
    assert fast.data == full.data
    assert sorted(fast.headers.items()) == sorted(full.headers.items())
    assert fast.get_json()["answered_at"] == "2026-11-23T08:30:15.123456+00:00"
    assert history_rows(db) == 4 + 2


def test_every_plain_answer_is_written_with_its_history(db, client, world, drill, flask_calls):
    fill_every_role(db, drill, world)
    token = token_for(db, drill, world, "zhao")
    for eta in (30, 20):
        assert answer(client, token, {"answer": "coming", "eta_minutes": eta}).status_code == 200
    assert answer(client, token, {"answer": "cannot", "eta_minutes": 20}).status_code == 200
    assert flask_calls == []
    db.session.rollback()  # the lane wrote on its own connection: a fresh read
    zhao = db.session.execute(select(Responder).filter_by(
        activation_id=drill.id, volunteer_id=world.v("zhao").id)).scalar_one()
    assert (zhao.answer, zhao.eta_minutes, zhao.answer_channel) == ("cannot", None, "link")
    assert [(c.answer, c.eta_minutes) for c in responses.history(zhao)] == [
        ("coming", 30), ("coming", 20), ("cannot", None)]


def test_an_answer_that_needs_a_replan_is_seated_through_the_full_path(db, client, world,
                                                                       drill, flask_calls):
    token = token_for(db, drill, world, "wang")  # every seat is still open
    response = answer(client, token, {"answer": "coming", "eta_minutes": 10})
    assert response.status_code == 200 and flask_calls == [1]
    assert response.get_json()["role"]["code"] == "rescue"
    assert history_rows(db) == 1  # the lane's write was rolled back, not doubled


@pytest.mark.parametrize("body, status, error, field", [
    ({"answer": "coming"}, 422, "EMERGENCY_ETA", None),
    ({"answer": "coming", "eta_minutes": 601}, 422, "VALIDATION_ERROR", "eta_minutes"),
    ({"answer": "coming", "eta_minutes": True}, 422, "VALIDATION_ERROR", "eta_minutes"),
    ({"answer": "maybe"}, 422, "VALIDATION_ERROR", "answer"),
    ({"answer": "cannot", "why": "ill"}, 422, "VALIDATION_ERROR", "why"),
    (["cannot"], 422, "VALIDATION_ERROR", None),
])
def test_bad_input_gets_the_apis_field_errors(db, client, world, drill, flask_calls, body,
                                             status, error, field):
    response = answer(client, token_for(db, drill, world, "wang"), body)
    assert (response.status_code, response.get_json()["error"]) == (status, error)
    if field:
        assert field in response.get_json()["errors"]["json"]
    assert flask_calls == [1] and history_rows(db) == 0


def test_a_number_sent_as_text_is_still_read_by_the_full_path(db, client, world, drill,
                                                             flask_calls):
    fill_every_role(db, drill, world)
    response = answer(client, token_for(db, drill, world, "zhao"),
                      {"answer": "coming", "eta_minutes": "15"})
    assert response.status_code == 200 and response.get_json()["eta_minutes"] == 15
    assert flask_calls == [1]


@pytest.mark.parametrize("mangle", [
    lambda token: token[:-3] + "abc",
    lambda token: token + "é",
    lambda token: "1.2.3",
])
def test_forged_links_are_refused_by_the_api(db, client, world, drill, flask_calls, mangle):
    response = answer(client, mangle(token_for(db, drill, world, "wang")),
                      {"answer": "cannot"})
    assert response.status_code == 403
    assert response.get_json()["error"] == "EMERGENCY_LINK_INVALID"
    assert flask_calls == [1] and history_rows(db) == 0


def test_a_stood_down_call_out_refuses_without_writing(db, client, world, drill, flask_calls):
    from volunteer_hub.emergency.activation import stand_down

    token = token_for(db, drill, world, "wang")
    stand_down(drill, by=world.coordinator)
    db.session.commit()
    response = answer(client, token, {"answer": "coming", "eta_minutes": 5})
    assert (response.status_code, response.get_json()["error"]) == (409, "EMERGENCY_STOOD_DOWN")
    assert flask_calls == [1] and history_rows(db) == 0


def test_an_idempotency_key_replays_the_first_answer_and_writes_once(db, client, world, drill):
    fill_every_role(db, drill, world)
    token = token_for(db, drill, world, "zhao")
    body = {"answer": "coming", "eta_minutes": 15}
    first = answer(client, token, body, **{"Idempotency-Key": "tap-1"})
    retried = answer(client, token, body, **{"Idempotency-Key": "tap-1"})
    assert first.status_code == retried.status_code == 200
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.get_json() == first.get_json()
    assert history_rows(db) == 4 + 1
    changed = answer(client, token, {"answer": "cannot"}, **{"Idempotency-Key": "tap-1"})
    assert (changed.status_code, changed.get_json()["error"]) == (409, "IDEMPOTENCY_KEY_REUSED")
    assert history_rows(db) == 4 + 1


def test_a_retry_from_another_network_replays_the_first_answer(db, client, world, drill):
    """A phone that lost the reply on Wi-Fi and retries over mobile data has a new address:
    the key belongs to the link, so the retry still replays instead of answering again."""
    fill_every_role(db, drill, world)
    token = token_for(db, drill, world, "zhao")
    body = {"answer": "coming", "eta_minutes": 20}
    headers = {"Idempotency-Key": "tap-wifi"}
    first = client.post(f"/api/v1/emergency/respond/{token}", json=body, headers=headers,
                        environ_base={"REMOTE_ADDR": "10.0.0.7"})
    retried = client.post(f"/api/v1/emergency/respond/{token}", json=body, headers=headers,
                          environ_base={"REMOTE_ADDR": "172.16.4.9"})
    assert first.status_code == retried.status_code == 200
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert history_rows(db) == 4 + 1
    other = token_for(db, drill, world, "wang")
    elsewhere = client.post(f"/api/v1/emergency/respond/{other}", json=body, headers=headers,
                            environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert elsewhere.status_code == 200 and "Idempotent-Replayed" not in elsewhere.headers
