"""The after-action report: percentiles, fill times, no-shows, cost, comparison, exports.

Built on the board's scene (test_board.build_scene): the expected numbers below are worked
out by hand from the minutes listed in its docstring.
"""
from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.emergency.test_board import (
    T0, add_responder, answer_at, at, build_scene, make_activation_row, make_plan_row, message,
)
from tests.pdf_text import drawn_text
from volunteer_hub.emergency import report
from volunteer_hub.emergency.models import Responder
from volunteer_hub.emergency.report import Spread
from volunteer_hub.notify.models import InboundSms
from volunteer_hub.volunteers.models import Volunteer

LONG_BODY = "您的任务：水上救援，集合点：街道应急站。" * 8  # 160 characters: 3 SMS segments


@pytest.fixture
def scene(world, db, app):
    scene = build_scene(world)
    r = scene.responders
    message(scene.activation, r["sun"], "sms", kind=f"assigned:{r['sun'].id}:1",
            status="sent", sent=3.1, created=3, body=LONG_BODY)
    for responder in r.values():  # the stand-down broadcast, not yet sent
        message(scene.activation, responder, "sms", kind="stand_down", status="pending",
                created=60)
    replied = InboundSms(from_phone=world.v("li").phone, text="1 20",
                         user_id=world.v("li").user_id, handled_by="emergency",
                         received_at=at(4).replace(tzinfo=None))
    stranger = InboundSms(from_phone=world.v("far").phone, text="hello",
                          user_id=world.v("far").user_id, handled_by="emergency",
                          received_at=at(5).replace(tzinfo=None))
    db.session.add_all([replied, stranger])
    db.session.flush()
    for inbound, user_id in ((replied, world.v("li").user_id),
                             (stranger, world.v("far").user_id)):
        db.session.add(report.OutboxMessage(
            event_key=f"sms-reply:{inbound.id}", recipient_id=user_id, channel="sms",
            body="已收到：30分钟内到达", status="sent", created_at=at(4).replace(tzinfo=None),
            sent_at=at(4).replace(tzinfo=None)))
    db.session.commit()
    saved = app.config.get("EMERGENCY_SMS_COST_FEN")
    app.config["EMERGENCY_SMS_COST_FEN"] = 5
    yield scene
    if saved is None:
        app.config.pop("EMERGENCY_SMS_COST_FEN", None)
    else:
        app.config["EMERGENCY_SMS_COST_FEN"] = saved


def test_percentiles_interpolate_between_ranks():
    assert report.percentile([], 0.5) is None
    assert report.percentile([7.0], 0.9) == 7.0
    assert report.percentile([10, 20], 0.5) == 15
    assert report.percentile([360, 60, 240, 120], 0.5) == 180
    assert report.percentile([60, 120, 240, 360], 0.9) == pytest.approx(324)


def test_sms_segments_as_providers_bill_them():
    assert report.sms_segments("a" * 160) == 1
    assert report.sms_segments("a" * 161) == 2
    assert report.sms_segments("演" * 70) == 1
    assert report.sms_segments("演" * 71) == 2
    assert report.sms_segments(LONG_BODY) == 3


def test_summary_counts_and_no_shows(scene):
    result = report.after_action(scene.activation, with_names=True)
    s = result.summary
    assert (s.notified, s.coming, s.cannot, s.no_answer, s.arrived, s.no_shows) == (
        6, 3, 2, 1, 2, 1)
    assert [(n.name, n.team, n.eta_minutes) for n in result.no_shows] == [
        ("孙五", "医疗救护队", 5)]
    assert s.all_roles_filled_seconds is None  # the driver was never found


def test_names_are_masked_unless_asked_for(scene, world, db):
    world.v("sun").real_name = "欧阳娜娜"
    db.session.commit()
    masked = report.after_action(scene.activation)
    assert [n.name for n in masked.no_shows] == ["欧**娜"]
    assert any("欧**娜" in e.text for e in masked.timeline)  # their answer
    assert not any("欧阳" in e.text for e in masked.timeline)
    named = report.after_action(scene.activation, with_names=True)
    assert [n.name for n in named.no_shows] == ["欧阳娜娜"]


def test_acknowledgement_and_arrival_per_channel_and_team(scene):
    result = report.after_action(scene.activation)
    assert result.ack["channel"] == {"app": Spread(1, 360, 360), "link": Spread(2, 150, 174),
                                     "sms": Spread(2, 150, 222)}
    flood = result.ack["team"]["防汛抢险队"]
    assert (flood.count, flood.p50, flood.p90) == (4, 180, pytest.approx(324))
    assert result.ack["team"]["医疗救护队"] == Spread(1, 180, 180)
    assert result.arrival["channel"] == {"link": Spread(1, 900, 900),
                                         "sms": Spread(1, 1800, 1800)}
    assert result.arrival["team"] == {"防汛抢险队": Spread(2, 1350, 1710)}


