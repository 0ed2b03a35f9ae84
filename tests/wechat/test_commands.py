"""`volunteer-hub wechat-check` against the local WeChat."""
from __future__ import annotations

from volunteer_hub.cli import main


def run(app):
    return app.test_cli_runner().invoke(main, ["wechat-check"])


def test_check_fetches_the_shared_token_and_names_kinds_without_template(app, wechat_config,
                                                                         fake_wechat):
    result = run(app)

    assert result.exit_code == 0, result.output
    assert "Access token OK" in result.output
    assert "stand_down" in result.output and "callout," not in result.output
    assert len(fake_wechat.tokens_issued) == 1


def test_check_fails_on_a_wrong_secret(app, wechat_config, fake_wechat, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_APP_SECRET", "wrong")

    result = run(app)

    assert result.exit_code == 1
    assert "40125" in result.output


def test_check_fails_without_settings(app, db):
    result = run(app)
    assert result.exit_code == 1 and "WECHAT_APP_ID" in result.output
