"""Inbox messages in the reader's language (issue 13, item 7): a notice is kept in every
language of the site when it is written, and the inbox (page and API) shows the reader's;
messages written before keep their one stored text."""
from __future__ import annotations

from tests.emergency.conftest import (  # noqa: F401
    activate_drill, drill, make_plan, sms_gateway_configured, world,
)
from tests.emergency.test_assignment import come
from tests.needs import helpers
from tests.web.helpers import login, text
from volunteer_hub.db import db
from volunteer_hub.matching import services as matching
from volunteer_hub.notify import services as notify
from volunteer_hub.notify.models import OutboxMessage

ENGLISH = "You are asked to help"
CHINESE = "邀请您参与服务"


def _asked_to_help(tree, *, locale: str):
    """A volunteer whose language is `locale` when the organizer asks them to help."""
    v = helpers.volunteer(tree["b"])
    v.user.locale = locale
    need = helpers.need(tree["b"], title="Visit Grandma")
    run = matching.run_matching(tree["b"], need.first_date, need.first_date, by=None)
    [proposal] = run.assignments
    matching.confirm_assignment(proposal, by=None)
    db.session.commit()
    return v


def _switch_language(user, locale: str) -> None:
    user.locale = locale
    db.session.commit()


def _api_texts(client, auth_header, user) -> list[str]:
    response = client.get("/api/v1/me/notifications", headers=auth_header(user))
    return [item["text"] for item in response.get_json()["items"]]


def test_a_notice_written_in_chinese_reads_in_english_for_an_english_reader(
        tree, client, auth_header):
    v = _asked_to_help(tree, locale="zh_Hans")
    [stored] = db.session.execute(db.select(OutboxMessage).where(
        OutboxMessage.recipient_id == v.user.id)).scalars().all()
    assert CHINESE in stored.body  # written in the recipient's language of the moment
    login(client, v.user)
    assert CHINESE in text(client.get("/me/inbox"))

    _switch_language(v.user, "en")
    page = text(client.get("/me/inbox"))
    assert ENGLISH in page and CHINESE not in page
    [shown] = _api_texts(client, auth_header, v.user)
    assert shown.startswith(ENGLISH) and "Visit Grandma" in shown


def test_a_chinese_reader_sees_the_same_kind_of_notice_in_chinese(tree, client, auth_header):
    v = _asked_to_help(tree, locale="en")
    _switch_language(v.user, "zh_Hans")
    login(client, v.user)
    page = text(client.get("/me/inbox"))
    assert CHINESE in page and ENGLISH not in page
    [shown] = _api_texts(client, auth_header, v.user)
    assert shown.startswith(CHINESE)


def test_a_message_with_one_text_shows_that_text_to_every_reader(tree, client):
    v = helpers.volunteer(tree["b"])
    notify.enqueue("drill:42", v.user, body="周六消防演练", locale="zh_Hans")
    db.session.commit()
    login(client, v.user)  # an English reader
    assert "周六消防演练" in text(client.get("/me/inbox"))


def test_an_emergency_assignment_reads_in_the_readers_language(
        db, client, world, drill, sms_gateway_configured):  # noqa: F811
    wang = come(db, drill, world, ("wang", 10))["wang"]  # an English speaker: told in English
    user = wang.volunteer.user
    login(client, user)
    assert "DRILL: " in text(client.get("/me/inbox"))
    _switch_language(user, "zh_Hans")
    page = text(client.get("/me/inbox"))
    assert "【演练】" in page and "DRILL: " not in page
    [sms] = db.session.execute(db.select(OutboxMessage.body).where(
        OutboxMessage.recipient_id == user.id, OutboxMessage.channel == "sms")).scalars()
    assert sms.startswith("DRILL: ")  # what was sent stays as it was sent
