"""`volunteer-hub wechat-check`: is the Official Account reachable as configured?"""
from __future__ import annotations

import click
from flask.cli import with_appcontext


def register(group) -> None:
    @group.command("wechat-check")
    @with_appcontext
    def wechat_check_command():
        """Fetch (or reuse) the shared access token and list the message kinds that have no
        template in WECHAT_TEMPLATES (those are not sent on WeChat). Exit 1 when WeChat is
        not configured or refuses the credentials."""
        from flask import current_app

        from volunteer_hub.sms.kinds import KIND_NAMES
        from volunteer_hub.wechat.channel import Template
        from volunteer_hub.wechat.client import WeChatError, api_for

        api = api_for(current_app)
        if api is None:
            raise click.ClickException("WECHAT_APP_ID and WECHAT_APP_SECRET are not set.")
        try:
            api.access_token()
        except WeChatError as error:
            raise click.ClickException(f"No access token: {error}") from error
        finally:
            api.close()
        click.echo(f"Access token OK, valid until {api.cached[1]:%Y-%m-%d %H:%M} UTC.")
        templates = current_app.config.get("WECHAT_TEMPLATES") or {}
        unknown = sorted(set(templates) - set(KIND_NAMES))
        missing = [name for name in KIND_NAMES if Template.of(templates.get(name)) is None]
        if unknown:
            click.echo(f"Unknown kinds in WECHAT_TEMPLATES (ignored): {', '.join(unknown)}")
        if missing:
            click.echo(f"Not sent on WeChat (no template): {', '.join(missing)}")
        if not current_app.config.get("WECHAT_TOKEN"):
            click.echo("WECHAT_TOKEN is not set: WeChat's delivery pushes will be refused.")
