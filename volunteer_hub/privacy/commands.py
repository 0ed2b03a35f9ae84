"""`volunteer-hub privacy ...`: retention runs and consent texts."""
from __future__ import annotations

import json

import click
from flask.cli import with_appcontext


def register(group) -> None:
    @group.group("privacy")
    def privacy_group():
        """Personal-data rights: retention, consent texts."""

    @privacy_group.command("retention")
    @click.option("--dry-run", is_flag=True, help="Count what would be deleted or closed; "
                                                 "change nothing.")
    @with_appcontext
    def retention_command(dry_run: bool):
        """Apply the retention settings now (the scheduler does it nightly)."""
        from volunteer_hub.db import transaction
        from volunteer_hub.privacy.retention import RULES, days_kept, run_retention

        with transaction():
            run = run_retention(dry_run=dry_run, trigger="cli")
            counts = json.loads(run.counts)
        click.echo(("Dry run: nothing changed." if dry_run else f"Retention run {run.id}."))
        for rule in RULES:
            days = days_kept(rule)
            shown = counts.get(rule.kind, "off") if days else "off"
            click.echo(f"  {rule.kind:<18} {rule.setting}={days}: {shown}")

    @privacy_group.command("publish-consent")
    @click.argument("kind")
    @click.argument("version")
    @click.argument("locale")
    @click.argument("text_file", type=click.File("r", encoding="utf-8"))
    @with_appcontext
    def publish_consent_command(kind: str, version: str, locale: str, text_file):
        """Publish a consent text (e.g. service_terms 2027-01 zh_Hans terms.txt); people who
        agreed to an older version are asked again at their next login."""
        from volunteer_hub.db import transaction
        from volunteer_hub.errors import DomainError
        from volunteer_hub.privacy.consents import publish_text

        try:
            with transaction():
                publish_text(kind, version, locale, text_file.read())
        except DomainError as error:
            raise click.ClickException(str(error.message)) from error
        click.echo(f"Published {kind} {version} ({locale}).")
