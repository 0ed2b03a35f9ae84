"""Backups that restore (issue 14 item 5): database, instance secrets, keys, checkpoints into a
NEW database, which then passes `ledger verify`."""
from __future__ import annotations

import json
import os
import uuid

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.timebank.test_certificates import _earn
from volunteer_hub import create_app
from volunteer_hub.backup_commands import backup_group
from volunteer_hub.timebank.commands import ledger_group

SECRETS = ("SECRET_KEY", "DATA_ENCRYPTION_KEY", "ID_HASH_KEY", "VAPID_PRIVATE_KEY")


def _run(app, group, *args):
    """Run a command against `app` (its context: the test's own one is already pushed)."""
    with app.app_context():
        return CliRunner().invoke(group, list(args), obj=ScriptInfo(create_app=lambda: app))


@pytest.fixture
def ledger_with_checkpoint(app, db, tree, make_staff, make_volunteer, monkeypatch, tmp_path):
    from volunteer_hub.timebank import services

    monkeypatch.setitem(app.config, "LEDGER_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    organizer = make_staff(tree["a"], "organizer")
    volunteer = make_volunteer(tree["b"])
    _earn(db, tree, organizer, volunteer, 120)
    services.make_checkpoint()
    _earn(db, tree, organizer, volunteer, 45)  # after the checkpoint: extends it
    db.session.commit()
    return volunteer


@pytest.fixture
def new_database(app, tmp_path):
    """A URL of a database that does not exist yet on the engine under test."""
    source = make_url(app.config["DATABASE_URL"])
    if source.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored' / 'new.db'}"
        return
    name = f"vh_restore_{uuid.uuid4().hex[:8]}"
    admin = create_engine(source.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield source.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _fresh_app(app, database_url, instance):
    fresh = create_app({"TESTING": True, "DATABASE_URL": database_url,
                        **{name: app.config[name] for name in SECRETS}})
    fresh.instance_path = str(instance)
    return fresh


def test_backup_restores_into_a_new_database_that_verifies(app, db, ledger_with_checkpoint,
                                                           new_database, tmp_path):
    from volunteer_hub.db import db as sqlalchemy

    backup = tmp_path / "backup"
    created = _run(app, backup_group, "create", str(backup))
    assert created.exit_code == 0, created.output + created.stderr
    assert "KEEP THIS BACKUP SAFE" in created.stderr and "keys" in created.stderr
    manifest = json.loads((backup / "MANIFEST.json").read_text())
    assert manifest["ledger_transactions"] == 2
    assert any(name.startswith("checkpoints/") for name in manifest["files"])
    assert "instance/ledger-keys.json" in manifest["files"]
    assert "instance/certificate_key.pem" in manifest["files"] or not (
        os.path.exists(os.path.join(app.instance_path, "certificate_key.pem")))
    assert oct(backup.stat().st_mode & 0o777) == "0o700"

    instance = tmp_path / "new-instance"
    restoring = _fresh_app(app, new_database, instance)
    restoring.config["LEDGER_CHECKPOINT_DIR"] = None  # the new deployment's default place
    restored = _run(restoring, backup_group, "restore", str(backup))
    assert restored.exit_code == 0, restored.output + restored.stderr
    for name in ("ledger-keys.json",):
        assert (instance / name).read_bytes() == (
            backup / "instance" / name).read_bytes()
    assert list((instance / "ledger-checkpoints").glob("*"))

    # a new process on the restored deployment: the ledger, its MACs and checkpoint verify
    verifying = _fresh_app(app, new_database, instance)
    verified = _run(verifying, ledger_group, "verify")
    assert verified.exit_code == 0, verified.output + verified.stderr
    assert "Ledger OK" in verified.output and "1 checkpoint(s) compared" in verified.output
    # restoring again over the data is refused unless forced
    again = _run(verifying, backup_group, "restore", str(backup))
    assert again.exit_code == 1 and "already holds data" in again.stderr
    for fresh in (restoring, verifying):
        with fresh.app_context():
            sqlalchemy.session.remove()
            sqlalchemy.engine.dispose()


def test_without_the_ledger_keys_the_restored_ledger_fails(app, db, ledger_with_checkpoint,
                                                          new_database, tmp_path):
    """Why the keys are in the backup: the same database with other keys is FORGED."""
    from volunteer_hub.db import db as sqlalchemy

    backup = tmp_path / "backup"
    assert _run(app, backup_group, "create", str(backup)).exit_code == 0
    (backup / "instance" / "ledger-keys.json").unlink()
    manifest = json.loads((backup / "MANIFEST.json").read_text())
    del manifest["files"]["instance/ledger-keys.json"]
    (backup / "MANIFEST.json").write_text(json.dumps(manifest))
    instance = tmp_path / "keyless"
    restoring = _fresh_app(app, new_database, instance)
    assert _run(restoring, backup_group, "restore", str(backup)).exit_code == 0
    verifying = _fresh_app(app, new_database, instance)
    verified = _run(verifying, ledger_group, "verify")
    assert verified.exit_code == 1
    for fresh in (restoring, verifying):
        with fresh.app_context():
            sqlalchemy.session.remove()
            sqlalchemy.engine.dispose()


def test_a_damaged_backup_is_refused(app, db, ledger_with_checkpoint, new_database, tmp_path):
    backup = tmp_path / "backup"
    assert _run(app, backup_group, "create", str(backup)).exit_code == 0
    database = next(p for p in backup.iterdir() if p.name.startswith("database."))
    data = bytearray(database.read_bytes())
    data[len(data) // 2] ^= 1
    database.write_bytes(bytes(data))
    restoring = _fresh_app(app, new_database, tmp_path / "other")
    result = _run(restoring, backup_group, "restore", str(backup))
    assert result.exit_code == 1 and "checksum" in result.stderr
    assert _run(app, backup_group, "create", str(backup)).exit_code == 1  # not empty
