"""The monthly report publishes the latest signed ledger checkpoint, in the reader's language."""
from __future__ import annotations

import html

import pytest

from tests.reports import builders
from tests.web.helpers import login, text
from volunteer_hub.timebank import checkpoints, signing
from volunteer_hub.timebank import services as timebank


@pytest.fixture
def world(db, tree, app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "LEDGER_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    return builders.build(tree)


def _page(client, world):
    return text(client.get(f"/org/reports?org_id={world.tree['a'].id}&from=2026-01&to=2026-03"))


def test_the_monthly_report_shows_the_latest_checkpoint(client, world, make_staff, app):
    organizer = make_staff(world.tree["a"], "organizer")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    login(client, organizer)
    assert 'id="ledger-checkpoint"' not in _page(client, world)  # none made yet

    checkpoint, _ = timebank.make_checkpoint()
    page = _page(client, world)
    assert 'id="ledger-checkpoint"' in page
    assert f"时间银行账本检查点：共 {checkpoint.size} 笔交易" in page
    shown = page.split('id="ledger-checkpoint"')[1].split("<pre")[1].split(">", 1)[1]
    published = html.unescape(shown.split("</pre>")[0])
    assert checkpoints.verify_checkpoint(
        published, [signing.parse_verifier(signing.checkpoint_signer(app).verifier.encoded)]
    ).root == checkpoint.root
