"""Backups that restore: the database and the instance secrets together (issue 14 item 5).

`volunteer-hub backup create DIR` writes into a new directory DIR:

* ``database.sqlite3`` (SQLite: the online backup API, consistent while the service runs) or
  ``database.pgdump`` (PostgreSQL: ``pg_dump --format=custom``, consistent as one snapshot;
  pg_dump/pg_restore of the server's major version must be on PATH - the command says so
  otherwise, it does not fall back to a partial copy);
* ``instance/``: every file of the instance folder except the SQLite database itself:
  ``secrets.json`` (session key, the key that encrypts ID numbers, the ID hash key),
  ``certificate_key.pem``, ``ledger-keys.json`` (transaction MAC keys, checkpoint key), ...;
* ``checkpoints/``: the signed ledger checkpoints (LEDGER_CHECKPOINT_DIR);
* ``MANIFEST.json``: engine, schema revision, ledger size, and the SHA-256 of every file.

`volunteer-hub backup restore DIR` checks every file against the manifest, refuses a target
database that holds data (``--force`` to replace it), restores the database, then the
instance files and checkpoints (a different file already there is kept as
``<name>.before-restore``). Restart the service afterwards and run `volunteer-hub ledger
verify`.

Keys set as settings (environment variables) are not files: the backup names them and they
must be kept wherever the deployment keeps its settings. Without the keys a restored database
is useless: ID numbers cannot be decrypted, the ledger's MACs and checkpoints cannot be
checked, and certificates can no longer be signed by the same key.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

FORMAT = "volunteer-hub-backup/1"
MANIFEST = "MANIFEST.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
INSTANCE_DIR = "instance"
CHECKPOINT_DIR = "checkpoints"
# Secrets a deployment may give as settings instead of instance files.
KEY_SETTINGS = ("SECRET_KEY", "DATA_ENCRYPTION_KEY", "ID_HASH_KEY", "VAPID_PRIVATE_KEY",
                "CERTIFICATE_SIGNING_KEY", "LEDGER_MAC_KEYS", "LEDGER_CHECKPOINT_SIGNING_KEY")
KEY_WARNING = (
    "KEEP THIS BACKUP SAFE AND SECRET: it holds the instance keys. Without them a restored "
    "database is useless (ID numbers cannot be decrypted, ledger MACs and checkpoints cannot "
    "be verified, certificates cannot be signed with the same key), and anyone holding them "
    "can read ID numbers and sign ledger entries.")


class BackupError(Exception):
    """The backup or restore cannot go on (message for the operator)."""


@dataclass
class BackupResult:
    directory: Path
    manifest: dict
    keys_in_settings: list[str] = field(default_factory=list)


# --- create ------------------------------------------------------------------------------------

def create_backup(app, target: Path) -> BackupResult:
    """Write a full backup of `app`'s database and instance secrets into the new `target`."""
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty: choose a new directory")
    target.mkdir(parents=True, exist_ok=True)
    os.chmod(target, 0o700)
    engine_name = _engine(app).dialect.name
    if engine_name == "sqlite":
        _dump_sqlite(app, target / SQLITE_FILE)
    elif engine_name == "postgresql":
        _dump_postgres(app, target / PG_FILE)
    else:
        raise BackupError(f"no backup method for {engine_name}")
    database_path = _sqlite_path(app)
    _copy_tree(Path(app.instance_path), target / INSTANCE_DIR,
               skip=_sqlite_companions(database_path) | {_checkpoint_dir(app)})
    _copy_tree(_checkpoint_dir(app), target / CHECKPOINT_DIR)
    keys_in_settings = [name for name in KEY_SETTINGS if _configured_not_in_file(app, name)]
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "engine": engine_name,
        "database": SQLITE_FILE if engine_name == "sqlite" else PG_FILE,
        "schema_revision": _schema_revision(app),
        "ledger_transactions": _ledger_size(app),
        "keys_in_settings_not_in_backup": keys_in_settings,
        "files": _checksums(target),
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                   encoding="utf-8")
    return BackupResult(target, manifest, keys_in_settings)


def _engine(app):
    from volunteer_hub.db import db

    with app.app_context():
        return db.engine


def _sqlite_path(app) -> Path | None:
    engine = _engine(app)
    if engine.dialect.name != "sqlite" or not engine.url.database:
        return None
    return Path(engine.url.database).resolve()


def _sqlite_companions(path: Path | None) -> set[Path]:
    if path is None:
        return set()
    return {path, *(Path(f"{path}{suffix}") for suffix in ("-wal", "-shm", "-journal"))}


def _dump_sqlite(app, destination: Path) -> None:
    """The online backup API: a consistent copy while other connections keep writing."""
    source = sqlite3.connect(str(_sqlite_path(app)))
    target = sqlite3.connect(str(destination))
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    os.chmod(destination, 0o600)


def _libpq(app) -> tuple[str, dict]:
    """A libpq URL without the password, and the environment carrying it."""
    url = _engine(app).url
    environment = dict(os.environ)
    if url.password:
        environment["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), environment


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not on PATH: install the PostgreSQL client tools of the "
                          f"server's major version (Debian: postgresql-client)")
    return path


