"""Mobilization benchmarks on PostgreSQL: activation fan-out and answer intake over HTTP.

    python -m bench.mobilization.run [--members 100000] [--repeat 3] [--clients 16]
                                     [--seconds 10] [--workers 2] [--skip-intake]
                                     [--dispatch [--gateway-batch 100]
                                      [--providers webhook,aliyun,tencent]]

1. Fan-out: a street with one flood team of `--members` active adult members, each with a
   valid licence, all within 20 km of the incident. The time is `with transaction():` around
   `emergency.activation.activate(plan, level=3, is_drill=True, ...)` until its commit: the
   targeting query, the Responder rows, one signed one-tap link and two rendered texts per
   person, and the alert written to the outbox on three channels (SMS, e-mail, inbox), i.e.
   3 x members outbox rows. Creating the members is not timed.
2. Intake: bench/mobilization/intake.py against the big activation (granian as `make run`
   serves, or `--server gunicorn`; see that module for the method).

Uses (and empties) VOLUNTEER_HUB_BENCH_DATABASE_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/vh_e3_mobilization_bench, created when missing.
3. `--dispatch`: the last call-out's SMS alerts through `--workers` real `volunteer-hub worker`
   processes to the local gateway, each text made at send time with the person's own link
   (bench/notify measures the dispatcher on stored texts; docs/BENCHMARKS-notify.md).
   `--providers`: the same alerts through each SMS provider client in turn, each against its
   local server (bench/mobilization/dispatch.py): msg/s per provider.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date, timedelta

from sqlalchemy import func, insert, select, text, update

from bench.notify.run import ensure_database

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/vh_e3_mobilization_bench"
KEY = "Y2xhc3NpZmllZC10ZXN0LWtleS0wMTIzNDU2Nzg5YWI="
SECRET = "bench-mobilization-secret-key"
ID_HASH = "bench-mobilization-id-hash"
INCIDENT = (31.2304, 121.4737)
CHUNK = 20_000


def config(url: str) -> dict:
    # A gateway URL at enqueue time: without one, SMS resolves to the next channel.
    return {"DATABASE_URL": url, "SECRET_KEY": SECRET, "ID_HASH_KEY": ID_HASH,
            "DATA_ENCRYPTION_KEY": KEY, "SMS_GATEWAY_URL": "http://127.0.0.1:9/",
            "EMERGENCY_BASE_URL": "https://vh.example.cn"}


def environment(url: str) -> dict:
    env = dict(os.environ)
    env.update({f"VOLUNTEER_HUB_{key}": str(value) for key, value in config(url).items()})
    return env


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the scene ----------------------------------------------------------------------------------

def reset(db) -> None:
    """An empty schema: tables of older code versions go too."""
    db.session.remove()
    with db.engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    db.create_all()


def build_street(db, members: int) -> tuple:
    """Org tree, a flood team with `members` members, a coordinator, a level-3 plan."""
    from volunteer_hub.accounts.models import User
    from volunteer_hub.emergency import plans
    from volunteer_hub.orgs.models import TeamMember
    from volunteer_hub.orgs.services import create_org, create_team
    from volunteer_hub.volunteers.models import Certification, Volunteer, VolunteerSkill

    city = create_org(None, level="city", code="C1", name_zh="测试市", name_en="Test City")
    district = create_org(city, level="district", code="D1", name_zh="测试区")
    street = create_org(district, level="street", code="S1", name_zh="测试街道")
    community = create_org(street, level="community", code="CA", name_zh="甲社区")
    team = create_team(street, name="防汛抢险队", type="flood_water", by=None)
    db.session.commit()
    today = date.today()
    for start in range(0, members, CHUNK):
        numbers = range(start, min(members, start + CHUNK))
        user_ids = db.session.execute(insert(User.__table__).returning(User.__table__.c.id), [
            {"display_name": f"v{n}", "phone": f"13{n:09d}",
             "email": f"v{n}@example.org", "locale": "en" if n % 5 == 0 else "zh_Hans",
             "active": True, "must_change_password": False} for n in numbers]).scalars().all()
        volunteer_ids = db.session.execute(
            insert(Volunteer.__table__).returning(Volunteer.__table__.c.id), [
                {"user_id": uid, "volunteer_number": f"V{n:09d}", "real_name": f"志愿者{n}",
                 "gender": "male", "birth_date": date(1985, 1, 1), "id_type": "mainland_id",
                 "id_number_encrypted": "x", "id_number_hash": f"h{n}",
                 "id_number_masked": "110105**********1X", "phone": f"13{n:09d}",
                 "community_id": community.id, "org_path": community.path,
                 "lat": INCIDENT[0] + (n % 1000) * 0.0001, "lon": INCIDENT[1],
                 "languages": "zh", "status": "active"}
                for uid, n in zip(user_ids, numbers)]).scalars().all()
        db.session.execute(insert(TeamMember.__table__), [
            {"team_id": team.id, "volunteer_id": vid, "role": "member"}
            for vid in volunteer_ids])
        db.session.execute(insert(Certification.__table__), [
            {"volunteer_id": vid, "kind": "water_rescue_licence", "issuer": "测试",
             "issued_on": today - timedelta(days=100), "expires_on": today + timedelta(days=300)}
            for vid in volunteer_ids])
        db.session.execute(insert(VolunteerSkill.__table__), [
            {"volunteer_id": vid, "skill_code": "water_rescue", "level": 2}
            for vid in volunteer_ids])
        db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    plan = plans.create_plan(street, plan_data(team.id), by=None)
    db.session.commit()
    return plan


def plan_data(team_id: int) -> dict:
    level = {"roles": [{"code": "rescue", "label_zh": "水上救援", "label_en": "Water rescue",
                        "count": 5, "skill": "water_rescue", "min_level": 2,
                        "certification": "water_rescue_licence"}],
             "team_ids": [team_id], "radius_km": 20.0, "area_org_id": None, "initial_teams": 1,
             "escalation": []}
    return {"name": "防汛应急预案", "category": "natural_disaster", "description": "",
            "levels": {"3": level},
            "assembly_points": [{"name": "街道应急站", "address": "测试路1号",
                                 "lat": INCIDENT[0], "lon": INCIDENT[1]}],
            "templates": {
                "zh_Hans": {"alert": "{plan}（{level}）：{address}。{note} 请回复：{link}",
                            "assigned": "您的任务：{role}，集合点：{assembly_point}。",
                            "stand_down": "{plan} 已解除，感谢参与。"},
                "en": {"alert": "{plan} ({level}): {address}. {note} Answer: {link}",
                       "assigned": "Your role: {role}, assembly point: {assembly_point}.",
                       "stand_down": "{plan} is stood down. Thank you."}}}


# --- 1. fan-out ---

def bench_fanout(db, plan) -> tuple[float, int, int]:
    from volunteer_hub.db import transaction
    from volunteer_hub.emergency.activation import activate
    from volunteer_hub.emergency.models import Responder
    from volunteer_hub.notify.models import OutboxMessage

    # Each run starts from empty activation and outbox tables (as bench/notify does).
    db.session.execute(text("TRUNCATE emergency_response_changes, emergency_responders, "
                            "emergency_activation_events, emergency_activation_roles, "
                            "emergency_activations, outbox_messages, outbox_contents CASCADE"))
    db.session.commit()
    # Each run starts right after a checkpoint: the default max_wal_size (1 GB) checkpoints
    # every few runs (a fan-out writes about 170 MB of WAL), which otherwise lands at random.
    db.session.execute(text("CHECKPOINT"))
    db.session.commit()
    started = time.perf_counter()
    with transaction():
        activation = activate(plan, level=3, is_drill=True, lat=INCIDENT[0], lon=INCIDENT[1],
                              address="测试路10号", note="演练", by=None)
    seconds = time.perf_counter() - started
    responders = db.session.execute(select(func.count(Responder.id))).scalar_one()
    rows = db.session.execute(select(func.count(OutboxMessage.id)).where(
        OutboxMessage.event_key.startswith(f"emergency:{activation.id}:alert:"))).scalar_one()
    return seconds, responders, rows


def bench_dispatch(db_app, db, workers: int, gateway_batch: int,
                   provider: str = "webhook") -> dict:
    """The last activation's SMS alerts, each with the person's own link made at send time,
    through real workers to `provider`'s local server (dispatch.py). Its e-mails are held
    back a day (the SMTP path has its own, lower, speed) so that the number is the SMS
    path's."""
    from bench.mobilization.dispatch import reset_alerts, run_provider
    from bench.notify.run import run_workers
    from volunteer_hub.emergency.models import Activation
    from volunteer_hub.notify.models import OutboxMessage, now

    activation_id = db.session.execute(select(func.max(Activation.id))).scalar_one()
    alerts = OutboxMessage.event_key == f"emergency:{activation_id}:alert:1"
    db.session.execute(update(OutboxMessage).where(alerts, OutboxMessage.channel == "email")
                       .values(next_attempt_at=now() + timedelta(days=1)))
    sms = alerts & (OutboxMessage.channel == "sms")
    total = db.session.execute(select(func.count()).where(sms)).scalar_one()
    reset_alerts(db, sms)
    if provider == "webhook":
        return run_workers(db_app, db, sms, total, workers=workers, batch=200, threads=8,
                           gateway_batch=gateway_batch)
    return run_provider(db_app, db, sms, total, provider=provider, workers=workers,
                        batch_size=gateway_batch)


