"""`volunteer-hub sms-templates`: the wordings a deployer registers with the SMS provider."""
from __future__ import annotations

import click
from flask.cli import with_appcontext


def register(group) -> None:
    @group.command("sms-templates")
    @click.option("--site", default=None,
                  help="The site's public address [EMERGENCY_BASE_URL or PUBLIC_BASE_URL].")
    @click.option("--numbered", is_flag=True,
                  help="Variables as {1}, {2} (Tencent Cloud) instead of ${name}.")
    @with_appcontext
    def sms_templates_command(site: str | None, numbered: bool):
        """Print every message kind's template in each language, to register with the
        provider; put the codes it approves in SMS_TEMPLATES."""
        from flask import current_app

        from volunteer_hub.sms.kinds import KINDS, LOCALES

        config = current_app.config
        site = (site or config.get("EMERGENCY_BASE_URL") or config.get("PUBLIC_BASE_URL")
                or "https://your-site").rstrip("/")
        for kind in KINDS:
            click.echo(f"[{kind.name}] parameters: {', '.join(kind.params)}")
            for locale in LOCALES:
                text = kind.text(locale).replace("<site>", site)
                if numbered:
                    for number, name in enumerate(kind.params, start=1):
                        text = text.replace("${" + name + "}", "{" + str(number) + "}")
                click.echo(f"  {locale}: {text}")
