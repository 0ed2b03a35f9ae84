"""Matching through the service, on a real database built by bulk insert (fixed seed).

    python -m bench.matching.service --volunteers 10000 --slots 1000 [--url DATABASE_URL]
                                     [--reps 3] [--skip-nightly] [--skip-memory]
                                     [--skip-unconstrained]

Builds a city (one street per 5 communities, one community per ~2,000 volunteers, 3 grids each)
with active volunteers (skills, certifications with some expired, weekly availability, dated
exceptions, past service to beneficiaries, confirmed tasks in the window) and open slots over
28 days: one-off needs, and weekly series (a home visit to the same beneficiary every week).
Then, on the same data:

1. the API call `POST /api/v1/matching-runs` for the whole city (an admin's token), timed with
   the run's own phases (loading, engine, persisting) and the SQL statements it sent; --reps
   times (each run replaces the previous run's proposals), the median reported: "cold" runs
   start with this process's pool cache emptied (as the first run after a volunteer's data
   changed), "warm" runs find the city's pool kept from the run before (matching/cache.py);
2. the nightly job (`matching.jobs.nightly_matching`), timed, statements counted;
3. the engine alone: candidate graph + exact solve on the tables the service loaded;
4. tracemalloc peak of one more service run (not timed: tracing slows Python down).

Series continuity: the share of weekly series whose occurrences in the run went to one
volunteer, among those where one volunteer is feasible for all of them.

Default URL: SQLite in a temporary file; PostgreSQL with --url postgresql+psycopg://...
(the database is emptied: DROP SCHEMA public CASCADE). --reuse keeps a database this bench
built before with the same URL and sizes (the scene is remembered in a JSON file beside it,
in the temporary directory): for profiling, not for the published figures.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from contextlib import contextmanager
from datetime import date, datetime, timedelta

import numpy as np
from sqlalchemy import event, insert, text

CHUNK = 20_000
SKILLS = ("elder_care", "cooking", "driving", "first_aid", "tutoring", "repair")
CERTS = ("driver_license", "first_aid_cert", "food_safety")
SHIFTS = ((8 * 60, 12 * 60), (13 * 60, 18 * 60), (18 * 60, 21 * 60), (8 * 60, 20 * 60))
CENTRE = (39.90, 116.45)
KM_PER_DEG = 111.2
WINDOW_DAYS = 28
SERIES_SHARE = 0.4  # of slots, in weekly series of 4 occurrences
# need type -> (required skills, required certs, travel limit km)
NEED_KINDS = {
    "home_visit": ({"elder_care": 1}, [], 3.0),
    "meal_delivery": ({"cooking": 1}, ["food_safety"], 3.0),
    "escort_hospital": ({"driving": 2}, ["driver_license"], 8.0),
    "tutoring": ({"tutoring": 1}, [], 5.0),
    "cleaning_repairs": ({"repair": 1}, [], 4.0),
}
KEY = "Y2xhc3NpZmllZC10ZXN0LWtleS0wMTIzNDU2Nzg5YWI="


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def make_app(url: str):
    from volunteer_hub import create_app

    return create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "ID_HASH_KEY": "bench",
                       "DATA_ENCRYPTION_KEY": KEY, "RATELIMIT_ENABLED": False})


def reset(db) -> None:
    db.session.remove()
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
    else:
        db.drop_all()
    db.create_all()


def _bulk(db, table, rows: list[dict]) -> None:
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(table), rows[start:start + CHUNK])


def _fix_sequences(db, tables) -> None:
    if db.engine.dialect.name != "postgresql":
        return
    for table in tables:
        db.session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"(SELECT max(id) FROM {table.name}))"))


def build(db, n_vols: int, n_slots: int, seed: int) -> dict:
    """The city, its volunteers and open slots; returns ids the runs need."""
    from volunteer_hub.accounts import services as accounts
    from volunteer_hub.accounts.models import User
    from volunteer_hub.matching.models import Assignment
    from volunteer_hub.needs.models import Beneficiary, Need, NeedSlot
    from volunteer_hub.needs.services import local_today
    from volunteer_hub.orgs.services import create_org
    from volunteer_hub.volunteers.models import (
        AvailabilityException, AvailabilityWindow, Certification, Volunteer, VolunteerSkill)

    rng = np.random.default_rng(seed)
    city = create_org(None, level="city", code="BC", name_zh="基准市", name_en="Bench City")
    district = create_org(city, level="district", code="BD", name_zh="基准区")
    n_comm = max(3, n_vols // 2_000)
    communities, grids, centres = [], [], []
    for c in range(n_comm):
        if c % 5 == 0:
            street = create_org(district, level="street", code=f"BS{c // 5}", name_zh=f"街道{c // 5}")
        community = create_org(street, level="community", code=f"BC{c}", name_zh=f"社区{c}")
        communities.append(community)
        grids.append([create_org(community, level="grid", code=f"BC{c}G{g}", name_zh=f"网格{g}")
                      for g in range(3)])
        r, theta = 15 * np.sqrt(rng.random()), rng.random() * 2 * np.pi
        centres.append((CENTRE[0] + r * np.sin(theta) / KM_PER_DEG,
                        CENTRE[1] + r * np.cos(theta) / (KM_PER_DEG * 0.766)))
    admin = accounts.create_user(display_name="bench admin", password="bench-pass-2026",
                                 phone="13900000000")
    accounts.grant_role(admin, city, "admin", by=None)
    db.session.commit()
    today = local_today()
    first_day = today + timedelta(days=1)

    def place(community: np.ndarray, sigma_km: float):
        lat = np.array([centres[c][0] for c in community]) + rng.normal(0, sigma_km, len(community)) / KM_PER_DEG
        lon = np.array([centres[c][1] for c in community]) + rng.normal(0, sigma_km, len(community)) / (KM_PER_DEG * 0.766)
        return lat, lon

    # Volunteers (ids 1..n) and their users (ids offset past the admin).
    v_comm = rng.integers(0, n_comm, n_vols)
    v_grid = rng.integers(0, 3, n_vols)
    v_lat, v_lon = place(v_comm, 1.5)
    user_base = 1000
    _bulk(db, User.__table__, [
        {"id": user_base + i, "display_name": f"v{i}", "phone": f"13{i:09d}", "active": True,
         "must_change_password": False} for i in range(1, n_vols + 1)])
    birth = [date(1950, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 365 * 55, n_vols)]
    _bulk(db, Volunteer.__table__, [
        {"id": i + 1, "user_id": user_base + i + 1, "volunteer_number": f"BV{i + 1:08d}",
         "real_name": f"志愿者{i + 1}", "gender": "female" if rng.random() < 0.55 else "male",
         "birth_date": birth[i], "id_type": "mainland_id", "id_number_encrypted": "x",
         "id_number_hash": f"h{i}", "id_number_masked": "110105**********1X",
         "phone": f"13{i + 1:09d}", "community_id": communities[v_comm[i]].id,
         "grid_id": grids[v_comm[i]][v_grid[i]].id,
         "org_path": grids[v_comm[i]][v_grid[i]].path,
         "lat": float(v_lat[i]), "lon": float(v_lon[i]), "languages": "zh",
         "status": "active" if rng.random() < 0.97 else "suspended"} for i in range(n_vols)])
    skills = []
    for i in range(n_vols):
        for code in rng.choice(SKILLS, size=int(rng.integers(1, 4)), replace=False):
            skills.append({"volunteer_id": i + 1, "skill_code": str(code),
                           "level": int(rng.integers(1, 4))})
    _bulk(db, VolunteerSkill.__table__, skills)
    certs = []
    for i in np.flatnonzero(rng.random(n_vols) < 0.45):
        kind = CERTS[int(rng.integers(0, len(CERTS)))]
        expires = None if rng.random() < 0.3 else today + timedelta(days=int(rng.integers(-60, 400)))
        certs.append({"volunteer_id": int(i) + 1, "kind": kind, "issuer": "bench",
                      "issued_on": today - timedelta(days=400), "expires_on": expires})
    _bulk(db, Certification.__table__, certs)
    windows = []
    shift = rng.integers(0, len(SHIFTS), n_vols)
    for i in range(n_vols):
        for weekday in np.flatnonzero(rng.random(7) < 0.55):
            start, end = SHIFTS[shift[i]]
            windows.append({"volunteer_id": i + 1, "weekday": int(weekday),
                            "start_minute": start, "end_minute": end})
    _bulk(db, AvailabilityWindow.__table__, windows)
    _bulk(db, AvailabilityException.__table__, [
        {"volunteer_id": int(i) + 1, "day": first_day + timedelta(days=int(rng.integers(0, WINDOW_DAYS))),
         "available": False} for i in np.flatnonzero(rng.random(n_vols) < 0.08)])

    # Needs: weekly series (4 occurrences, a beneficiary each) and one-off needs.
    n_series = int(n_slots * SERIES_SHARE) // 4
    n_single = n_slots - 4 * n_series
    n_benef = n_series + n_single // 4
    b_comm = rng.integers(0, n_comm, n_benef)
    _bulk(db, Beneficiary.__table__, [
        {"id": b + 1, "category": "elderly_alone", "community_id": communities[b_comm[b]].id,
         "org_path": communities[b_comm[b]].path, "name_encrypted": "x", "name_masked": "王*",
         "gender": "female", "active": True} for b in range(n_benef)])
    need_rows, slot_rows = [], []
    kinds = list(NEED_KINDS)
    slot_id = 0

    def add_need(need_id: int, kind: str, community: int, beneficiary: int | None,
                 day: date, weekly: bool, lat: float, lon: float) -> None:
        nonlocal slot_id
        skills_needed, certs_needed, km = NEED_KINDS[kind]
        start_minute, length = int(rng.choice([9, 10, 14, 15, 19])) * 60, int(rng.choice([60, 120]))
        need_rows.append({
            "id": need_id, "org_id": communities[community].id, "org_path": communities[community].path,
            "community_id": communities[community].id, "beneficiary_id": beneficiary, "type": kind,
            "title": f"{kind} {need_id}", "required_skills": skills_needed,
            "required_certifications": certs_needed, "volunteers_per_occurrence": 1,
            "first_date": day, "start_minute": start_minute, "end_minute": start_minute + length,
            "recurrence": "weekly" if weekly else "none", "weekdays": [day.weekday()] if weekly else [],
            "until": day + timedelta(days=21) if weekly else None, "lat": lat, "lon": lon,
            "max_distance_km": km, "priority": str(rng.choice(["urgent", "high", "normal"], p=[0.1, 0.3, 0.6])),
            "state": "open"})
        for week in range(4 if weekly else 1):
            slot_id += 1
            start = datetime.combine(day + timedelta(days=7 * week), datetime.min.time()) + timedelta(minutes=start_minute)
            slot_rows.append({"id": slot_id, "need_id": need_id, "start": start,
                              "end": start + timedelta(minutes=length), "position": 1, "status": "open"})

    s_lat, s_lon = place(b_comm, 1.0)
    for n in range(n_series):
        add_need(n + 1, "home_visit", int(b_comm[n]), n + 1,
                 first_day + timedelta(days=int(rng.integers(0, 7))), True, float(s_lat[n]), float(s_lon[n]))
    o_comm = rng.integers(0, n_comm, n_single)
    o_lat, o_lon = place(o_comm, 1.0)
    for n in range(n_single):
        kind = kinds[int(rng.integers(0, len(kinds)))]
        benef = n_series + 1 + int(rng.integers(0, n_benef - n_series)) if kind == "home_visit" and n_benef > n_series else None
        add_need(n_series + n + 1, kind, int(o_comm[n]), benef,
                 first_day + timedelta(days=int(rng.integers(0, WINDOW_DAYS))), False,
                 float(o_lat[n]), float(o_lon[n]))
    # Past service (accepted, within the recent-load window) and confirmed tasks in the window.
    past_need, busy_need = len(need_rows) + 1, len(need_rows) + 2
    for need_id, day in ((past_need, today - timedelta(days=10)), (busy_need, first_day)):
        need_rows.append({
            "id": need_id, "org_id": communities[0].id, "org_path": communities[0].path,
            "community_id": communities[0].id, "beneficiary_id": 1 if need_id == past_need else None,
            "type": "event_support", "title": "history", "required_skills": {},
            "required_certifications": [], "volunteers_per_occurrence": 1, "first_date": day,
            "start_minute": 600, "end_minute": 720, "recurrence": "none", "weekdays": [],
            "until": None, "lat": None, "lon": None, "max_distance_km": None,
            "state": "done" if need_id == past_need else "matched", "priority": "normal"})
    assignments = []
    for i in np.flatnonzero(rng.random(n_vols) < 0.15):
        slot_id += 1
        start = datetime.combine(today - timedelta(days=int(rng.integers(1, 27))), datetime.min.time()) + timedelta(hours=10)
        slot_rows.append({"id": slot_id, "need_id": past_need, "start": start, "end": start + timedelta(hours=2),
                          "position": slot_id, "status": "done"})
        assignments.append({"slot_id": slot_id, "volunteer_id": int(i) + 1, "source": "matching",
                            "state": "accepted", "explanation": {}})
    for i in np.flatnonzero(rng.random(n_vols) < 0.05):
        slot_id += 1
        start = datetime.combine(first_day + timedelta(days=int(rng.integers(0, WINDOW_DAYS))),
                                 datetime.min.time()) + timedelta(hours=int(rng.integers(8, 19)))
        slot_rows.append({"id": slot_id, "need_id": busy_need, "start": start, "end": start + timedelta(hours=2),
                          "position": slot_id, "status": "filled"})
        assignments.append({"slot_id": slot_id, "volunteer_id": int(i) + 1, "source": "matching",
                            "state": "confirmed", "explanation": {}})
    _bulk(db, Need.__table__, need_rows)
    _bulk(db, NeedSlot.__table__, slot_rows)
    _bulk(db, Assignment.__table__, assignments)
    _fix_sequences(db, [User.__table__, Volunteer.__table__, Beneficiary.__table__, Need.__table__,
                        NeedSlot.__table__])
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    return {"city_id": city.id, "start": first_day, "end": first_day + timedelta(days=WINDOW_DAYS - 1),
            "series": n_series, "slots": n_slots, "volunteers": n_vols, "communities": n_comm}


class StatementCounter:
    def __init__(self, engine) -> None:
        self.engine, self.count = engine, 0

    def _seen(self, *args, **kwargs) -> None:
        self.count += 1

    @contextmanager
    def counting(self):
        self.count = 0
        event.listen(self.engine, "before_cursor_execute", self._seen)
        try:
            yield self
        finally:
            event.remove(self.engine, "before_cursor_execute", self._seen)


def api_run(app, db, scene: dict, counter: StatementCounter) -> dict:
    client = app.test_client()
    token = client.post("/api/v1/tokens", json={"login": "13900000000",
                                                "password": "bench-pass-2026"}).get_json()["token"]
    db.session.remove()
    with counter.counting():
        t0 = time.perf_counter()
        response = client.post("/api/v1/matching-runs", headers={"Authorization": f"Bearer {token}"},
                               json={"org_id": scene["city_id"], "start": scene["start"].isoformat(),
                                     "end": scene["end"].isoformat()})
        seconds = time.perf_counter() - t0
    body = response.get_json()
    if response.status_code != 201:
        return {"status": response.status_code, "seconds": seconds, "body": str(body)[:300]}
    stats = body.get("stats", {})
    return {"status": response.status_code, "seconds": seconds, "statements": counter.count,
            "run_id": body["id"], "filled": stats.get("filled"), "slots": stats.get("slots"),
            "engine_seconds": stats.get("seconds"), "phases": stats.get("phase_seconds", {})}


def api_runs(app, db, scene: dict, counter: StatementCounter, reps: int, *, cold: bool) -> dict:
    """reps API runs, each from an emptied pool cache (cold) or from the kept pool (warm,
    after one run that fills it)."""
    from volunteer_hub.matching import cache

    def one() -> dict:
        if cold:
            with app.app_context():
                cache.pool_cache().clear()
        return api_run(app, db, scene, counter)

    if not cold:
        api_run(app, db, scene, counter)
    return median_run([one() for _ in range(reps)])


def scene_file(url: str, args) -> str:
    import hashlib

    digest = hashlib.sha1(f"{url} {args.volunteers} {args.slots} {args.seed}".encode()).hexdigest()[:12]
    return os.path.join(tempfile.gettempdir(), f"vh-match-bench-{digest}.json")


def median_run(runs: list[dict]) -> dict:
    """The median run by wall time, with the median of each phase across runs."""
    ok = [r for r in runs if r.get("status") == 201]
    if not ok:
        return runs[0]
    chosen = sorted(ok, key=lambda r: r["seconds"])[len(ok) // 2]
    phases = {name: statistics.median(r["phases"].get(name, 0) for r in ok) for name in chosen["phases"]}
    return chosen | {"phases": phases, "seconds_all": [round(r["seconds"], 3) for r in ok],
                     "statements_all": [r["statements"] for r in ok], "run_id": ok[0]["run_id"]}


def nightly_run(app, db, counter: StatementCounter) -> dict:
    from volunteer_hub.matching import jobs

    db.session.remove()
    with counter.counting():
        t0 = time.perf_counter()
        run_ids = jobs.nightly_matching()
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "statements": counter.count, "runs": len(run_ids)}


def engine_alone(app, db, scene: dict) -> dict | None:
    """Candidates + exact solve on the tables the service loads (one round)."""
    from volunteer_hub.matching import services
    from volunteer_hub.orgs.models import Org

    loader = getattr(services, "load_tables", None)
    if loader is None:
        return None
    from volunteer_hub.matching import build_candidates, solve_assignment

    org = db.session.get(Org, scene["city_id"])
    slots, pool = loader(org, scene["start"], scene["end"])
    vols = pool.table()
    weights = services.weights_for(org)
    t0 = time.perf_counter()
    graph = build_candidates(slots.table, vols, weights)
    solve_assignment(graph)
    seconds = time.perf_counter() - t0
    db.session.rollback()
    return {"seconds": seconds, "edges": graph.n_edges}


def continuity(db, run_id: int) -> dict:
    """Share of series (one need, several occurrences in the run) with one volunteer, among
    those with one volunteer feasible for every occurrence; and the run's travel."""
    from volunteer_hub.matching.models import Assignment, MatchingRun
    from volunteer_hub.needs.models import NeedSlot
    from sqlalchemy import select

    run = db.session.get(MatchingRun, run_id)
    rows = db.session.execute(
        select(NeedSlot.need_id, Assignment.volunteer_id)
        .join(NeedSlot, Assignment.slot_id == NeedSlot.id)
        .where(Assignment.run_id == run_id)).all()
    people: dict[int, set[int]] = {}
    occurrences: dict[int, int] = {}
    for need_id, volunteer_id in rows:
        people.setdefault(need_id, set()).add(volunteer_id)
        occurrences[need_id] = occurrences.get(need_id, 0) + 1
    series = {n for n, c in occurrences.items() if c > 1}
    one_possible = set(run.stats.get("series_whole_feasible", series))
    kept = [n for n in series & one_possible if len(people[n]) == 1]
    return {"series": len(series), "one_feasible": len(series & one_possible), "one_volunteer": len(kept),
            "share": len(kept) / max(1, len(series & one_possible)),
            "filled": run.stats.get("filled"), "travel_km": run.stats.get("total_distance_km")}


