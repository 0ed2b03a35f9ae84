"""Notify benchmarks on PostgreSQL: fan-out into the outbox, and dispatcher throughput.

    python -m bench.notify.run [--targets 100000] [--messages 20000] [--workers 2]
                               [--gateway-batch 1] [--skip-fanout]

Uses (and empties) the database VOLUNTEER_HUB_BENCH_DATABASE_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/vh_n5_bench, created when missing. The SMS
gateway is the test suite's local HTTP server (tests/notify/servers.py) in this process;
the workers are real `volunteer-hub worker` processes.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/vh_n5_bench"
KEY = "Y2xhc3NpZmllZC10ZXN0LWtleS0wMTIzNDU2Nzg5YWI="


def ensure_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                    {"n": parsed.database}).scalar()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def make_app(url: str):
    from volunteer_hub import create_app

    # A gateway URL at enqueue time: without one, SMS resolves to the next channel.
    return create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "ID_HASH_KEY": "bench",
                       "DATA_ENCRYPTION_KEY": KEY, "SMS_GATEWAY_URL": "http://127.0.0.1:9/"})


def reset(db) -> None:
    db.session.remove()  # no open transaction may hold locks that DROP waits for
    db.drop_all()
    db.create_all()


def add_users(db, count: int) -> list[tuple[int, str]]:
    from volunteer_hub.accounts.models import User

    for start in range(0, count, 20_000):
        db.session.execute(insert(User.__table__), [
            {"display_name": f"v{n}", "phone": f"13{n:09d}"}
            for n in range(start, min(count, start + 20_000))])
    db.session.commit()
    return list(db.session.execute(select(User.id, User.phone).order_by(User.id)))


def bench_fanout(db, users) -> float:
    from volunteer_hub.db import transaction
    from volunteer_hub.notify.services import Target, enqueue_many

    started = time.perf_counter()
    with transaction():
        enqueue_many("bench:fanout", (Target(uid, f"【演练】洪水 DRILL: reply 1 + minutes {uid}",
                                             phone=phone) for uid, phone in users),
                     channel="sms", urgent=True)
    return time.perf_counter() - started


def bench_dispatch(app, db, users, workers: int, batch: int, threads: int,
                   rate: float = 0, gateway_batch: int = 1) -> dict:
    from volunteer_hub.db import transaction
    from volunteer_hub.notify.models import OutboxMessage
    from volunteer_hub.notify.services import Target, enqueue_many

    with transaction():
        enqueue_many("bench:dispatch", (Target(uid, f"DRILL {uid}", phone=phone)
                                        for uid, phone in users), channel="sms", urgent=True)
    return run_workers(app, db, OutboxMessage.event_key == "bench:dispatch", len(users),
                       workers=workers, batch=batch, threads=threads, rate=rate,
                       gateway_batch=gateway_batch)


def run_workers(app, db, condition, total: int, *, workers: int, batch: int, threads: int,
                rate: float = 0, gateway_batch: int = 1, smtp: bool = False) -> dict:
    """Start the local gateway (and an SMTP sink), then `workers` real `volunteer-hub
    worker` processes; seconds from the gateway's first request until the `total` outbox
    rows matching `condition` are all sent."""
    from tests.notify.servers import SmsGateway, SmtpSink
    from volunteer_hub.notify.models import OutboxMessage

    gateway = SmsGateway().start()
    sink = SmtpSink().start() if smtp else None
    env = dict(os.environ, VOLUNTEER_HUB_DATABASE_URL=app.config["DATABASE_URL"],
               VOLUNTEER_HUB_SECRET_KEY=app.config["SECRET_KEY"],
               VOLUNTEER_HUB_ID_HASH_KEY=app.config["ID_HASH_KEY"],
               VOLUNTEER_HUB_DATA_ENCRYPTION_KEY=KEY,
               VOLUNTEER_HUB_SMS_GATEWAY_URL=gateway.url,
               VOLUNTEER_HUB_SMS_GATEWAY_KEY=gateway.key,
               # 0 = no cap: measure the dispatcher, not the provider's 100/s
               VOLUNTEER_HUB_SMS_RATE=str(rate), VOLUNTEER_HUB_EMAIL_RATE=str(rate),
               VOLUNTEER_HUB_NOTIFY_SEND_THREADS=str(threads),
               VOLUNTEER_HUB_SMS_GATEWAY_BATCH=str(gateway_batch))
    if sink is not None:
        env.update(VOLUNTEER_HUB_SMTP_HOST="127.0.0.1", VOLUNTEER_HUB_SMTP_PORT=str(sink.port))
    exe = str(Path(sys.executable).with_name("volunteer-hub"))
    processes = [subprocess.Popen([exe, "worker", "--batch", str(batch)], env=env,
                                  stdout=subprocess.DEVNULL,
                                  stderr=open(f"/tmp/vh-notify-worker-{i}.log", "w"))
                 for i in range(workers)]
    sent = select(func.count()).where(OutboxMessage.status == "sent", condition)
    try:
        while not gateway.requests:
            if any(p.poll() is not None for p in processes):
                raise SystemExit("a worker died: see /tmp/vh-notify-worker-*.log")
            time.sleep(0.005)
        started = time.perf_counter()
        while True:
            db.session.commit()
            if db.session.execute(sent).scalar_one() == total:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)
        gateway.stop()
        if sink is not None:
            sink.stop()
    return {"messages": total, "seconds": elapsed, "per_second": total / elapsed,
            "gateway_messages": len(gateway.requests), "gateway_posts": gateway.posts,
            "unique": len(gateway.sent), "emails": len(sink.messages) if sink else 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rate", type=float, default=0, help="SMS/s per worker (0: no cap)")
    parser.add_argument("--gateway-batch", type=int, default=1,
                        help="SMS per gateway request (1: one request per message)")
    parser.add_argument("--skip-fanout", action="store_true")
    args = parser.parse_args()
    url = os.environ.get("VOLUNTEER_HUB_BENCH_DATABASE_URL", DEFAULT_URL)
    ensure_database(url)
    app = make_app(url)
    from volunteer_hub.db import db

    with app.app_context():
        if not args.skip_fanout:
            for run in range(args.repeat):
                reset(db)
                users = add_users(db, args.targets)
                seconds = bench_fanout(db, users)
                print(f"fan-out {args.targets} outbox rows: {seconds:.2f} s "
                      f"({args.targets / seconds:,.0f} rows/s) [run {run + 1}]", flush=True)
        for run in range(args.repeat):
            reset(db)
            users = add_users(db, args.messages)
            result = bench_dispatch(app, db, users, args.workers, args.batch, args.threads,
                                    args.rate, args.gateway_batch)
            print(f"dispatch {result['messages']} SMS with {args.workers} workers, "
                  f"{args.gateway_batch} per request: {result['seconds']:.2f} s = "
                  f"{result['per_second']:,.0f} msg/s (gateway: {result['gateway_messages']} "
                  f"messages in {result['gateway_posts']} requests, unique {result['unique']})"
                  f" [run {run + 1}, load {os.getloadavg()[0]:.2f}]", flush=True)
        db.session.remove()
        db.drop_all()


if __name__ == "__main__":
    main()
