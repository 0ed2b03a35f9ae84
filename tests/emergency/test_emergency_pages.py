"""Emergency pages lead somewhere: the inbox's links can be tapped and speak the reader's
language and clock, the board links to every page of the call-out and says when it ended or
when its figures are stale, and the roll call says what each button did."""
from __future__ import annotations

import re

import pytest

from tests.web.helpers import login, post_form, text
from volunteer_hub.db import transaction
from volunteer_hub.emergency import activation as activation_service
from volunteer_hub.emergency.models import Responder


@pytest.fixture(autouse=True)
def _english(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


def inbox_of(client, volunteer) -> str:
    login(client, volunteer.user)
    return text(client.get("/me/inbox"))


def test_the_inbox_link_to_answer_is_a_link(world, activate_drill, client):
    activate_drill()
    html = inbox_of(client, world.v("wang"))
    assert re.search(r'<a href="http://localhost/emergency/respond/[^"]+"', html), html[-3000:]


def test_the_inbox_shows_times_in_shanghai(world, activate_drill, client, db):
    activation = activate_drill()
    html = inbox_of(client, world.v("wang"))
    sent = activation.activated_at  # naive UTC
    shanghai = f"{(sent.hour + 8) % 24:02d}:{sent.minute:02d}"
    shown = re.findall(r"<time datetime=\"[^\"]+\">([^<]+)</time>", html)
    assert shown and all(value.endswith(shanghai) for value in shown), (shown, shanghai)


def test_the_inbox_speaks_the_reader_language(world, activate_drill, client, db):
    activate_drill()
    li = world.v("li")  # called in Chinese
    with transaction():
        li.user.locale = "en"  # then switched the site to English
    html = inbox_of(client, li)
    assert "DRILL:" in html and "Answer: <a href=" in html and "请回复" not in html


def test_the_board_links_to_every_page_of_the_call_out(world, activate_drill, client):
    activation = activate_drill()
    login(client, world.coordinator)
    html = text(client.get(f"/emergency/activations/{activation.id}/board"))
    base = f"/emergency/activations/{activation.id}"
    for href in (f"{base}/rollcall", f"{base}/rollcall#responders", f"{base}/wellbeing",
                 f"{base}/stand-down", f"{base}/report"):
        assert f'href="{href}"' in html, href
    assert ">E-mail</td>" in html and ">In-app inbox</td>" in html  # channels by name
    assert 'id="board-stale"' in html and 'id="board-ended" class="notice" hidden' in html


def test_after_stand_down_the_board_says_it_ended(world, activate_drill, client, db):
    activation = activate_drill()
    with transaction():
        activation_service.stand_down(activation, note="", by=world.coordinator)
    login(client, world.coordinator)
    html = text(client.get(f"/emergency/activations/{activation.id}/board"))
    ended = activation.stood_down_at
    assert (f"This call-out ended at {(ended.hour + 8) % 24:02d}:{ended.minute:02d}."
            in html)
    assert f"/emergency/activations/{activation.id}/stand-down" not in html


def test_the_board_names_channels_in_chinese(world, activate_drill, client):
    activation = activate_drill()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    login(client, world.coordinator)
    html = text(client.get(f"/emergency/activations/{activation.id}/board"))
    assert ">站内信</td>" in html and ">inbox</td>" not in html


def test_roll_call_buttons_say_what_they_did(world, activate_drill, client, db):
    activation = activate_drill()
    wang = db.session.execute(db.select(Responder).filter_by(
        activation_id=activation.id, volunteer_id=world.v("wang").id)).scalar_one()
    login(client, world.coordinator)
    url = f"/emergency/activations/{activation.id}/rollcall"
    response = post_form(client, f"{url}/{wang.id}/arrived", {}, form_url=url)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{url}#responder-{wang.id}")
    page = text(client.get(url))
    assert "王一 is marked as arrived." in page and f'id="responder-{wang.id}"' in page
    response = post_form(client, f"{url}/{wang.id}/safe", {}, form_url=url)
    assert "王一 is confirmed safe." in text(client.get(url))
