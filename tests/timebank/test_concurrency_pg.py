"""8 processes post donations on overlapping accounts (PostgreSQL only): nothing lost or
doubled, retries with the same idempotency keys post once, the audit passes."""
from __future__ import annotations

import functools
import multiprocessing
import os
import random
from datetime import timedelta

import pytest

from tests.conftest import TEST_DATABASE_URL
from tests.records import builders
from volunteer_hub.records import services as records

pytestmark = pytest.mark.skipif(
    not (TEST_DATABASE_URL or "").startswith("postgresql"),
    reason="needs VOLUNTEER_HUB_TEST_DATABASE_URL on PostgreSQL")

WORKERS, POSTS = 8, 25


def _ledger_keys() -> dict:
    """The test app's ledger MAC keys, for worker apps (every process of a deployment shares
    them: the rows it writes are authenticated with them)."""
    import base64

    from volunteer_hub.timebank import signing

    ring = signing.mac_key_ring()
    return {"LEDGER_MAC_KEYS": {k: base64.b64encode(v).decode() for k, v in ring.keys.items()},
            "LEDGER_MAC_CURRENT_KEY": ring.current}


def _worker(url: str, worker: int, volunteer_ids: list[int], ledger_keys: dict) -> int:
    from volunteer_hub import create_app
    from volunteer_hub.db import db
    from volunteer_hub.timebank import services
    from volunteer_hub.volunteers.models import Volunteer

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "x", "ID_HASH_KEY": "x",
                      "DATA_ENCRYPTION_KEY": "Y2xhc3NpZmllZC10ZXN0LWtleS0wMTIzNDU2Nzg5YWI=",
                      **ledger_keys})
    rng = random.Random(worker)
    posted = 0
    with app.app_context():
        for index in range(POSTS):
            volunteer_id = rng.choice(volunteer_ids)
            key = f"w{worker}-{index}"
            for _attempt in range(2):  # every request is retried once with the same key
                services.run_in_transaction(lambda: services.donate(
                    db.session.get(Volunteer, volunteer_id), 1, key=key, by=None))
            posted += 1
        db.engine.dispose()
    return posted


def test_concurrent_donations_keep_the_ledger_consistent(db, tree, make_staff, make_volunteer):
    from volunteer_hub.timebank import services

    organizer = make_staff(tree["a"], "organizer")
    volunteers = [make_volunteer(tree["b"]) for _ in range(4)]
    activity = builders.activity(tree["a"], organizer, hours=8)
    for volunteer in volunteers:
        record = builders.checked_out(activity, volunteer, minutes=480)
        records.verify_record(record, by=organizer)
    db.session.commit()
    ids = [v.id for v in volunteers]
    context = multiprocessing.get_context("spawn")
    with context.Pool(WORKERS) as pool:
        posted = pool.starmap(_worker, [(TEST_DATABASE_URL, w, ids, _ledger_keys())
                                        for w in range(WORKERS)])
    assert sum(posted) == WORKERS * POSTS
    db.session.expire_all()
    count = db.session.execute(db.select(db.func.count()).select_from(
        services.LedgerTransaction).where(services.LedgerTransaction.kind == "DONATION")).scalar()
    assert count == WORKERS * POSTS  # retries with the same key posted nothing more
    total = sum(services.balance_of(v).total for v in volunteers)
    assert total == 4 * 480 - WORKERS * POSTS
    report = services.verify_ledger()
    assert report.ok, report.breaches
    assert os.environ.get("VOLUNTEER_HUB_TEST_DATABASE_URL")


def _approve(record_services, organizer, batch: list[int]) -> dict:
    return record_services.verify_records(batch, by=organizer)


def _bulk_verifier(url: str, worker: int, record_ids: list[int], organizer_id: int,
                   ledger_keys: dict) -> int:
    from volunteer_hub import create_app
    from volunteer_hub.accounts.models import User
    from volunteer_hub.db import db
    from volunteer_hub.records import services as record_services
    from volunteer_hub.timebank import services

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "x", "ID_HASH_KEY": "x",
                      "DATA_ENCRYPTION_KEY": "Y2xhc3NpZmllZC10ZXN0LWtleS0wMTIzNDU2Nzg5YWI=",
                      **ledger_keys})
    rng = random.Random(100 + worker)
    verified = 0
    with app.app_context():
        for _ in range(4):
            batch = rng.sample(record_ids, 15)
            result = services.run_in_transaction(functools.partial(
                _approve, record_services, db.session.get(User, organizer_id), batch))
            verified += len(result["verified"])
        db.engine.dispose()
    return verified


