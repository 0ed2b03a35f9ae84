"""An attacker who can write the database but holds neither the MAC key nor the checkpoint key
(issue 14): each attack makes `volunteer-hub ledger verify` exit 1 naming the transaction.
Runs on SQLite and, with VOLUNTEER_HUB_TEST_DATABASE_URL, on PostgreSQL."""
from __future__ import annotations

import base64
import secrets
import threading
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import text

from tests.records import builders
from volunteer_hub.cli import main as cli
from volunteer_hub.db import db as _db
from volunteer_hub.records import services as records
from volunteer_hub.timebank import checkpoints, ledger, merkle, signing
from volunteer_hub.timebank import services as timebank
from volunteer_hub.timebank.models import sqlite_trigger_sql

TABLES = ("ledger_transactions", "ledger_postings")


@pytest.fixture
def checkpoint_dir(app, tmp_path, monkeypatch):
    folder = tmp_path / "checkpoints"
    monkeypatch.setitem(app.config, "LEDGER_CHECKPOINT_DIR", str(folder))
    return folder


@pytest.fixture
def ledger_rows(app, db, tree, make_staff, make_volunteer, checkpoint_dir):
    """Six MINTs and a donation through the real services: their ids in chain order."""
    organizer = make_staff(tree["a"], "organizer")
    volunteer = make_volunteer(tree["b"])
    activities = [builders.activity(tree["a"], organizer,
                                    start=builders.START + timedelta(days=day))
                  for day in range(6)]
    made = [builders.checked_out(activity, volunteer, minutes=60 + day)
            for day, activity in enumerate(activities)]
    records.verify_records([record.id for record in made], by=organizer)
    timebank.donate(volunteer, 30, key="donation", by=volunteer.user)
    db.session.commit()
    ids = [row[0] for row in db.session.execute(
        text("SELECT id FROM ledger_transactions ORDER BY id"))]
    assert len(ids) == 7
    db.session.commit()
    assert _verify(app).exit_code == 0
    return ids


def _verify(app, *args):
    return CliRunner().invoke(
        cli, ["ledger", "verify", *args], obj=ScriptInfo(create_app=lambda: app))