def test_delivery_times_per_channel_and_team(scene):
    result = report.after_action(scene.activation)
    sent, reached = result.delivery_sent["channel"], result.delivery_reached["channel"]
    assert sent["sms"] == Spread(5, 2, 3)
    assert sent["email"] == Spread(2, 5, 5)
    assert "inbox" not in sent
    assert reached["sms"] == Spread(3, 10, 10)  # only receipts count as reached
    assert reached["inbox"] == Spread(1, 60, 60)  # zhou read it after a minute
    assert result.delivery_reached["team"]["医疗救护队"] == Spread(1, 60, 60)
    assert result.delivery_sent["team"]["医疗救护队"] == Spread(1, 3, 3)


def test_time_to_fill_each_role(scene):
    roles = {r.code: r for r in report.after_action(scene.activation).roles}
    assert roles["rescue"].fill_seconds == 240
    assert roles["first_aid"].fill_seconds == 180
    assert roles["driver"].fill_seconds is None
    assert (roles["rescue"].assigned, roles["rescue"].arrived) == (2, 2)


def test_messages_and_cost_per_channel(scene):
    """SMS accepted by the gateway: 5 alerts (zhou's failed), the 3-segment assignment and
    li's reply; the queued stand-down costs nothing yet, nor does a stranger's reply."""
    messages = {m.channel: m for m in report.after_action(scene.activation).messages}
    sms = messages["sms"]
    assert (sms.messages, sms.sent, sms.delivered, sms.failed) == (14, 7, 3, 1)
    assert (sms.segments, sms.cost_fen) == (9, 45)
    assert (messages["email"].messages, messages["email"].sent,
            messages["email"].cost_fen) == (6, 2, 0)
    assert messages["inbox"].messages == 6
    assert report.after_action(scene.activation).summary.cost_fen == 45


def test_sms_cost_is_a_setting(scene, app):
    app.config["EMERGENCY_SMS_COST_FEN"] = 8
    assert report.after_action(scene.activation).summary.cost_fen == 72


def test_timeline_merges_events_answers_and_arrivals_in_order(scene):
    from flask_babel import force_locale

    with force_locale("en"):
        timeline = report.after_action(scene.activation, with_names=True).timeline
    times = [e.at for e in timeline]
    assert times == sorted(times)
    texts = [e.text for e in timeline]
    assert texts[0] == "Activated (6)"
    assert "赵三: Cannot come (SMS)" in texts
    assert "王一: coming in 10 min (One-tap link)" in texts
    assert texts.index("王一 arrived") < texts.index("李二 arrived")
    assert "Escalation: Notify the unanswered again (1)" in texts
    assert "Escalation: Page the coordinator" in texts
    assert texts[-1] == "Stood down"


def test_compared_with_earlier_drills_of_the_same_plan_only(scene, world, db):
    earlier = make_activation_row(world, scene.plan, start=T0 - timedelta(days=7))
    responder = add_responder(earlier, world.v("wang"), world.flood_team,
                              start=earlier.activated_at)
    answer_at(responder, 5, "coming", 10, start=earlier.activated_at)
    responder.arrived_at = earlier.activated_at + timedelta(minutes=20)
    make_activation_row(world, scene.plan, start=T0 - timedelta(days=3), is_drill=False)
    make_activation_row(world, make_plan_row(world, "另一个预案"), start=T0 - timedelta(days=2))
    make_activation_row(world, scene.plan, start=T0 + timedelta(days=1))  # later: not earlier
    db.session.commit()
    comparison = report.after_action(scene.activation).comparison
    assert [c.activation_id for c in comparison] == [scene.activation.id, earlier.id]
    assert (comparison[1].notified, comparison[1].coming, comparison[1].arrived) == (1, 1, 1)
    assert comparison[1].ack == Spread(1, 300, 300)
    assert comparison[1].arrival == Spread(1, 1200, 1200)


def test_csv_has_every_section(scene):
    text = report.to_csv(report.after_action(scene.activation))
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == list(report.csv_header())
    assert ["summary", "", "no_shows", "1"] in rows
    assert ["acknowledgement_by_team", "防汛抢险队", "p90_s", "324.0"] in rows
    assert ["arrival_by_channel", "sms", "p50_s", "1800.0"] in rows
    assert ["role", "driver", "fill_s", ""] in rows
    assert ["messages", "sms", "cost_fen", "45"] in rows
    assert ["no_show", "医疗救护队", "孙*", "5"] in rows
    assert sum(1 for r in rows if r[0] == "timeline") == len(
        report.after_action(scene.activation).timeline)