def test_concurrent_bulk_verifications_mint_each_record_once(db, tree, make_staff,
                                                             make_volunteer):
    """8 processes approve overlapping batches of the same pending records."""
    from volunteer_hub.timebank import services

    organizer = make_staff(tree["a"], "organizer")
    volunteers = [make_volunteer(tree["b"]) for _ in range(6)]
    made = []
    for day in range(5):
        activity = builders.activity(tree["a"], organizer,
                                     start=builders.START + timedelta(days=day), hours=2)
        made += [builders.checked_out(activity, v, minutes=90) for v in volunteers]
    ids = [record.id for record in made]
    context = multiprocessing.get_context("spawn")
    with context.Pool(WORKERS) as pool:
        verified = pool.starmap(_bulk_verifier,
                                [(TEST_DATABASE_URL, w, ids, organizer.id, _ledger_keys())
                                 for w in range(WORKERS)])
    db.session.expire_all()
    minted = db.session.execute(db.select(services.LedgerTransaction.record_id).where(
        services.LedgerTransaction.kind == "MINT")).scalars().all()
    assert sorted(minted) == sorted(set(minted))  # no record minted twice
    assert sum(verified) == len(minted)  # every approval reported once, by one worker
    statuses = {r.id: r.status for r in db.session.execute(db.select(type(made[0])).where(
        type(made[0]).id.in_(ids))).scalars()}
    assert set(minted) == {i for i, status in statuses.items() if status == "verified"}
    assert all(services.balance_of(v).total == 90 * sum(
        1 for r in made if r.volunteer_id == v.id and r.id in set(minted)) for v in volunteers)
    report = services.verify_ledger()
    assert report.ok, report.breaches


# --- daily caps under concurrent verifications -------------------------------------------------

def _verify_in_threads(app, organizer_id: int, record_ids: list[int], monkeypatch) -> None:
    """Verify each record in its own thread and transaction; both threads reach the ledger's
    mint path together (a barrier in front of `timebank.mint_for_records`), i.e. after the
    records service computed its caps and before the ledger locks any account."""
    import threading

    from volunteer_hub.accounts.models import User
    from volunteer_hub.db import db
    from volunteer_hub.timebank import services

    barrier = threading.Barrier(len(record_ids), timeout=5)
    original = services.mint_for_records

    def mint_together(*args, **kwargs):
        try:
            barrier.wait()
        except threading.BrokenBarrierError:  # a writer that serializes earlier: fine too
            pass
        return original(*args, **kwargs)

    monkeypatch.setattr(services, "mint_for_records", mint_together)
    errors: list[BaseException] = []

    def verify(record_id: int) -> None:
        try:
            with app.app_context():
                services.run_in_transaction(lambda: records.verify_records(
                    [record_id], by=db.session.get(User, organizer_id)))
                db.session.remove()
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=verify, args=(record_id,)) for record_id in record_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []


def _minted_minutes(db, volunteer) -> int:
    from volunteer_hub.timebank import services

    db.session.expire_all()
    return services.balance_of(volunteer).total


def test_the_ledger_daily_earning_cap_holds_under_concurrent_mints(
        db, app, tree, make_staff, make_volunteer, monkeypatch):
    """The ledger's own cap (TIMEBANK_DAILY_EARNING_CAP_MINUTES) is read after the volunteer's
    account row is locked, so the second mint sees the first and is clipped."""
    organizer = make_staff(tree["a"], "organizer")
    volunteer = make_volunteer(tree["b"])
    made = [builders.checked_out(builders.activity(
        tree["a"], organizer, start=builders.START + timedelta(days=day), hours=8),
        volunteer, minutes=480) for day in (0, 1)]  # two service days: no record cap
    ids = [record.id for record in made]
    monkeypatch.setitem(app.config, "TIMEBANK_DAILY_EARNING_CAP_MINUTES", 600)
    _verify_in_threads(app, organizer.id, ids, monkeypatch)
    assert _minted_minutes(db, volunteer) == 600


def test_the_record_daily_cap_holds_under_concurrent_verifications(
        db, app, tree, make_staff, make_volunteer, monkeypatch):
    """Two 8-hour records of one service day verified at the same time: the organization's
    8-hour daily cap must still hold."""
    organizer = make_staff(tree["a"], "organizer")
    volunteer = make_volunteer(tree["b"])
    made = [builders.checked_out(builders.activity(tree["a"], organizer, hours=8), volunteer,
                                 minutes=480) for _ in range(2)]
    _verify_in_threads(app, organizer.id, [record.id for record in made], monkeypatch)
    assert _minted_minutes(db, volunteer) <= 480