def _checkpoint(app):
    result = CliRunner().invoke(
        cli, ["ledger", "checkpoint"], obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.stdout


def _named(result, code: str, transaction_id) -> bool:
    return f"BREACH {code} transaction={transaction_id} " in result.stderr


@contextmanager
def attacker(engine):
    """A connection with database rights (append-only triggers off), no service keys."""
    _db.session.rollback()  # the test's own session holds no snapshot from before the attack
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
            yield connection
            return
        for table in TABLES:
            for action in ("update", "delete"):
                connection.exec_driver_sql(f"DROP TRIGGER {table}_no_{action}")
        yield connection
        for table in TABLES:
            for sql in sqlite_trigger_sql(table):
                connection.exec_driver_sql(sql)


def _rows(connection):
    return connection.execute(text(timebank._transactions_sql())).all()


def _items(connection, transaction_id: int) -> list:
    return [(p, a, k, o, bool(g), m) for p, a, k, o, g, m in connection.execute(text(
        "SELECT p.id, p.account_id, a.kind, a.owner_id, p.earned_as_group, p.minutes "
        "FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id "
        "WHERE p.transaction_id = :t ORDER BY p.id"), {"t": transaction_id})]


def rehash_chain(connection, *, mac_key: bytes | None = None, from_id: int = 0) -> None:
    """What an attacker does after an edit: recompute every chain hash with the public code
    (and, having no key, a MAC with a key of their own when `mac_key` is given), then point
    ledger_head at the new last row and make the cached balances match the postings."""
    prev = ledger.GENESIS_HASH
    rows = _rows(connection)
    for position, row in enumerate(rows):
        canonical = ledger._row_canonical_v2(row, _items(connection, row[0]), False)
        row_hash = ledger.chain_hash_of(prev, canonical)
        values = {"id": row[0], "prev": prev, "hash": row_hash}
        if mac_key is not None and row[0] >= from_id:
            values["mac"] = signing.transaction_mac(mac_key, position, row_hash)
            connection.execute(text("UPDATE ledger_transactions SET mac = :mac WHERE id = :id"),
                               values)
        connection.execute(text("UPDATE ledger_transactions SET prev_hash = :prev, "
                                "hash = :hash WHERE id = :id"), values)
        prev = row_hash
    last = rows[-1][0] if rows else 0
    connection.execute(text("UPDATE ledger_head SET last_transaction_id = :id, hash = :hash"),
                       {"id": last, "hash": prev})
    connection.execute(text(
        "UPDATE ledger_accounts SET "
        "balance_individual = (SELECT coalesce(sum(minutes), 0) FROM ledger_postings p "
        "WHERE p.account_id = ledger_accounts.id AND NOT p.earned_as_group), "
        "balance_group = (SELECT coalesce(sum(minutes), 0) FROM ledger_postings p "
        "WHERE p.account_id = ledger_accounts.id AND p.earned_as_group)"))


def _delete(connection, transaction_ids) -> None:
    for transaction_id in transaction_ids:
        connection.execute(text("UPDATE service_records SET ledger_transaction_id = NULL "
                                "WHERE ledger_transaction_id = :t"), {"t": transaction_id})
        connection.execute(text("DELETE FROM ledger_postings WHERE transaction_id = :t"),
                           {"t": transaction_id})
        connection.execute(text("DELETE FROM ledger_transactions WHERE id = :t"),
                           {"t": transaction_id})


def _append_copy(connection, source_id: int, new_id: int, *, keep_mac: bool) -> None:
    """A new last transaction with the columns of `source_id` (new id, key, posting ids)."""
    next_posting = connection.execute(text("SELECT max(id) FROM ledger_postings")).scalar() + 1
    connection.execute(text(
        "INSERT INTO ledger_transactions (id, kind, created_at, idempotency_key, request_hash, "
        "reverses_id, prev_hash, hash, format_version, provenance, service_volunteer_id, "
        "record_id, created_by_id, mac_key_id, mac) SELECT :new, kind, created_at, "
        "idempotency_key || '-again', request_hash, reverses_id, prev_hash, "
        "substr(hash, 2) || substr(hash, 1, 1), format_version, provenance, service_volunteer_id, record_id, created_by_id, "
        "mac_key_id, mac FROM ledger_transactions WHERE id = :source"),
        {"new": new_id, "source": source_id})
    postings = connection.execute(text(
        "SELECT account_id, minutes, earned_as_group FROM ledger_postings "
        "WHERE transaction_id = :t ORDER BY id"), {"t": source_id}).all()
    for offset, (account_id, minutes, group) in enumerate(postings):
        connection.execute(text(
            "INSERT INTO ledger_postings (id, transaction_id, account_id, minutes, "
            "earned_as_group) VALUES (:id, :t, :a, :m, :g)"),
            {"id": next_posting + offset, "t": new_id, "a": account_id, "m": minutes,
             "g": group})
    if not keep_mac:
        connection.execute(text("UPDATE ledger_transactions SET mac_key_id = NULL, mac = NULL "
                                "WHERE id = :id"), {"id": new_id})


# --- the attacks -----------------------------------------------------------------------------

@pytest.mark.parametrize("mac", ["own key", "none"])
def test_a_forged_appended_transaction_is_named(app, db, ledger_rows, mac):
    forged = ledger_rows[-1] + 1
    with attacker(db.engine) as connection:
        _append_copy(connection, ledger_rows[0], forged, keep_mac=False)  # a MINT, +minutes
        connection.execute(text("UPDATE ledger_postings SET minutes = minutes * 100 "
                                "WHERE transaction_id = :t"), {"t": forged})
        rehash_chain(connection, mac_key=secrets.token_bytes(32) if mac == "own key" else None)
    result = _verify(app)
    assert result.exit_code == 1
    assert _named(result, "FORGED", forged)
    assert "CHAIN_BROKEN" not in result.stderr and "BALANCE_MISMATCH" not in result.stderr


def test_a_replayed_copy_of_a_transaction_is_named(app, db, ledger_rows):
    copy = ledger_rows[-1] + 1
    with attacker(db.engine) as connection:
        _append_copy(connection, ledger_rows[2], copy, keep_mac=True)
        rehash_chain(connection)  # the chain is public; the copied MAC is kept as it was
    result = _verify(app)
    assert result.exit_code == 1
    forged_lines = [line for line in result.stderr.splitlines() if "BREACH FORGED" in line]
    assert forged_lines and all(f"transaction={copy} " in line for line in forged_lines)


@pytest.mark.parametrize("removed", [1, 4])
def test_truncation_after_a_checkpoint_is_named(app, db, ledger_rows, removed):
    _checkpoint(app)
    with attacker(db.engine) as connection:
        _delete(connection, reversed(ledger_rows[-removed:]))
        rehash_chain(connection)  # head moved back, balances made to match
    result = _verify(app)
    assert result.exit_code == 1
    first_missing = ledger_rows[-removed]
    assert _named(result, "TRUNCATED", first_missing)
    assert f"covers {len(ledger_rows)} transactions, the ledger has " \
           f"{len(ledger_rows) - removed}" in result.stderr


def test_an_edited_amount_is_named(app, db, ledger_rows):
    _checkpoint(app)
    edited = ledger_rows[3]
    with attacker(db.engine) as connection:
        connection.execute(text("UPDATE ledger_postings SET minutes = minutes * 10 "
                                "WHERE transaction_id = :t"), {"t": edited})
        rehash_chain(connection, mac_key=secrets.token_bytes(32), from_id=edited)
    result = _verify(app)
    assert result.exit_code == 1
    assert _named(result, "FORGED", edited)
    assert "BREACH REWRITTEN" in result.stderr
    # the rows before the edit still carry the service's MACs
    assert not any(_named(result, "FORGED", earlier) for earlier in ledger_rows[:3])


def test_an_edited_amount_without_rehashing_is_named(app, db, ledger_rows):
    edited = ledger_rows[1]
    with attacker(db.engine) as connection:
        connection.execute(text("UPDATE ledger_postings SET minutes = minutes + 60 "
                                "WHERE transaction_id = :t AND minutes > 0"), {"t": edited})
    result = _verify(app)
    assert result.exit_code == 1
    assert _named(result, "FORGED", edited) and _named(result, "CHAIN_BROKEN", edited)


def test_a_deleted_middle_transaction_is_named(app, db, ledger_rows):
    _checkpoint(app)
    deleted = ledger_rows[2]
    with attacker(db.engine) as connection:
        _delete(connection, [deleted])
        rehash_chain(connection)
    result = _verify(app)
    assert result.exit_code == 1
    successor = ledger_rows[3]
    assert _named(result, "FORGED", successor)
    assert "BREACH TRUNCATED" in result.stderr  # the checkpoint counted one more


def test_a_checkpoint_from_another_ledger_is_refused(app, db, ledger_rows, tmp_path):
    # another deployment: its own key and origin
    foreign_signer = signing.new_signer("volunteer-hub.ledger/elsewhere")
    foreign = tmp_path / "foreign.checkpoint"
    foreign.write_text(checkpoints.make_checkpoint(
        foreign_signer, 3, merkle.root([merkle.leaf_hash(b"%d" % i) for i in range(3)])))
    result = _verify(app, "--checkpoint", str(foreign))
    assert result.exit_code == 1
    assert "BREACH CHECKPOINT_UNTRUSTED" in result.stderr
    # another ledger signed with this deployment's key (e.g. a restored copy that diverged)
    other_root = merkle.root([merkle.leaf_hash(b"%d" % i) for i in range(5)])
    ours = tmp_path / "other-ledger.checkpoint"
    ours.write_text(checkpoints.make_checkpoint(signing.checkpoint_signer(app), 5, other_root))
    result = _verify(app, "--checkpoint", str(ours))
    assert result.exit_code == 1
    assert _named(result, "REWRITTEN", ledger_rows[4])


def test_a_kept_checkpoint_of_this_ledger_passes(app, db, ledger_rows, tmp_path):
    kept = tmp_path / "kept.checkpoint"
    kept.write_text(_checkpoint(app))
    volunteer = _volunteer(db)
    timebank.donate(volunteer, 5, key="later", by=volunteer.user)
    db.session.commit()
    result = _verify(app, "--checkpoint", str(kept))
    assert result.exit_code == 0, result.stderr
    assert "Ledger OK." in result.stdout and "2 checkpoint(s) compared" in result.stdout


def _volunteer(db):
    from volunteer_hub.volunteers.models import Volunteer

    return db.session.query(Volunteer).one()


# --- rows written before authentication -------------------------------------------------------

def test_rows_before_authentication_verify_and_a_checkpoint_seals_them(app, db, ledger_rows):
    with attacker(db.engine) as connection:  # what the migration leaves: no MACs yet
        connection.execute(text("UPDATE ledger_transactions SET mac_key_id = NULL, mac = NULL"))
    result = _verify(app)
    assert result.exit_code == 0, result.stderr
    assert f"{len(ledger_rows)} transaction(s) predate authentication" in result.stdout
    assert "no checkpoint seals them" in result.stdout
    _checkpoint(app)
    result = _verify(app)
    assert result.exit_code == 0 and "sealed by the checkpoint" in result.stdout
    # an unauthenticated row appended after the seal is a forgery
    forged = ledger_rows[-1] + 1
    with attacker(db.engine) as connection:
        _append_copy(connection, ledger_rows[0], forged, keep_mac=False)
        rehash_chain(connection)
    result = _verify(app)
    assert result.exit_code == 1 and _named(result, "FORGED", forged)


# --- checkpoints: the nightly job, witnesses, the store -----------------------------------------

def test_the_nightly_audit_makes_a_checkpoint(app, db, ledger_rows, checkpoint_dir):
    from volunteer_hub.timebank.jobs import verify_ledger_job

    verify_ledger_job()
    latest = checkpoints.latest(app)
    assert latest is not None and latest.size == len(ledger_rows)
    assert latest.origin == signing.checkpoint_signer(app).name
    assert len(list(checkpoint_dir.glob("*.checkpoint"))) == 1


def test_later_checkpoints_hash_only_the_new_transactions(app, db, ledger_rows, checkpoint_dir):
    first, _ = timebank.make_checkpoint()
    volunteer = _volunteer(db)
    for n in range(3):
        timebank.donate(volunteer, 1, key=f"more-{n}", by=volunteer.user)
        db.session.commit()
        second, _ = timebank.make_checkpoint()
    full, _ = timebank.make_checkpoint(full=True)
    assert second.size == first.size + 3 == full.size
    assert second.root == full.root
    audit = timebank.audit_ledger()
    assert audit.report.ok and audit.tree.root() == second.root
    assert {c.size for c in audit.checkpoints} == {first.size + n for n in range(4)}


def test_a_forged_row_since_the_last_checkpoint_is_not_sealed(app, db, ledger_rows):
    _checkpoint(app)
    forged = ledger_rows[-1] + 1
    with attacker(db.engine) as connection:
        _append_copy(connection, ledger_rows[0], forged, keep_mac=False)
        rehash_chain(connection, mac_key=secrets.token_bytes(32), from_id=forged)
    with pytest.raises(timebank.CheckpointRefused) as refused:
        timebank.make_checkpoint()
    assert [(b.code, b.transaction_id) for b in refused.value.report.breaches] == \
        [("FORGED", str(forged))]


def test_an_altered_tree_store_is_not_used(app, db, ledger_rows, checkpoint_dir):
    first, _ = timebank.make_checkpoint()
    level = checkpoint_dir / "tree" / "level-01.bin"
    level.write_bytes(bytes(32) + level.read_bytes()[32:])
    volunteer = _volunteer(db)
    timebank.donate(volunteer, 1, key="after-tamper", by=volunteer.user)
    db.session.commit()
    second, _ = timebank.make_checkpoint()  # rebuilt from the audited database
    assert second.root == timebank.audit_ledger().tree.root()
    assert _verify(app).exit_code == 0


def test_a_checkpoint_is_posted_to_each_witness(app, db, ledger_rows, monkeypatch):
    received = []

    class Witness(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], body.decode("utf-8")))
            self.send_response(200 if self.path == "/ok" else 503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Witness)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setitem(app.config, "LEDGER_WITNESS_URLS", (f"{base}/ok", f"{base}/down"))
    try:
        checkpoint, results = timebank.make_checkpoint()
    finally:
        server.shutdown()
    assert [(path, kind) for path, kind, _ in received] == \
        [("/ok", "text/plain; charset=utf-8"), ("/down", "text/plain; charset=utf-8")]
    assert all(body == checkpoint.text for _, _, body in received)
    assert results[f"{base}/ok"] == "ok" and "503" in results[f"{base}/down"]
    assert checkpoints.latest(app) == checkpoint  # stored although a witness was down
    verifier = signing.parse_verifier(signing.checkpoint_signer(app).verifier.encoded)
    assert checkpoints.verify_checkpoint(received[0][2], [verifier]).root == checkpoint.root