# --- 2. intake ---

def tokens(db) -> list[str]:
    from volunteer_hub.emergency.models import Responder
    from volunteer_hub.emergency.responses import response_token

    responders = db.session.execute(select(Responder).order_by(Responder.id)).scalars().all()
    return [response_token(r, valid_hours=24) for r in responders]


# --- 3. board and report on the big activation ---------------------------------------------------

def bench_board(db, repeat: int) -> dict:
    """Median seconds of the board's change check, a snapshot and the after-action report."""
    from volunteer_hub.emergency import board, report
    from volunteer_hub.emergency.models import Activation

    activation = db.session.execute(select(Activation).order_by(Activation.id.desc())
                                    .limit(1)).scalar_one()
    timings: dict[str, list[float]] = {"fingerprint": [], "snapshot": [], "report": [],
                                       "report_csv": []}
    for _ in range(repeat):
        for name, work in (("fingerprint", lambda: board.fingerprint(activation.id)),
                           ("snapshot", lambda: board.snapshot(activation)),
                           ("report", lambda: report.after_action(activation))):
            started = time.perf_counter()
            result = work()
            timings[name].append(time.perf_counter() - started)
        started = time.perf_counter()
        report.to_csv(result)
        timings["report_csv"].append(time.perf_counter() - started)
        db.session.rollback()
    return {name: statistics.median(values) for name, values in timings.items()}