def unconstrained(app, db, scene: dict) -> dict:
    """The same run with series continuity off: the travel it costs."""
    from volunteer_hub.db import transaction
    from volunteer_hub.matching import services
    from volunteer_hub.orgs.models import Org

    app.config["MATCHING_SERIES_CONTINUITY"] = False
    try:
        with transaction():
            run = services.run_matching(db.session.get(Org, scene["city_id"]), scene["start"], scene["end"], by=None)
            stats = dict(run.stats)
    finally:
        app.config["MATCHING_SERIES_CONTINUITY"] = True
    return {"filled": stats["filled"], "travel_km": stats["total_distance_km"]}


def peak_memory(app, db, scene: dict) -> float:
    from volunteer_hub.db import transaction
    from volunteer_hub.matching import services
    from volunteer_hub.orgs.models import Org

    db.session.remove()
    tracemalloc.start()
    with transaction():
        services.run_matching(db.session.get(Org, scene["city_id"]), scene["start"], scene["end"], by=None)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--volunteers", type=int, default=10_000)
    parser.add_argument("--slots", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reps", type=int, default=3, help="API runs and engine-alone runs (medians)")
    parser.add_argument("--url", default="")
    parser.add_argument("--skip-nightly", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-unconstrained", action="store_true", help="no second run without series continuity")
    parser.add_argument("--reuse", action="store_true", help="keep the database built before (same URL and sizes)")
    args = parser.parse_args()
    url = args.url or "sqlite:///" + os.path.join(tempfile.mkdtemp(prefix="vh-match-"), "bench.db")
    app = make_app(url)
    from volunteer_hub.db import db

    with app.app_context():
        kept = scene_file(url, args)
        if args.reuse and os.path.exists(kept):
            with open(kept) as f:
                scene = json.load(f)
            scene["start"], scene["end"] = date.fromisoformat(scene["start"]), date.fromisoformat(scene["end"])
            log(f"reusing the database built before ({kept})")
        else:
            reset(db)
            log(f"building {args.volunteers} volunteers x {args.slots} slots on {db.engine.dialect.name}")
            t0 = time.perf_counter()
            scene = build(db, args.volunteers, args.slots, args.seed)
            log(f"built in {time.perf_counter() - t0:.1f} s")
            with open(kept, "w") as f:
                json.dump(scene, f, default=str)
        counter = StatementCounter(db.engine)
        result: dict = {"engine": db.engine.dialect.name, "python": platform.python_version(),
                        "volunteers": args.volunteers, "slots": args.slots,
                        "load_average": os.getloadavg()[0]}
        alone = [engine_alone(app, db, scene) for _ in range(args.reps)]
        result["engine_alone"] = alone[0] and {
            "seconds": statistics.median(a["seconds"] for a in alone), "edges": alone[0]["edges"]}
        log(f"engine alone: {result['engine_alone']}")
        # Each API run withdraws the previous run's proposals and makes the same ones again.
        result["api_cold"] = api_runs(app, db, scene, counter, args.reps, cold=True)
        log(f"api cold: {result['api_cold']}")
        result["api"] = api_runs(app, db, scene, counter, args.reps, cold=False)
        log(f"api warm: {result['api']}")
        engine_s = result["engine_alone"] and result["engine_alone"]["seconds"]
        if engine_s:
            result["ratio"] = {kind: round(result[key]["seconds"] / engine_s, 2)
                               for kind, key in (("cold", "api_cold"), ("warm", "api"))
                               if "seconds" in result[key]}
            log(f"whole run / engine alone: {result['ratio']}")
        if "run_id" in result["api"]:
            result["continuity"] = continuity(db, result["api"]["run_id"])
            if not args.skip_unconstrained:
                result["continuity"]["unconstrained"] = unconstrained(app, db, scene)
            log(f"continuity: {result['continuity']}")
        if not args.skip_nightly:
            result["nightly"] = nightly_run(app, db, counter)
            log(f"nightly: {result['nightly']}")
        if not args.skip_memory:
            result["peak_mib"] = peak_memory(app, db, scene)
        result["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result, default=str, indent=1))


if __name__ == "__main__":
    main()