def test_a_broken_ledger_gets_no_checkpoint(app, db, ledger_rows, checkpoint_dir):
    with attacker(db.engine) as connection:
        connection.execute(text("UPDATE ledger_postings SET minutes = minutes + 1 "
                                "WHERE transaction_id = :t AND minutes > 0"),
                           {"t": ledger_rows[0]})
    with pytest.raises(timebank.CheckpointRefused):
        timebank.make_checkpoint()
    assert not list(checkpoint_dir.glob("*.checkpoint"))


def test_mac_keys_rotate_and_old_rows_keep_verifying(app, db, ledger_rows, monkeypatch):
    ring = signing.mac_key_ring(app)
    old = ring.current
    monkeypatch.setitem(app.config, "LEDGER_MAC_KEYS",
                        {**{k: base64.b64encode(v).decode() for k, v in ring.keys.items()},
                         "mac-rotated": base64.b64encode(secrets.token_bytes(32)).decode()})
    monkeypatch.setitem(app.config, "LEDGER_MAC_CURRENT_KEY", "mac-rotated")
    app.extensions.pop("ledger_mac_keys", None)
    try:
        volunteer = _volunteer(db)
        timebank.donate(volunteer, 5, key="after-rotation", by=volunteer.user)
        db.session.commit()
        key_ids = [row[0] for row in db.session.execute(
            text("SELECT mac_key_id FROM ledger_transactions ORDER BY id"))]
        assert key_ids == [old] * len(ledger_rows) + ["mac-rotated"]
        assert _verify(app).exit_code == 0
    finally:
        app.extensions.pop("ledger_mac_keys", None)


def test_a_rotated_key_file_stays_readable_by_the_owner_only(tmp_path):
    """Rotation rewrites instance/ledger-keys.json; a leftover temporary file with a looser
    mode (an earlier crash, another tool) must not lend its mode to the new key file."""
    import os
    import stat

    from volunteer_hub.timebank.signing import _write_keys

    path = tmp_path / "ledger-keys.json"
    leftover = path.with_suffix(".tmp")
    leftover.write_text("{}")
    leftover.chmod(0o644)
    _write_keys(path, {"mac_keys": {"mac-1": "a2V5"}}, exclusive=True)
    _write_keys(path, {"mac_keys": {"mac-1": "a2V5", "mac-2": "a2V5"}})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "mac-2" in path.read_text()
