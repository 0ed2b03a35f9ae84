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
@click.option("--checkpoint", "kept", multiple=True, type=click.File("r", encoding="utf-8"),
              help="A checkpoint someone kept (signed note); repeatable.")
@with_appcontext
def verify_command(batch: int, kept):
    """Check balances, cached totals, the hash chain, every transaction's MAC and that the
    ledger extends every stored (and given) checkpoint; exit 1 on any breach."""
    from volunteer_hub.timebank.services import audit_ledger

    started = time.perf_counter()
    audit = audit_ledger(batch=batch, kept_checkpoints=[handle.read() for handle in kept])
    report = audit.report
    elapsed = time.perf_counter() - started
    click.echo(f"Checked {report.transactions_checked} transactions, {report.postings_checked} "
               f"postings in {elapsed:.2f} s; head {report.head_hash[:16]}; "
               f"{len(audit.checkpoints)} checkpoint(s) compared")
    _echo_unauthenticated(audit)
    if report.ok:
        click.echo("Ledger OK.")
        return
    _fail(report)


def _echo_unauthenticated(audit) -> None:
    count = audit.report.unauthenticated
    if not count:
        return
    if audit.sealed_by is not None:
        click.echo(f"{count} transaction(s) predate authentication (no MAC); sealed by the "
                   f"checkpoint of size {audit.sealed_by.size} "
                   f"({audit.sealed_by.time.isoformat() if audit.sealed_by.time else '-'}).")
    else:
        click.echo(f"{count} transaction(s) predate authentication (no MAC) and no checkpoint "
                   "seals them yet: run `volunteer-hub ledger checkpoint` and publish it.")


def _fail(report) -> None:
    from volunteer_hub.timebank.services import report_breaches

    report_breaches(report)
    for breach in report.breaches:
        click.echo(f"BREACH {breach.code} transaction={breach.transaction_id} "
                   f"account={breach.account}: {breach.detail}", err=True)
    if report.truncated:
        click.echo("(more breaches were not listed)", err=True)
    sys.exit(1)


@ledger_group.command("checkpoint")
@click.option("--batch", default=20_000, show_default=True, help="Rows fetched per round trip.")
@with_appcontext
def checkpoint_command(batch: int):
    """Audit the ledger, then sign a checkpoint (size, Merkle root, time), store it in
    LEDGER_CHECKPOINT_DIR, send it to LEDGER_WITNESS_URLS and print it; exit 1 if the
    audit fails (nothing is signed)."""
    from volunteer_hub.timebank.services import CheckpointRefused, make_checkpoint

    try:
        checkpoint, witnesses = make_checkpoint(batch=batch)
    except CheckpointRefused as refused:
        click.echo("The ledger fails its audit: no checkpoint made.", err=True)
        _fail(refused.report)
        return
    click.echo(checkpoint.text, nl=False)
    for url, result in witnesses.items():
        click.echo(f"witness {url}: {result}", err=result != "ok")


@ledger_group.command("public-key")
@with_appcontext
def public_key_command():
    """Print the checkpoint verifier key (publish it with the checkpoints)."""
    from volunteer_hub.timebank.signing import checkpoint_signer

    click.echo(checkpoint_signer().verifier.encoded)


@ledger_group.command("rotate-key")
@with_appcontext
def rotate_key_command():
    """Add a new transaction MAC key to instance/ledger-keys.json and make it current (old
    keys stay: the rows they signed keep verifying). Back the file up afterwards."""
    from volunteer_hub.timebank.signing import rotate_mac_key

    click.echo(f"New rows are authenticated with {rotate_mac_key()}.")
