"""`volunteer-hub national export|import-numbers`."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext


def register(group) -> None:
    group.add_command(national_group)


@click.group("national")
def national_group():
    """The national record (全国志愿服务信息系统): export, 志愿者编号 import."""


@national_group.command("export")
@click.option("--org-code", required=True, help="Code of the org whose volunteers to export.")
@click.option("--format", "kind", type=click.Choice(["json", "csv"]), default="csv",
              show_default=True, help="csv: a ZIP of one CSV per section.")
@click.option("--out", type=click.Path(dir_okay=False), required=True)
@with_appcontext
def export_command(org_code: str, kind: str, out: str):
    """Export an org's volunteers with masked identifiers (the system reveals no ID)."""
    from volunteer_hub.db import db
    from volunteer_hub.national import services
    from volunteer_hub.orgs.models import Org

    org = db.session.execute(db.select(Org).filter_by(code=org_code)).scalar_one_or_none()
    if org is None:
        raise click.BadParameter(f"unknown org code {org_code}", param_hint="--org-code")
    people = services.volunteers_of_org(org, by=None)
    export = services.build_export(people, by=None, scope={"org_code": org.code,
                                                           "org_name": org.name_zh})
    body = services.to_csv_zip(export) if kind == "csv" else services.to_json_bytes(export)
    with open(out, "wb") as handle:
        handle.write(body)
    click.echo(f"{len(people)} volunteers -> {out}")


@national_group.command("import-numbers")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_numbers_command(path: str):
    """Store 志愿者编号 from a CSV (本系统编号, 志愿者编号). Exit 0 all, 2 some, 1 none."""
    from volunteer_hub.db import transaction
    from volunteer_hub.national import services

    with open(path, "rb") as handle, transaction():
        report = services.import_national_numbers(handle.read(), by=None)
    click.echo(f"{report.updated} stored, {report.unchanged} unchanged, "
               f"{len(report.problems)} refused of {report.total} rows.")
    for problem in report.problems:
        click.echo(f"  line {problem.line}: {problem.message}", err=True)
    sys.exit(report.exit_code)
