"""`volunteer-hub ...` (also `flask vh ...`): thin wrappers over services."""
from __future__ import annotations

import sys

import click
from flask.cli import FlaskGroup, with_appcontext


def _create_app(*_args, **_kwargs):
    from volunteer_hub import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app)
def main():
    """Volunteer Hub administration."""


@main.command("demo")
@click.option("--volunteers", default=2000, show_default=True, help="How many volunteers.")
@click.option("--seed", default=2026, show_default=True)
@click.option("--if-empty", is_flag=True, help="Do nothing when the database holds any org.")
@with_appcontext
def demo_command(volunteers: int, seed: int, if_empty: bool):
    """Build a believable demo district and print one login per role."""
    from volunteer_hub.demo import build_demo, database_is_empty

    if if_empty and not database_is_empty():
        click.echo("The database already has data: demo skipped.")
        return
    logins = build_demo(volunteers=volunteers, seed=seed, progress=True)
    click.echo("\nDemo logins (password for all: %s):" % logins.pop("password"))
    for role, login in logins.items():
        click.echo(f"  {role:<12} {login}")


@main.group("import")
def import_group():
    """Import data from files."""


@import_group.command("volunteers")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--all-or-nothing", is_flag=True, help="Import nothing if any row is bad.")
@click.option("--lang", default=None, help="Language of the messages (zh_Hans, en); "
              "default: the site's default language.")
@click.option("--progress-every", default=500, show_default=True,
              help="When stderr is not a terminal, a progress line every N rows.")
@with_appcontext
def import_volunteers_command(path: str, all_or_nothing: bool, lang: str | None,
                              progress_every: int):
    """Import volunteers from a CSV or Excel text export (UTF-8, UTF-8 with BOM, GBK,
    UTF-16). Exit code: 0 every row imported, 2 some rows imported and some refused,
    1 nothing imported."""
    from flask import current_app
    from flask_babel import force_locale, gettext

    from volunteer_hub.volunteers.importer import import_volunteers

    with open(path, "rb") as handle:
        raw = handle.read()
    with force_locale(lang or current_app.config["BABEL_DEFAULT_LOCALE"]), \
            _progress(progress_every) as progress:
        report = import_volunteers(raw, all_or_nothing=all_or_nothing, progress=progress)
        click.echo(gettext("Encoding: %(encoding)s. Imported %(imported)d of %(total)d rows.",
                           encoding=report.encoding, imported=report.imported,
                           total=report.total))
        for problem in report.problems:
            click.echo(gettext("  line %(line)d: %(column)s: %(message)s", line=problem.line,
                               column=problem.field, message=problem.message), err=True)
    sys.exit(report.exit_code)


class _progress:
    """A progress bar on a terminal, else a line every `every` rows (for logs), on stderr."""

    def __init__(self, every: int):
        self.every, self.bar = max(1, every), None

    def __enter__(self):
        return self

    def __call__(self, done: int, total: int) -> None:
        if sys.stderr.isatty():
            if self.bar is None:
                self.bar = click.progressbar(length=total, file=sys.stderr).__enter__()
            self.bar.update(1)
        elif done % self.every == 0 or done == total:
            click.echo(f"{done}/{total}", err=True)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False


@main.command("create-admin")
@click.option("--org-code", required=True, help="Code of the org node the admin covers.")
@click.option("--phone", required=True)
@click.option("--name", required=True)
@click.password_option()
@with_appcontext
def create_admin_command(org_code: str, phone: str, name: str, password: str):
    """Create a user holding the admin role on an org node."""
    from volunteer_hub.accounts import services
    from volunteer_hub.db import db, transaction
    from volunteer_hub.orgs.models import Org

    with transaction():
        org = db.session.execute(db.select(Org).filter_by(code=org_code)).scalar_one()
        user = services.create_user(display_name=name, password=password, phone=phone)
        services.grant_role(user, org, "admin", by=None)
    click.echo(f"Admin {name} created on {org.name_zh}.")


@main.command("scheduler")
@click.option("--list", "list_only", is_flag=True, help="Print the jobs and exit.")
@with_appcontext
def scheduler_command(list_only: bool):
    """Run the scheduled jobs of every feature (its own process; one per deployment is enough,
    more are safe on PostgreSQL)."""
    from flask import current_app

    from volunteer_hub import FEATURES
    from volunteer_hub.scheduler import build_scheduler, collect_jobs

    jobs = collect_jobs(FEATURES)
    for job in jobs:
        click.echo(f"{job.id}: {job.trigger} {job.trigger_args}")
    if not list_only:
        build_scheduler(current_app._get_current_object(), jobs).start()


def _add_feature_commands() -> None:
    """Each feature may add commands in its `commands.py` with `register(group)`."""
    from importlib import import_module
    from importlib.util import find_spec

    from volunteer_hub import FEATURES

    for feature in FEATURES:
        name = f"volunteer_hub.{feature}.commands"
        if find_spec(name) is not None:
            import_module(name).register(main)


_add_feature_commands()


from volunteer_hub.backup_commands import backup_group  # noqa: E402

main.add_command(backup_group)


def register_cli(app) -> None:
    """Expose the same commands as `flask vh ...`."""
    group = click.Group("vh", help="Volunteer Hub commands.")
    for name, command in main.commands.items():
        if name not in ("db", "run", "shell", "routes"):
            group.add_command(command, name)
    app.cli.add_command(group)
