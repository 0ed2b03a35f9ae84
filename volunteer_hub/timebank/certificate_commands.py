"""`volunteer-hub certificate ...`: verify certificates and history files offline, make the
signing key."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.group("certificate")
def certificate_group():
    """Service record certificates (志愿服务记录证明)."""


def _ledger_keys(values: tuple[str, ...]) -> list[str]:
    """Each --ledger-key is a verifier key ("<name>+<hash>+<base64>") or a file holding one."""
    keys = []
    for value in values:
        path = Path(value)
        keys.append(path.read_text(encoding="utf-8").strip() if path.is_file() else value)
    return keys


@certificate_group.command("verify")
@click.argument("document", type=click.Path(exists=True, dir_okay=False))
@click.option("--public-key", "public_key_file", type=click.Path(exists=True, dir_okay=False),
              help="PEM of the issuing deployment's certificate key (from /certificates/"
                   "public-key.pem); default: this deployment's key.")
@click.option("--ledger-key", "ledger_keys", multiple=True,
              help="The ledger's checkpoint key (<name>+<hash>+<base64>, from /certificates/"
                   "ledger-key.txt) or a file holding it; repeatable. Default: for a PDF "
                   "the key the certificate names (covered by its signature), for a "
                   "history file (unsigned) this deployment's checkpoint key(s).")
@click.pass_context
def certificate_verify_command(ctx, document: str, public_key_file: str | None,
                               ledger_keys: tuple[str, ...]):
    """Verify a certificate PDF or a history JSON file offline; exit 0 when valid, 1 otherwise.

    A PDF: its Ed25519 signature, and that each certified record is a MINT transaction of
    the signed ledger (inclusion proof against the embedded signed checkpoint). A history
    file: every transaction's proof and amounts against its checkpoint."""
    from volunteer_hub.timebank import certificates, proofs

    keys = _ledger_keys(ledger_keys) or None
    data = Path(document).read_bytes()
    if data.lstrip()[:1] == b"{":
        try:
            # A history file is not signed: the key it names vouches for nothing. Without
            # --ledger-key the deployment's own checkpoint key(s) are the trusted ones.
            keys = keys or _deployment_ledger_keys(ctx)
        except Exception as error:  # noqa: BLE001 (no deployment to read a key from)
            click.echo(f"ERROR: give the ledger's checkpoint key with --ledger-key "
                       f"({error})", err=True)
            sys.exit(1)
        try:
            message = proofs.verify_history(json.loads(data), keys)
        except (ValueError, proofs.ProofError) as error:
            click.echo(f"INVALID: {error}", err=True)
            sys.exit(1)
        click.echo(message)
        return
    try:
        if public_key_file:
            public_key = certificates.load_public_key(Path(public_key_file).read_bytes())
        else:
            public_key = _deployment_key(ctx)
    except certificates.CertificateError as error:
        click.echo(f"ERROR: {error}", err=True)
        sys.exit(1)
    result = certificates.verify_pdf(data, public_key, keys)
    click.echo(result.message, err=not result.ok)
    sys.exit(0 if result.ok else 1)


def _deployment_ledger_keys(ctx) -> list[str]:
    from flask.cli import ScriptInfo

    from volunteer_hub.timebank import signing

    app = ctx.ensure_object(ScriptInfo).load_app()
    with app.app_context():
        return [verifier.encoded for verifier in signing.checkpoint_verifiers(app)]


def _deployment_key(ctx):
    from flask.cli import ScriptInfo

    from volunteer_hub.timebank import certificates

    app = ctx.ensure_object(ScriptInfo).load_app()
    with app.app_context():
        return certificates.signing_key(app, create=False).public_key()


@certificate_group.command("keygen")
@click.option("--stdout", "to_stdout", is_flag=True,
              help="Print a new private key (for CERTIFICATE_SIGNING_KEY) instead of writing "
                   "instance/certificate_key.pem.")
@click.option("--force", is_flag=True, help="Replace an existing key file: certificates "
                                            "signed with the old key stop verifying.")
@click.pass_context
def certificate_keygen_command(ctx, to_stdout: bool, force: bool):
    """Create the deployment's Ed25519 certificate key; print its public key."""
    from flask.cli import ScriptInfo

    from volunteer_hub.timebank import certificates

    if to_stdout:
        click.echo(certificates.new_private_pem().decode(), nl=False)
        return
    app = ctx.ensure_object(ScriptInfo).load_app()
    path = Path(app.instance_path) / certificates.KEY_FILE
    if app.config.get("CERTIFICATE_SIGNING_KEY"):
        click.echo("CERTIFICATE_SIGNING_KEY is set: it is the key in use.", err=True)
    elif not certificates.write_new_key(path, exclusive=not force):
        click.echo(f"{path} exists (use --force to replace it).", err=True)
        sys.exit(1)
    else:
        click.echo(f"Wrote {path}")
    with app.app_context():
        public_key = certificates.signing_key(app, create=False).public_key()
    click.echo(certificates.public_pem(public_key).decode(), nl=False)
