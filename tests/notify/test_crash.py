"""Crash tests with the real `volunteer-hub worker` process and the local SMS gateway.

kill -9 in the middle of a 10,000-message fan-out, restart: every target gets exactly one SMS
(a re-send with the same idempotency key is deduped by the gateway) and none is lost. On
PostgreSQL, two workers at once never send the same message.
"""
from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from volunteer_hub.accounts.models import User
from volunteer_hub.db import transaction
from volunteer_hub.notify import services
from volunteer_hub.notify.models import OutboxMessage

WORKER = Path(sys.executable).with_name("volunteer-hub")
FANOUT = 10_000


def add_users(db, count: int, prefix: str = "199") -> list[tuple[int, str]]:
    """Plain rows, fast: the crash test needs many phones, not full accounts."""
    start = 10_000_000
    db.session.execute(insert(User.__table__), [
        {"display_name": f"target {n}", "phone": f"{prefix}{start + n:08d}"}
        for n in range(count)])
    db.session.commit()
    return list(db.session.execute(
        select(User.id, User.phone).where(User.phone.like(f"{prefix}%")).order_by(User.id)))


def fan_out(db, users, event_key="flood:crash"):
    with transaction():
        services.enqueue_many(event_key, (services.Target(uid, f"洪水演练 DRILL {uid}",
                                                          phone=phone)
                                          for uid, phone in users), channel="sms", urgent=True)


@pytest.fixture
def crash_app(app, db, notify_config, tmp_path):
    """On SQLite, a database file of its own: an outside process writes 10,000 rows into it
    and is killed mid-write, and the shared test database should not inherit that WAL."""
    if db.engine.dialect.name != "sqlite":
        yield app
        return
    from volunteer_hub import create_app

    own = create_app({**{k: app.config[k] for k in (
        "SECRET_KEY", "DATA_ENCRYPTION_KEY", "ID_HASH_KEY", "ARGON2_PARAMETERS")},
        **notify_config, "TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'crash.db'}"})
    with own.app_context():
        db.create_all()
        yield own
        db.session.remove()
        db.engine.dispose()


def start_worker(app, notify_config, lease=2, batch=200):
    env = dict(os.environ)
    env.update({
        "VOLUNTEER_HUB_DATABASE_URL": app.config["DATABASE_URL"],
        "VOLUNTEER_HUB_SECRET_KEY": "test-secret",
        "VOLUNTEER_HUB_DATA_ENCRYPTION_KEY": app.config["DATA_ENCRYPTION_KEY"],
        "VOLUNTEER_HUB_ID_HASH_KEY": "test-id-hash-key",
        "VOLUNTEER_HUB_SMS_GATEWAY_URL": notify_config["SMS_GATEWAY_URL"],
        "VOLUNTEER_HUB_SMS_GATEWAY_KEY": notify_config["SMS_GATEWAY_KEY"],
        "VOLUNTEER_HUB_SMS_RATE": "0",  # unlimited here: the test is about crashes
        "VOLUNTEER_HUB_NOTIFY_LEASE_SECONDS": str(lease),
    })
    return subprocess.Popen([str(WORKER), "worker", "--batch", str(batch)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def counts(db) -> dict[str, int]:
    db.session.commit()  # a fresh snapshot
    return dict(db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def stop(process) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_kill_9_mid_fanout_then_restart_sends_each_target_exactly_once(crash_app, db,
                                                                        notify_config,
                                                                        sms_gateway):
    app = crash_app
    users = add_users(db, FANOUT)
    fan_out(db, users)
    first = start_worker(app, notify_config)
    try:
        wait_until(lambda: len(sms_gateway.sent) >= FANOUT // 3 or first.poll() is not None,
                   60, "the first third")
        assert first.poll() is None, first.stderr.read().decode()[-2000:]
        first.kill()  # SIGKILL: no cleanup, claimed rows stay 'sending'
        first.wait()
    finally:
        stop(first)
    at_kill = len(sms_gateway.sent)
    assert at_kill < FANOUT, "the worker finished before it could be killed"
    status_at_kill = counts(db)

    second = start_worker(app, notify_config)
    try:
        wait_until(lambda: counts(db).get("sent", 0) == FANOUT or second.poll() is not None,
                   60, "all messages sent")
        assert second.poll() is None, second.stderr.read().decode()[-2000:]
    finally:
        stop(second)

    assert counts(db) == {"sent": FANOUT}, status_at_kill
    per_phone = collections.Counter(request["to"] for request in sms_gateway.sent.values())
    assert set(per_phone) == {phone for _uid, phone in users}  # none lost
    assert max(per_phone.values()) == 1  # nobody got two
    resent = len(sms_gateway.requests) - len(sms_gateway.sent)
    print(f"\nkilled after {at_kill} unique SMS ({status_at_kill}); "
          f"{resent} re-sent after restart and deduped by id")


@pytest.mark.postgres_only
def test_two_workers_on_postgresql_never_send_the_same_message(app, db, notify_config,
                                                               sms_gateway):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs VOLUNTEER_HUB_TEST_DATABASE_URL on PostgreSQL")
    total = 6000
    users = add_users(db, total, prefix="198")
    fan_out(db, users, event_key="flood:two-workers")
    workers = [start_worker(app, notify_config, lease=60, batch=100) for _ in range(2)]
    try:
        wait_until(lambda: counts(db).get("sent", 0) == total
                   or any(w.poll() is not None for w in workers), 60, "all messages sent")
        assert all(w.poll() is None for w in workers)
    finally:
        for worker in workers:
            stop(worker)
    assert len(sms_gateway.requests) == total  # not one request twice, even deduped
    assert len(sms_gateway.sent) == total
    claimers = {token.split(":")[0] for token in db.session.execute(
        select(OutboxMessage.claimed_by).distinct()).scalars()}
    assert len(claimers) == 2  # both workers took part