def load_average() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


def main() -> None:
    from bench.mobilization import intake  # imports this module for the scene

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    intake.add_options(parser)
    parser.add_argument("--skip-intake", action="store_true")
    parser.add_argument("--skip-board", action="store_true")
    parser.add_argument("--dispatch", action="store_true",
                        help="send the last activation's SMS and e-mail alerts (2 workers)")
    parser.add_argument("--gateway-batch", type=int, default=100,
                        help="SMS per gateway request when dispatching")
    parser.add_argument("--providers", default="webhook",
                        help="SMS provider clients to dispatch through, in turn: any of "
                             "webhook,aliyun,tencent")
    parser.add_argument("--skip-fanout", action="store_true",
                        help="reuse the last activation of the database for intake")
    args = parser.parse_args()
    url = os.environ.get("VOLUNTEER_HUB_BENCH_DATABASE_URL", DEFAULT_URL)
    ensure_database(url)
    from volunteer_hub import create_app
    from volunteer_hub.db import db

    app = create_app(config(url))
    with app.app_context():
        if not args.skip_fanout:
            reset(db)
            started = time.perf_counter()
            plan = build_street(db, args.members)
            log(f"{args.members:,} members created in {time.perf_counter() - started:.0f} s")
            timings = []
            for run in range(args.repeat):
                load = load_average()
                seconds, responders, rows = bench_fanout(db, plan)
                timings.append(seconds)
                print(f"fan-out: {responders:,} responders, {rows:,} outbox rows in "
                      f"{seconds:.2f} s [run {run + 1}, load {load}]", flush=True)
            print(f"fan-out median {statistics.median(timings):.2f} s", flush=True)
        if not args.skip_intake:
            all_tokens = tokens(db)
            db.session.remove()
            results = intake.bench_intake(
                url, all_tokens, clients=args.clients, seconds=args.seconds, runs=args.repeat,
                workers=args.workers, threads=args.threads, client=args.client,
                server_kind=args.server)
            print(intake.summary(results, args), flush=True)
        if args.dispatch:
            for provider in args.providers.split(","):
                result = bench_dispatch(app, db, args.workers, args.gateway_batch,
                                        provider.strip())
                requests = result.get("gateway_posts", result.get("requests"))
                print(f"dispatch via {provider}: the call-out's {result['messages']:,} SMS "
                      f"alerts, {args.workers} workers, batch {args.gateway_batch}: "
                      f"{result['seconds']:.2f} s = {result['per_second']:,.0f} msg/s "
                      f"({requests:,} requests) [load {load_average()}]", flush=True)
        if not args.skip_board:
            load = load_average()
            with app.test_request_context():
                timings = bench_board(db, args.repeat)
            print(f"board/report on the last activation (load {load}): " + ", ".join(
                f"{name} {seconds * 1000:,.0f} ms" for name, seconds in timings.items()),
                flush=True)


if __name__ == "__main__":
    main()
