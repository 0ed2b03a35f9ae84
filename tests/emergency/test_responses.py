"""Answers: signed one-tap links, answer changes, SMS reply codes, the answer endpoints."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from volunteer_hub.db import utcnow
from volunteer_hub.emergency import responses
from volunteer_hub.emergency.models import Responder, ResponseChange
from volunteer_hub.errors import Conflict, DomainError, ValidationFailed
from volunteer_hub.notify import fanout
from volunteer_hub.notify.models import InboundSms, OutboxMessage

# Messages are only written to the outbox here; with a gateway URL SMS is not replaced
# by e-mail, and nothing is sent.
pytestmark = pytest.mark.usefixtures("sms_gateway_configured")


def responder_of(db, activation, volunteer) -> Responder:
    return db.session.execute(select(Responder).filter_by(
        activation_id=activation.id, volunteer_id=volunteer.id)).scalar_one()


def token_of(link: str) -> str:
    return link.rsplit("/", 1)[1]


# --- links ----------------------------------------------------------------------------------

def test_the_alert_carries_a_link_that_leads_back_to_the_same_responder(db, world, drill):
    wang = responder_of(db, drill, world.v("wang"))
    [sms] = fanout.filled(db.session.execute(select(OutboxMessage).filter_by(
        recipient_id=wang.user_id, channel="sms")).scalars().all())
    body = sms.body  # as the dispatcher sends it
    link = re.search(r"https?://\S+/emergency/respond/(\S+)", body)
    assert link, body
    assert responses.responder_from_token(link.group(1)).id == wang.id


def test_a_forged_or_altered_link_is_refused(db, world, drill):
    wang = responder_of(db, drill, world.v("wang"))
    li = responder_of(db, drill, world.v("li"))
    token = token_of(responses.response_link(wang))
    parts = token.split(".")
    someone_else = ".".join([str(li.id), parts[1], str(li.volunteer_id)] + parts[3:])
    later = ".".join(parts[:3] + ["zzzzzzz", parts[4]])
    altered = token[:-1] + ("B" if token.endswith("A") else "A")  # never the token itself
    for bad in (someone_else, later, altered, "1.2.3", "", "x" * 300):
        with pytest.raises(DomainError) as error:
            responses.responder_from_token(bad)
        assert error.value.code == "EMERGENCY_LINK_INVALID"
        assert error.value.status == 403


def test_a_link_expires_after_the_organizations_setting(db, world, drill):
    from volunteer_hub.emergency.settings import set_settings

    wang = responder_of(db, drill, world.v("wang"))
    token = token_of(responses.response_link(wang))
    assert responses.responder_from_token(token, now=utcnow() + timedelta(hours=23))
    with pytest.raises(DomainError) as error:
        responses.responder_from_token(token, now=utcnow() + timedelta(hours=25))
    assert error.value.code == "EMERGENCY_LINK_EXPIRED"

    set_settings(world.street, {"link_valid_hours": 2}, by=world.coordinator)
    db.session.commit()
    short = token_of(responses.response_link(wang))
    with pytest.raises(DomainError) as expired:
        responses.responder_from_token(short, now=utcnow() + timedelta(hours=3))
    assert expired.value.code == "EMERGENCY_LINK_EXPIRED"


def test_a_link_names_its_activation(db, world, drill):
    wang = responder_of(db, drill, world.v("wang"))
    token = token_of(responses.response_link(wang))
    with pytest.raises(DomainError) as error:
        responses.responder_from_token(token, activation_id=drill.id + 1)
    assert error.value.code == "EMERGENCY_LINK_WRONG_ACTIVATION"


def test_a_link_is_reusable_to_change_the_answer_until_stand_down(db, world, drill):
    from volunteer_hub.emergency.activation import stand_down

    wang = responder_of(db, drill, world.v("wang"))
    token = token_of(responses.response_link(wang))
    responses.answer(responses.responder_from_token(token), "coming", 20, channel="link")
    responses.answer(responses.responder_from_token(token), "cannot", channel="link")
    db.session.commit()
    stand_down(drill, by=world.coordinator)
    db.session.commit()
    with pytest.raises(Conflict) as over:
        responses.responder_from_token(token)
    assert over.value.code == "EMERGENCY_STOOD_DOWN"
    with pytest.raises(Conflict):
        responses.answer(wang, "coming", 5, channel="app")


# --- answers --------------------------------------------------------------------------------

def test_coming_needs_an_eta_between_0_and_600_minutes(db, world, drill):
    wang = responder_of(db, drill, world.v("wang"))
    for eta in (None, -1, 601, "30", True):
        with pytest.raises(ValidationFailed) as error:
            responses.answer(wang, "coming", eta, channel="app")
        assert error.value.errors == {"eta_minutes": [error.value.message]}
    with pytest.raises(ValidationFailed):
        responses.answer(wang, "maybe", 10, channel="app")
    responses.answer(wang, "coming", 0, channel="app")
    assert wang.answer == "coming" and wang.eta_minutes == 0


def test_every_answer_is_kept_and_the_first_answer_time_never_moves(db, world, drill):
    wang = responder_of(db, drill, world.v("wang"))
    first = utcnow()
    responses.answer(wang, "coming", 30, channel="link", now=first)
    responses.answer(wang, "coming", 15, channel="sms", now=first + timedelta(minutes=2))
    responses.answer(wang, "cannot", channel="app", now=first + timedelta(minutes=5))
    db.session.commit()
    assert wang.first_answered_at == first
    assert wang.answered_at == first + timedelta(minutes=5)
    assert (wang.answer, wang.eta_minutes, wang.answer_channel) == ("cannot", None, "app")
    changes = db.session.execute(select(ResponseChange.answer, ResponseChange.eta_minutes,
                                        ResponseChange.channel)
                                 .filter_by(responder_id=wang.id)
                                 .order_by(ResponseChange.id)).all()
    assert changes == [("coming", 30, "link"), ("coming", 15, "sms"), ("cannot", None, "app")]


def test_cannot_frees_the_seat_and_someone_else_takes_it(db, world, drill):
    wang, li, qian, zhao = (responder_of(db, drill, world.v(s))
                            for s in ("wang", "li", "qian", "zhao"))
    responses.answer(wang, "coming", 10, channel="link")
    responses.answer(qian, "coming", 10, channel="link")
    responses.answer(li, "coming", 5, channel="link")
    responses.answer(zhao, "coming", 40, channel="link")  # level 1: below the rescue minimum
    db.session.commit()
    assert (wang.role.code, qian.role.code, li.role.code) == ("rescue", "first_aid", "rescue")
    assert zhao.role_id is None
    drill.skill_level_relaxed_by = 1  # as the "lower_level" escalation step does
    responses.answer(wang, "cannot", channel="link")
    db.session.commit()
    assert wang.role_id is None and wang.assembly_point is None
    assert zhao.role.code == "rescue"
    told = db.session.execute(select(OutboxMessage.channel).filter_by(
        event_key=f"emergency:{drill.id}:assigned:{zhao.id}:{zhao.role_id}")).scalars().all()
    assert sorted(told) == ["inbox", "sms"]


def test_a_coming_answer_with_every_role_full_does_not_replan(db, world, drill, monkeypatch):
    from volunteer_hub.emergency import assignment

    people = {s: responder_of(db, drill, world.v(s)) for s in ("qian", "wang", "li", "sun")}
    for short, eta in (("qian", 10), ("wang", 10), ("li", 10), ("sun", 10)):
        responses.answer(people[short], "coming", eta, channel="link")
    db.session.commit()
    assert not responses.has_open_seat(drill.id)
    calls = []
    monkeypatch.setattr(assignment, "replan", lambda *a, **k: calls.append(a))
    responses.answer(responder_of(db, drill, world.v("zhao")), "coming", 5, channel="link")
    responses.answer(people["wang"], "coming", 3, channel="link")  # ETA change keeps the seat
    assert calls == []
    assert people["wang"].role_id is not None


# --- SMS replies ----------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("1 30", ("coming", 30, True)),
    ("1", ("coming", None, False)),
    ("2", ("cannot", None, False)),
    ("１　３０", ("coming", 30, True)),
    ("1，30分钟", ("coming", 30, True)),
    ("1、45分", ("coming", 45, True)),
    (" 1 20 min ", ("coming", 20, True)),
    ("２", ("cannot", None, False)),
    ("2 在外地出差", ("cannot", None, False)),
    ("1 600", ("coming", 600, True)),
])
def test_sms_reply_codes_are_read_tolerantly(text, expected):
    parsed = responses.parse_sms_reply(text)
    assert (parsed.answer, parsed.eta_minutes, parsed.eta_given) == expected


@pytest.mark.parametrize("text", ["", "ok", "3", "1 601", "1 abc", "130", "1 30 40",
                                  "2 30", "yes", "1 30.5"])
def test_malformed_sms_replies_are_not_answers(text):
    assert responses.parse_sms_reply(text) is None


def receive(db, volunteer, text, key):
    from volunteer_hub.notify.services import receive_sms

    inbound = receive_sms(from_phone=volunteer.phone, text=text, provider_message_id=key)
    db.session.commit()
    return inbound


def sms_replies(db, user_id) -> list[str]:
    return list(db.session.execute(select(OutboxMessage.body).where(
        OutboxMessage.recipient_id == user_id, OutboxMessage.event_key.like("sms-reply:%"))
        .order_by(OutboxMessage.id)).scalars())


def test_sms_replies_answer_and_are_confirmed(db, world, drill):
    wang = responder_of(db, drill, world.v("wang"))  # English
    li = responder_of(db, drill, world.v("li"))  # Chinese
    receive(db, world.v("wang"), "1 25", "in-1")
    receive(db, world.v("li"), "１，１５分钟", "in-2")
    assert (wang.answer, wang.eta_minutes, wang.answer_channel) == ("coming", 25, "sms")
    assert (li.answer, li.eta_minutes) == ("coming", 15)
    assert "25 minutes" in sms_replies(db, wang.user_id)[0]
    assert "15" in sms_replies(db, li.user_id)[0]
    receive(db, world.v("wang"), "2", "in-3")
    assert wang.answer == "cannot"


def test_a_bare_1_is_coming_with_an_assumed_eta_that_the_reply_says(db, world, drill):
    zhao = responder_of(db, drill, world.v("zhao"))
    receive(db, world.v("zhao"), "1", "in-4")
    assert zhao.answer == "coming" and zhao.eta_minutes == responses.DEFAULT_SMS_ETA_MINUTES
    assert str(responses.DEFAULT_SMS_ETA_MINUTES) in sms_replies(db, zhao.user_id)[0]
    receive(db, world.v("zhao"), "1 12", "in-5")
    receive(db, world.v("zhao"), "1", "in-6")  # a repeated bare "1" keeps the given time
    assert zhao.eta_minutes == 12


def test_anything_else_gets_the_help_text_and_changes_nothing(db, world, drill):
    wang = responder_of(db, drill, world.v("wang"))
    inbound = receive(db, world.v("wang"), "what is happening?", "in-7")
    assert inbound.handled_by == "emergency"
    assert wang.answer == "none"
    [reply] = sms_replies(db, wang.user_id)
    assert reply.startswith("DRILL: Reply 1")  # a drill, in English


def test_replies_from_people_not_called_out_are_left_to_other_handlers(db, world, drill):
    outsider = world.organizer
    inbound = receive(db, outsider, "1 30", "in-8")
    assert inbound.handled_by is None
    assert db.session.get(InboundSms, inbound.id).reply is None


# --- endpoints ------------------------------------------------------------------------------

def test_the_one_tap_api_answers_without_login(db, client, world, drill):
    wang = responder_of(db, drill, world.v("wang"))
    token = token_of(responses.response_link(wang))
    shown = client.get(f"/api/v1/emergency/respond/{token}")
    assert shown.status_code == 200
    assert shown.get_json()["activation"]["is_drill"] is True
    answered = client.post(f"/api/v1/emergency/respond/{token}",
                           json={"answer": "coming", "eta_minutes": 15})
    assert answered.status_code == 200, answered.get_json()
    body = answered.get_json()
    assert body["answer"] == "coming" and body["role"]["code"] == "rescue"
    assert body["assembly_point"]["name"] == "街道应急站"
    bad = client.post(f"/api/v1/emergency/respond/{token}", json={"answer": "coming"})
    assert bad.status_code == 422 and bad.get_json()["error"] == "EMERGENCY_ETA"
    forged = client.post(f"/api/v1/emergency/respond/{token[:-3]}abc",
                         json={"answer": "cannot"})
    assert forged.status_code == 403
    assert forged.get_json()["error"] == "EMERGENCY_LINK_INVALID"


def test_a_one_tap_cannot_frees_the_seat_for_someone_waiting(db, client, world, drill):
    wang, li, qian, zhao = (responder_of(db, drill, world.v(s))
                            for s in ("wang", "li", "qian", "zhao"))
    for responder, eta in ((wang, 10), (qian, 10), (li, 5), (zhao, 40)):
        responses.answer(responder, "coming", eta, channel="link")
    drill.skill_level_relaxed_by = 1  # zhao (level 1) now qualifies for a rescue seat
    db.session.commit()
    assert zhao.role_id is None
    token = token_of(responses.response_link(wang))
    freed = client.post(f"/api/v1/emergency/respond/{token}", json={"answer": "cannot"})
    assert freed.status_code == 200 and freed.get_json()["role"] is None
    db.session.expire_all()
    assert wang.role_id is None and zhao.role.code == "rescue"
    assert [c.answer for c in responses.history(wang)] == ["coming", "cannot"]


def test_the_one_tap_api_refuses_expired_and_mismatched_links(db, client, world, drill):
    wang = responder_of(db, drill, world.v("wang"))
    expired = token_of(responses.response_link(wang, now=utcnow() - timedelta(hours=25)))
    response = client.post(f"/api/v1/emergency/respond/{expired}", json={"answer": "cannot"})
    assert response.status_code == 403
    assert response.get_json()["error"] == "EMERGENCY_LINK_EXPIRED"
    # a correctly signed link naming someone else's responder row changes nothing
    li = responder_of(db, drill, world.v("li"))
    payload = f"{li.id}.{drill.id}.{wang.volunteer_id}.{responses._base36(2**40)}"
    mismatched = f"{payload}.{responses._signature(payload)}"
    response = client.post(f"/api/v1/emergency/respond/{mismatched}", json={"answer": "cannot"})
    assert response.status_code == 403
    assert response.get_json()["error"] == "EMERGENCY_LINK_INVALID"
    db.session.expire_all()
    assert (wang.answer, li.answer) == ("none", "none")


def test_the_one_tap_api_refuses_after_stand_down(db, client, world, drill):
    from volunteer_hub.emergency.activation import stand_down

    wang = responder_of(db, drill, world.v("wang"))
    token = token_of(responses.response_link(wang))
    stand_down(drill, by=world.coordinator)
    db.session.commit()
    response = client.post(f"/api/v1/emergency/respond/{token}", json={"answer": "cannot"})
    assert response.status_code == 409
    assert response.get_json()["error"] == "EMERGENCY_STOOD_DOWN"


def test_my_alerts_api_lists_and_answers_only_my_call_outs(db, client, world, drill,
                                                           auth_header):
    wang = responder_of(db, drill, world.v("wang"))
    li = responder_of(db, drill, world.v("li"))
    headers = auth_header(world.v("wang").user)
    listed = client.get("/api/v1/emergency/my/alerts", headers=headers).get_json()
    assert [item["id"] for item in listed["items"]] == [wang.id]
    assert listed["items"][0]["activation"]["plan_name"] == "防汛应急预案"
    answered = client.post(f"/api/v1/emergency/my/alerts/{wang.id}/answer", headers=headers,
                           json={"answer": "coming", "eta_minutes": 8})
    assert answered.status_code == 200
    assert answered.get_json()["answer_channel"] == "app"
    other = client.post(f"/api/v1/emergency/my/alerts/{li.id}/answer", headers=headers,
                        json={"answer": "cannot"})
    assert other.status_code == 404


# --- pages ----------------------------------------------------------------------------------

def test_the_one_tap_page_answers_with_one_tap_and_keeps_csrf(db, client, world, drill):
    from tests.web.helpers import csrf_token, text

    wang = responder_of(db, drill, world.v("wang"))
    url = f"/emergency/respond/{token_of(responses.response_link(wang))}"
    page = client.get(url)
    assert page.status_code == 200
    assert "DRILL" in text(page) and "防汛应急预案" in text(page)
    refused = client.post(url, data={"coming_eta": "20"})
    assert refused.status_code == 400  # no CSRF token from the page: refused
    token = csrf_token(client, url)
    tapped = client.post(url, data={"csrf_token": token, "coming_eta": "20"},
                         follow_redirects=True)
    assert tapped.status_code == 200
    db.session.expire_all()
    wang = db.session.get(Responder, wang.id)
    assert (wang.answer, wang.eta_minutes, wang.answer_channel) == ("coming", 20, "link")
    assert 'data-role="rescue"' in text(tapped) and "街道应急站" in text(tapped)
    client.post(url, data={"csrf_token": token, "answer": "cannot"})
    db.session.expire_all()
    assert db.session.get(Responder, wang.id).answer == "cannot"
    bad_eta = client.post(url, data={"csrf_token": token, "answer": "coming",
                                     "eta_custom": "900"}, follow_redirects=True)
    assert "0 to 600" in text(bad_eta)
    superscript = client.post(url, data={"csrf_token": token, "answer": "coming",
                                         "eta_custom": "²"}, follow_redirects=True)
    assert superscript.status_code == 200 and "0 to 600" in text(superscript)


def test_the_one_tap_page_explains_forged_and_stood_down_links(db, client, world, drill):
    from tests.web.helpers import text
    from volunteer_hub.emergency.activation import stand_down

    wang = responder_of(db, drill, world.v("wang"))
    url = f"/emergency/respond/{token_of(responses.response_link(wang))}"
    forged = client.get(url[:-4] + "AAAA", headers={"Accept-Language": "en"})
    assert forged.status_code == 403 and "not valid" in text(forged)
    stand_down(drill, by=world.coordinator)
    db.session.commit()
    over = client.get(url, headers={"Accept-Language": "en"})
    assert over.status_code == 409 and "stood down" in text(over)


def test_my_alerts_page_answers_and_shows_role_and_assembly_point(db, client, world, drill):
    from tests.web.helpers import login, post_form, text

    wang = responder_of(db, drill, world.v("wang"))
    login(client, world.v("wang").user)
    page = client.get("/emergency/alerts")
    assert page.status_code == 200 and "防汛应急预案" in text(page)
    answered = post_form(client, f"/emergency/alerts/{wang.id}/answer", {"coming_eta": "10"},
                         form_url="/emergency/alerts", follow_redirects=True)
    assert 'data-role="rescue"' in text(answered) and "街道应急站" in text(answered)
    db.session.expire_all()
    assert db.session.get(Responder, wang.id).answer_channel == "app"
    li = responder_of(db, drill, world.v("li"))
    other = post_form(client, f"/emergency/alerts/{li.id}/answer", {"answer": "cannot"},
                      form_url="/emergency/alerts")
    assert other.status_code == 404


def test_the_answer_endpoint_stays_lean(db, app, client, world, drill, monkeypatch):
    """Hundreds of answers a second: one UPDATE and the history row's INSERT, nothing loaded
    for a newcomer while every role is full (PostgreSQL asks for an open seat inside the
    UPDATE; SQLite in one SELECT); a 'cannot' reads the seat it may free. This is the full
    path through Flask: the fast lane in front of it is off here (its own tests are in
    test_responses_fast_lane.py)."""
    from sqlalchemy import event

    monkeypatch.setattr(app.wsgi_app, "enabled", False)

    people = {s: responder_of(db, drill, world.v(s))
              for s in ("qian", "wang", "li", "sun", "zhao", "zhou")}
    for short in ("qian", "wang", "li", "sun"):  # every role full
        responses.answer(people[short], "coming", 10, channel="link")
    db.session.commit()
    tokens = {s: token_of(responses.response_link(r)) for s, r in people.items()}
    ids = {s: r.id for s, r in people.items()}
    db.session.remove()
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        if statement.split()[0] in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            statements.append(statement.split()[0])

    newcomer_reads = 0 if db.engine.dialect.name == "postgresql" else 1
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        expected = {"zhao": (newcomer_reads, {"answer": "coming", "eta_minutes": 5}),
                    "zhou": (1, {"answer": "cannot"}),
                    # seated: the role and assembly point are read for the reply
                    "wang": (3, {"answer": "coming", "eta_minutes": 3})}
        for short, (reads, body) in expected.items():
            statements.clear()
            response = client.post(f"/api/v1/emergency/respond/{tokens[short]}", json=body)
            assert response.status_code == 200
            assert sorted(s for s in statements if s != "SELECT") == ["INSERT", "UPDATE"], short
            assert statements.count("SELECT") <= reads, (short, statements)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    db.session.remove()
    zhao, wang = db.session.get(Responder, ids["zhao"]), db.session.get(Responder, ids["wang"])
    assert zhao.answer == "coming" and zhao.role_id is None  # no seat was open
    assert wang.eta_minutes == 3 and wang.role_id is not None


def test_an_sms_answer_after_stand_down_is_told_the_call_out_is_over(db, world, drill):
    from volunteer_hub.emergency.activation import stand_down

    wang = responder_of(db, drill, world.v("wang"))  # English
    stand_down(drill, by=world.coordinator)
    db.session.commit()
    inbound = receive(db, world.v("wang"), "1 20", "in-9")
    assert inbound.handled_by == "emergency"
    assert "stood down" in sms_replies(db, wang.user_id)[-1]
    assert db.session.get(Responder, wang.id).answer == "none"
    chatter = receive(db, world.v("wang"), "hello", "in-10")
    assert chatter.handled_by is None  # not an answer: left to other handlers