def _dump_postgres(app, destination: Path) -> None:
    url, environment = _libpq(app)
    result = subprocess.run(
        [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
         f"--file={destination}", f"--dbname={url}"],
        env=environment, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
    os.chmod(destination, 0o600)


def _checkpoint_dir(app) -> Path:
    from volunteer_hub.timebank.checkpoints import directory

    return directory(app).resolve()


def _copy_tree(source: Path, destination: Path, *, skip: set[Path] = frozenset()) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    if not source.is_dir():
        return
    for path in sorted(source.rglob("*")):
        resolved = path.resolve()
        if resolved in skip or any(parent in skip for parent in resolved.parents):
            continue
        if path.is_file():
            copy = destination / path.relative_to(source)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, copy)


def _configured_not_in_file(app, name: str) -> bool:
    """A key given as a setting (so absent from instance/secrets.json)."""
    value = app.config.get(name)
    if not value:
        return False
    secrets_file = Path(app.instance_path) / "secrets.json"
    stored = json.loads(secrets_file.read_text()) if secrets_file.exists() else {}
    return stored.get(name) != value


def _schema_revision(app) -> str | None:
    from sqlalchemy import inspect, text

    engine = _engine(app)
    with engine.connect() as connection:
        if "alembic_version" not in inspect(connection).get_table_names():
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _ledger_size(app) -> int:
    from sqlalchemy import func, select

    from volunteer_hub.db import db
    from volunteer_hub.timebank.models import LedgerTransaction

    with app.app_context():
        return int(db.session.execute(select(func.count(LedgerTransaction.id))).scalar() or 0)


def _checksums(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): _sha256(path)
            for path in sorted(folder.rglob("*")) if path.is_file() and path.name != MANIFEST}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- restore -----------------------------------------------------------------------------------

@dataclass
class RestoreResult:
    manifest: dict
    restored_files: list[str]
    kept_aside: list[str]


def read_manifest(source: Path) -> dict:
    """The manifest, after checking every file it lists is present and unchanged."""
    source = Path(source)
    try:
        manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BackupError(f"{source} has no readable {MANIFEST}: {error}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    for name, expected in manifest["files"].items():
        path = source / name
        if not path.is_file():
            raise BackupError(f"{name} is missing from the backup")
        if _sha256(path) != expected:
            raise BackupError(f"{name} does not match its checksum: the backup is damaged")
    return manifest


def restore_backup(app, source: Path, *, force: bool = False) -> RestoreResult:
    """Restore the database and the instance files of the backup in `source` into `app`'s
    database and instance folder."""
    source = Path(source)
    manifest = read_manifest(source)
    engine_name = _engine(app).dialect.name
    if engine_name != manifest["engine"]:
        raise BackupError(f"the backup is of a {manifest['engine']} database; this deployment "
                          f"uses {engine_name}")
    if engine_name == "sqlite":
        _sqlite_path(app).parent.mkdir(parents=True, exist_ok=True)
    rows = _rows_in_target(app)
    if rows and not force:
        raise BackupError(f"the target database already holds data ({rows}); restore into a "
                          f"new database, or replace it with --force")
    _release_connections(app)
    if engine_name == "sqlite":
        _restore_sqlite(source / SQLITE_FILE, _sqlite_path(app))
    else:
        _restore_postgres(app, source / PG_FILE)
    restored, kept = [], []
    for folder, destination in ((INSTANCE_DIR, Path(app.instance_path)),
                                (CHECKPOINT_DIR, _checkpoint_dir(app))):
        for path in sorted((source / folder).rglob("*")):
            if path.is_file():
                target = destination / path.relative_to(source / folder)
                if _place(path, target):
                    kept.append(str(target) + ".before-restore")
                restored.append(str(target))
    for cached in ("certificate_signing_key", "ledger_mac_keys", "ledger_checkpoint_signer"):
        app.extensions.pop(cached, None)
    return RestoreResult(manifest, restored, kept)


def _rows_in_target(app) -> str:
    """'12 rows in orgs, ...' for the tables that hold rows (empty: a new database)."""
    from sqlalchemy import inspect, text

    engine = _engine(app)
    counts = []
    with engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            if table == "alembic_version":
                continue
            count = connection.execute(text(f'SELECT COUNT(*) FROM "{table}"')).scalar()
            if count:
                counts.append(f"{count} rows in {table}")
    return ", ".join(counts)


def _release_connections(app) -> None:
    from volunteer_hub.db import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _restore_sqlite(backup_file: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(str(backup_file))
    destination = sqlite3.connect(str(target))
    try:
        source.backup(destination)
    finally:
        destination.close()
        source.close()


def _restore_postgres(app, dump: Path) -> None:
    url, environment = _libpq(app)
    result = subprocess.run(
        [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
         "--single-transaction", "--exit-on-error", f"--dbname={url}", str(dump)],
        env=environment, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"pg_restore failed: {result.stderr.strip()}")


def _place(source: Path, target: Path) -> bool:
    """Copy `source` to `target`; a different file already there is kept aside (True)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    kept = False
    if target.exists():
        if target.read_bytes() == source.read_bytes():
            return False
        shutil.copy2(target, Path(f"{target}.before-restore"))
        kept = True
    shutil.copy2(source, target)
    return kept
