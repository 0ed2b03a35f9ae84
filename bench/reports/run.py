"""Reports on demo-sized data: 2,000 volunteers, ~48,000 records over 24 months.

    python -m bench.reports.run [DATABASE_URL]   (default: a SQLite file in /tmp)

The database is emptied and rebuilt: point it at a scratch database.
"""
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, insert, select

from volunteer_hub import create_app
from volunteer_hub.db import db
from volunteer_hub.demo import DEMO_PASSWORD, build_demo
from volunteer_hub.orgs.models import Org
from volunteer_hub.records.models import SERVICE_TYPES, Activity, ServiceRecord
from volunteer_hub.reports import services
from volunteer_hub.reports.months import Month, months_between
from volunteer_hub.timebank.models import Account
from volunteer_hub.volunteers.models import Volunteer



def main(url: str) -> None:
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                      "DATA_ENCRYPTION_KEY": "Y2xhc3NpZmllZC10ZXN0LWtleS0wMTIzNDU2Nzg5YWI=",
                      "ID_HASH_KEY": "bench", "RATELIMIT_ENABLED": False})
    rng = random.Random(7)
    with app.app_context():
        db.drop_all()
        db.create_all()
        logins = build_demo(volunteers=2000)
        communities = db.session.execute(select(Org).where(Org.level == "community")).scalars().all()
        types = list(SERVICE_TYPES)
        start = datetime(2024, 12, 1, 1, 0, tzinfo=UTC)
        activities = []
        for community in communities:
            for day in range(0, 720, 7):  # one activity a week for two years
                activities.append({"org_id": community.id, "org_path": community.path,
                                   "name": "bench", "service_type": rng.choice(types),
                                   "starts_at": start + timedelta(days=day),
                                   "ends_at": start + timedelta(days=day, hours=3),
                                   "checkin_code": "000000"})
        db.session.execute(insert(Activity), activities)
        acts = db.session.execute(select(Activity.id, Activity.starts_at)).all()
        volunteers = db.session.execute(select(Volunteer.id)).scalars().all()
        rows = []
        for vid in volunteers:
            for aid, starts in rng.sample(acts, 24):
                rows.append({"volunteer_id": vid, "activity_id": aid, "check_in_at": starts,
                             "check_out_at": starts + timedelta(hours=2), "method": "manual",
                             "minutes": rng.choice((60, 90, 120)), "status": rng.choice(
                                 ("verified",) * 8 + ("pending", "rejected"))})
        for i in range(0, len(rows), 5000):
            db.session.execute(insert(ServiceRecord), rows[i:i + 5000])
        db.session.execute(insert(Account), [
            {"kind": "VOLUNTEER", "owner_id": str(vid), "balance_individual": rng.randrange(0, 6000),
             "balance_group": rng.choice((0, 0, 0, 120))} for vid in volunteers])
        db.session.commit()
        if db.engine.dialect.name == "postgresql":  # autovacuum would, a minute later
            with db.engine.connect() as connection:
                connection.exec_driver_sql("ANALYZE")
                connection.commit()
        print(f"{len(volunteers)} volunteers, {len(activities)} activities, {len(rows)} records")

        queries = []
        event.listen(db.engine, "before_cursor_execute", lambda *a: queries.append(1))
        district = db.session.execute(select(Org).where(Org.level == "district")).scalar_one()
        community = communities[0]
        for label, org, months in (
                ("district 12 months", district, months_between(Month(2025, 12), Month(2026, 11))),
                ("district 24 months", district, months_between(Month(2024, 12), Month(2026, 11))),
                ("community 12 months", community, months_between(Month(2025, 12),
                                                                     Month(2026, 11)))):
            times = []
            for _ in range(7):
                queries.clear()
                t = time.perf_counter()
                services.monthly_report(org, months, by=None)
                services.liability_report(org, by=None)
                times.append((time.perf_counter() - t) * 1000)
                db.session.rollback()
            print(f"services {label}: median {statistics.median(times):.1f} ms "
                  f"(min {min(times):.1f}), {len(queries)} queries")
        client = app.test_client()
        r = client.post("/login", data={"login": logins["admin"], "password": DEMO_PASSWORD})
        assert r.status_code == 302, r.status_code
        for label, query in (("page district 12 months", f"org_id={district.id}"),
                             ("page district 24 months",
                              f"org_id={district.id}&from=2024-12&to=2026-11")):
            times = []
            for _ in range(7):
                queries.clear()
                t = time.perf_counter()
                r = client.get(f"/org/reports?{query}")
                times.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200
            print(f"{label}: median {statistics.median(times):.1f} ms (min {min(times):.1f}), "
                  f"{len(queries)} queries, {len(r.data)} bytes")
        times = []
        for _ in range(5):
            t = time.perf_counter()
            r = client.get(f"/org/reports/{district.id}/monthly.xlsx?from=2024-12&to=2026-11")
            times.append((time.perf_counter() - t) * 1000)
        print(f"xlsx district 24 months: median {statistics.median(times):.1f} ms")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sqlite:////tmp/vh_bench_reports.db")
