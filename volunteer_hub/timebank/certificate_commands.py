"""`volunteer-hub certificate ...`: verify certificates offline, make the signing key."""
from __future__ import annotations

import sys

import click


@click.group("certificate")
def certificate_group():
    """Service record certificates (志愿服务记录证明)."""


@certificate_group.command("verify")
@click.argument("pdf_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--public-key", "public_key_file", type=click.Path(exists=True, dir_okay=False),
              help="PEM of the issuing deployment's public key (from /certificates/"
                   "public-key.pem); default: this deployment's key.")
@click.pass_context
def certificate_verify_command(ctx, pdf_file: str, public_key_file: str | None):
    """Verify a certificate PDF offline; exit 0 when valid, 1 otherwise."""
    from flask.cli import ScriptInfo

    from volunteer_hub.timebank import certificates

    try:
        if public_key_file:
            with open(public_key_file, "rb") as handle:
                public_key = certificates.load_public_key(handle.read())
        else:
            app = ctx.ensure_object(ScriptInfo).load_app()
            with app.app_context():
                public_key = certificates.signing_key(app, create=False).public_key()
    except certificates.CertificateError as error:
        click.echo(f"ERROR: {error}", err=True)
        sys.exit(1)
    with open(pdf_file, "rb") as handle:
        result = certificates.verify_pdf(handle.read(), public_key)
    click.echo(result.message, err=not result.ok)
    sys.exit(0 if result.ok else 1)


@certificate_group.command("keygen")
@click.option("--stdout", "to_stdout", is_flag=True,
              help="Print a new private key (for CERTIFICATE_SIGNING_KEY) instead of writing "
                   "instance/certificate_key.pem.")
@click.option("--force", is_flag=True, help="Replace an existing key file: certificates "
                                            "signed with the old key stop verifying.")
@click.pass_context
def certificate_keygen_command(ctx, to_stdout: bool, force: bool):
    """Create the deployment's Ed25519 certificate key; print its public key."""
    from pathlib import Path

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
