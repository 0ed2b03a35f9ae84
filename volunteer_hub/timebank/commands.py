"""`volunteer-hub ledger ...`: audit the time-bank ledger (certificates: certificate_commands)."""
from __future__ import annotations

import sys
import time

import click
from flask.cli import with_appcontext


def register(group) -> None:
    from volunteer_hub.timebank.certificate_commands import certificate_group

    group.add_command(ledger_group)
    group.add_command(certificate_group)


@click.group("ledger")
def ledger_group():
    """Time-bank ledger administration."""


@ledger_group.command("verify")
@click.option("--batch", default=20_000, show_default=True, help="Rows fetched per round trip.")
@with_appcontext
def verify_command(batch: int):
    """Check balances, cached totals and the hash chain; exit 1 on any breach."""
    from volunteer_hub.timebank.services import report_breaches, verify_ledger

    started = time.perf_counter()
    report = verify_ledger(batch=batch)
    elapsed = time.perf_counter() - started
    click.echo(f"Checked {report.transactions_checked} transactions, {report.postings_checked} "
               f"postings in {elapsed:.2f} s; head {report.head_hash[:16]}")
    if report.ok:
        click.echo("Ledger OK.")
        return
    report_breaches(report)
    for breach in report.breaches:
        click.echo(f"BREACH {breach.code} transaction={breach.transaction_id} "
                   f"account={breach.account}: {breach.detail}", err=True)
    if report.truncated:
        click.echo("(more breaches were not listed)", err=True)
    sys.exit(1)