def test_pdf_is_a_printable_document(scene):
    pdf = report.to_pdf(report.after_action(scene.activation))
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert b"/FontFile2" in pdf  # the CJK font, embedded, for the names and labels


def _responder_names(activation) -> list[str]:
    from volunteer_hub.db import db

    return list(db.session.execute(
        select(Volunteer.real_name).join(Responder, Responder.volunteer_id == Volunteer.id)
        .where(Responder.activation_id == activation.id)).scalars())


def _pdf_text(pdf: bytes) -> str:
    """The words drawn on the pages, decoded through the embedded font's ToUnicode map."""
    return drawn_text(pdf)


def test_exports_carry_no_full_name_of_any_responder(scene, world, db):
    world.v("zhou").real_name = "张小明"
    db.session.commit()
    names = _responder_names(scene.activation)
    assert len(names) == 6 and "张小明" in names
    exported = report.after_action(scene.activation)
    text = report.to_csv(exported)
    pdf_text = _pdf_text(report.to_pdf(exported))
    for name in names:
        assert name not in text and name not in pdf_text, name
    assert "孙*" in text and "孙*" in pdf_text  # the no-show, masked
    assert "李*" in pdf_text  # li arrived: the timeline names them masked
    on_screen = _pdf_text(report.to_pdf(replace(
        report.after_action(scene.activation, with_names=True), with_names=False)))
    assert "孙五" in on_screen  # the reading above would see a full name were it there


def test_a_report_with_names_is_refused_by_the_file_writers(scene):
    named = report.after_action(scene.activation, with_names=True)
    with pytest.raises(ValueError):
        report.to_csv(named)
    with pytest.raises(ValueError):
        report.to_pdf(named)


def test_report_of_an_activation_still_running(world, db):
    plan = make_plan_row(world)
    activation = make_activation_row(world, plan, minutes=0)
    add_responder(activation, world.v("wang"), world.flood_team)
    db.session.commit()
    result = report.after_action(activation)
    assert result.stood_down_at is None and result.summary.no_answer == 1
    assert result.ack == {"channel": {}, "team": {}}
    assert report.to_pdf(result).startswith(b"%PDF-")


# --- pages and API -------------------------------------------------------------------------------

def test_report_page_is_printable_with_inline_charts(client, db, scene, world):
    from tests.web.helpers import login

    world.coordinator.locale = "en"
    db.session.commit()
    login(client, world.coordinator)
    response = client.get(f"/emergency/activations/{scene.activation.id}/report")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count("<svg") >= 3 and "@media print" in html
    assert 'data-summary="no_shows"><span class="num">1</span>' in html
    assert "孙五" in html and "¥0.45" in html  # on screen, behind the scope check: names
    assert "names are masked in the CSV and PDF files" in html
    assert 'data-role="driver"' in html and "never" in html
    csv_response = client.get(f"/emergency/activations/{scene.activation.id}/report.csv")
    assert csv_response.mimetype == "text/csv"
    assert "attachment" in csv_response.headers["Content-Disposition"]
    csv_text = csv_response.get_data(as_text=True)
    assert "messages,sms,cost_fen,45" in csv_text
    pdf = client.get(f"/emergency/activations/{scene.activation.id}/report.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-")
    for name in _responder_names(scene.activation):
        assert name not in csv_text and name not in _pdf_text(pdf.data), name


def test_report_page_in_chinese(client, scene, world):
    from tests.web.helpers import login

    login(client, world.coordinator)
    client.get("/", headers={"Accept-Language": "zh-CN"})
    html = client.get(f"/emergency/activations/{scene.activation.id}/report",
                      headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert 'lang="zh' in html and "孙五" in html


def test_report_api_json_and_scope(client, scene, world, auth_header):
    url = f"/api/v1/emergency/activations/{scene.activation.id}/report"
    body = client.get(url, headers=auth_header(world.coordinator)).get_json()
    assert body["summary"]["no_shows"] == 1 and body["summary"]["cost_fen"] == 45
    assert body["ack"]["channel"]["link"] == {"count": 2, "p50": 150.0, "p90": 174.0}
    assert body["activated_at"].startswith("2026-07-01T02:00:00")
    assert client.get(url, headers=auth_header(world.outsider)).status_code == 404
    csv_text = client.get(url + ".csv", headers=auth_header(world.coordinator)).get_data(
        as_text=True)
    assert "acknowledgement_by_team,防汛抢险队,p90_s,324.0" in csv_text
    assert "no_show,医疗救护队,孙*,5" in csv_text and "孙五" not in csv_text
    assert [n["name"] for n in body["no_shows"]] == ["孙五"]  # the API reads like the page
