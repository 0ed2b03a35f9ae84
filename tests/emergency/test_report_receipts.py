"""The after-action report counts delivery per channel from receipts: delivered (as the
channel registry counts reaching a person), failed, and unconfirmed (sent, but neither a
receipt nor a failure came back), on the page in Chinese and English, in the API and CSV."""
from __future__ import annotations

import re

import pytest

from tests.emergency.test_board import message
from tests.emergency.test_report import scene  # noqa: F401  (the fixture)
from volunteer_hub.emergency import report


@pytest.fixture
def wechat_scene(scene, db):  # noqa: F811
    """WeChat alerts too: qian's confirmed by WeChat's receipt, sun's failed (unsubscribed),
    zhou's sent with no receipt yet."""
    r = scene.responders
    message(scene.activation, r["qian"], "wechat", status="delivered", created=0, sent=0.05,
            delivered=0.1)
    message(scene.activation, r["sun"], "wechat", status="failed", created=0, sent=0.05)
    message(scene.activation, r["zhou"], "wechat", status="sent", created=0, sent=0.05)
    db.session.commit()
    return scene


def _counts(channel_messages):
    return (channel_messages.delivered, channel_messages.failed, channel_messages.unconfirmed)


def test_delivered_failed_and_unconfirmed_per_channel(wechat_scene):
    messages = {m.channel: m for m in report.after_action(wechat_scene.activation).messages}
    assert _counts(messages["wechat"]) == (1, 1, 1)
    # SMS: receipts for wang, li and zhao, zhou's failed before sending; the alerts of qian
    # and sun, sun's assignment and li's reply went out without a receipt.
    assert _counts(messages["sms"]) == (3, 1, 4)
    assert _counts(messages["email"]) == (2, 0, 0)  # accepted by the mail server: reached
    assert _counts(messages["inbox"]) == (1, 0, 5)  # zhou read it; five unread


def _row(html: str, channel: str) -> str:
    return re.search(rf'<tr data-channel="{channel}">(.*?)</tr>', html, re.S).group(1)


def _metric(row: str, name: str) -> str:
    return re.search(rf'data-metric="{name}">(\d+)<', row).group(1)


@pytest.mark.parametrize("locale, label, header", [("zh", "微信", "未确认"),
                                                   ("en", "WeChat", "Unconfirmed")])
def test_report_page_shows_them_in_the_readers_language(client, db, wechat_scene, world,
                                                        locale, label, header):
    from tests.web.helpers import login

    world.coordinator.locale = "zh_Hans" if locale == "zh" else "en"
    db.session.commit()
    login(client, world.coordinator)
    html = client.get(f"/emergency/activations/{wechat_scene.activation.id}/report",
                      headers={"Accept-Language": locale}).get_data(as_text=True)
    row = _row(html, "wechat")
    assert label in row and header in html
    assert [_metric(row, name) for name in ("delivered", "failed", "unconfirmed")] == [
        "1", "1", "1"]


def test_report_api_and_csv_carry_them(client, wechat_scene, world, auth_header):
    url = f"/api/v1/emergency/activations/{wechat_scene.activation.id}/report"
    body = client.get(url, headers=auth_header(world.coordinator)).get_json()
    wechat = next(m for m in body["messages"] if m["channel"] == "wechat")
    assert (wechat["delivered"], wechat["failed"], wechat["unconfirmed"]) == (1, 1, 1)
    csv_text = client.get(url + ".csv", headers=auth_header(world.coordinator)).get_data(
        as_text=True)
    assert "messages,wechat,unconfirmed,1" in csv_text
    assert "messages,sms,unconfirmed,4" in csv_text
