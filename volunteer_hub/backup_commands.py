"""`volunteer-hub backup create DIR` / `backup restore DIR` (see volunteer_hub/backup.py)."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext


@click.group("backup")
def backup_group():
    """Back up and restore the database with the instance keys."""


@backup_group.command("create")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def backup_create_command(directory: Path):
    """Write the database, instance secrets, keys and checkpoints into a new DIRECTORY."""
    from volunteer_hub.backup import KEY_WARNING, BackupError, create_backup

    try:
        result = create_backup(current_app._get_current_object(), directory)
    except BackupError as error:
        click.echo(f"ERROR: {error}", err=True)
        sys.exit(1)
    manifest = result.manifest
    click.echo(f"Backup written to {result.directory}: {manifest['engine']} database "
               f"({manifest['ledger_transactions']} ledger transactions), "
               f"{len(manifest['files'])} files.")
    click.echo(f"WARNING: {KEY_WARNING}", err=True)
    if result.keys_in_settings:
        click.echo("WARNING: these keys are set as settings, NOT in this backup; keep them "
                   "with it: " + ", ".join(result.keys_in_settings), err=True)


@backup_group.command("restore")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True,
              help="Replace a target database that already holds data.")
@with_appcontext
def backup_restore_command(directory: Path, force: bool):
    """Restore a backup into this deployment's (new) database and instance folder."""
    from volunteer_hub.backup import BackupError, restore_backup

    try:
        result = restore_backup(current_app._get_current_object(), directory, force=force)
    except BackupError as error:
        click.echo(f"ERROR: {error}", err=True)
        sys.exit(1)
    click.echo(f"Restored the {result.manifest['engine']} database of "
               f"{result.manifest['created_at']} and {len(result.restored_files)} instance "
               f"files.")
    for path in result.kept_aside:
        click.echo(f"Kept the previous file as {path}", err=True)
    missing = result.manifest.get("keys_in_settings_not_in_backup") or []
    if missing:
        click.echo("Set these keys as settings before starting: " + ", ".join(missing),
                   err=True)
    click.echo("Restart the service, then run `volunteer-hub ledger verify`.")
