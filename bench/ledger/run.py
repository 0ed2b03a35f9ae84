"""Ledger benchmark: verified-hour postings over HTTP, and `ledger verify` over 1M postings.

    python -m bench.ledger.run [--engine sqlite|postgresql|both] [--part http|verify|both]
                               [--clients 4] [--seconds 10] [--batch 1,100] [--postings 1000000]

(a) http: per engine a fresh database (bench.http.run's helpers: SQLite file in a temp dir or
    a new PostgreSQL database vh_bench_<random>), `db upgrade` + `demo --volunteers 500`,
    pending 60-minute service records inserted with SQL (one per volunteer and day, in the
    demo organizer's community), gunicorn with 2 sync workers on 127.0.0.1, then `--clients`
    closed-loop clients POST /api/v1/verifications with `--batch` record ids each (1: the
    single-record path; 100: bulk approval). Every verified record mints one MINT transaction
    (2 postings) through the real service path: records.verify_records ->
    timebank.mint_for_records (idempotency keys, one account lock set + one chain-head lock
    per request, hash chain in Python, multi-row inserts). Postings/s = rows added to
    ledger_postings during the run / its wall time. 3 runs per batch size, medians quoted.
    `ledger verify` runs at the end and must report OK.
(b) verify: a fresh database with `--postings` postings (MINTs of 2 postings each between
    1,000 volunteer accounts and 20 issuance accounts) written by direct SQL (COPY on
    PostgreSQL, executemany on SQLite) with the chain computed by ledger.chain_hash and each
    row's MAC made with a fixed bench key (ledger_env: keys and checkpoint store in the run's
    temporary directory); then bench.ledger.core in one process: the first checkpoint, verify
    of commit b10f656 (before issue 14) and the new audit alternating 3 times, 3 x
    (`--append` more MINTs + an incremental checkpoint), `--proofs` inclusion proofs; then
    `volunteer-hub ledger verify` once (must say OK against the stored checkpoints).
"""
from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.http.load import run_load
from bench.http.run import (
    FIXED_ENV, ORGANIZER_LOGIN, ROOT, Gunicorn, _bin, _log, describe, login, machine_info,
    postgresql_database, prepare, sqlite_database, wait_for_idle,
)

RUNS = 3
WARMUP_SECONDS = 1.0
RECORD_MINUTES = 60


def loadavg() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


def _engine(url: str):
    from sqlalchemy import create_engine

    return create_engine(url)


# --- (a) verified-hour postings over HTTP -------------------------------------------------

def _import_all_models() -> None:
    """Every package's models: relationships name classes of other packages."""
    import pkgutil
    from importlib import import_module
    from importlib.util import find_spec

    import volunteer_hub

    for module in pkgutil.iter_modules(volunteer_hub.__path__):
        if module.ispkg and find_spec(f"volunteer_hub.{module.name}.models") is not None:
            import_module(f"volunteer_hub.{module.name}.models")


def seed_pending_records(url: str, count: int) -> tuple[list[int], int]:
    """`count` pending 60-minute records in the organizer's community; returns their ids in
    insertion order (day-major: consecutive ids belong to different volunteers)."""
    from sqlalchemy import select

    _import_all_models()
    from volunteer_hub.accounts.models import RoleGrant, User
    from volunteer_hub.orgs.models import Org
    from volunteer_hub.records.models import Activity, ServiceRecord
    from volunteer_hub.volunteers.models import Volunteer

    engine = _engine(url)
    with engine.begin() as conn:
        org_id, org_path = conn.execute(
            select(Org.id, Org.path).join(RoleGrant, RoleGrant.org_id == Org.id)
            .join(User, User.id == RoleGrant.user_id)
            .where(User.phone == ORGANIZER_LOGIN, RoleGrant.role == "organizer")).one()
        volunteers = [row[0] for row in conn.execute(select(Volunteer.id).order_by(Volunteer.id))]
        days = -(-count // len(volunteers))
        base = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)  # 09:00 Beijing
        now = datetime.now(UTC)
        activity_rows = [{
            "org_id": org_id, "org_path": org_path, "name": f"压测活动{day}",
            "service_type": "community", "place": "", "content": "",
            "starts_at": base + timedelta(days=day),
            "ends_at": base + timedelta(days=day, hours=2), "checkin_code": "000000",
            "group_service": False, "created_at": now} for day in range(days)]
        conn.execute(Activity.__table__.insert(), activity_rows)
        activity_ids = [row[0] for row in conn.execute(
            select(Activity.id).where(Activity.name.like("压测活动%")).order_by(Activity.id))]
        rows = []
        for day, activity_id in enumerate(activity_ids):
            start = base + timedelta(days=day)
            for volunteer_id in volunteers:
                rows.append({
                    "volunteer_id": volunteer_id, "activity_id": activity_id,
                    "check_in_at": start, "check_out_at": start + timedelta(minutes=60),
                    "method": "manual", "raw_minutes": RECORD_MINUTES, "travel_minutes": 0,
                    "minutes": RECORD_MINUTES, "missing_checkout": False, "status": "pending",
                    "reason": "bench", "created_at": now})
                if len(rows) == count:
                    break
            if len(rows) == count:
                break
        for chunk in range(0, len(rows), 5000):
            conn.execute(ServiceRecord.__table__.insert(), rows[chunk:chunk + 5000])
        ids = [row[0] for row in conn.execute(
            select(ServiceRecord.id).where(ServiceRecord.status == "pending")
            .order_by(ServiceRecord.id))]
    engine.dispose()
    return ids, len(volunteers)


def count_postings(url: str) -> tuple[int, int]:
    from sqlalchemy import text

    engine = _engine(url)
    with engine.connect() as conn:
        postings = conn.execute(text("SELECT count(*) FROM ledger_postings")).scalar()
        mints = conn.execute(text(
            "SELECT count(*) FROM ledger_transactions WHERE kind = 'MINT'")).scalar()
    engine.dispose()
    return int(postings), int(mints)


class Batches:
    def __init__(self, ids: list[int], size: int):
        self.ids = ids
        self.size = size
        self.position = 0
        self.lock = threading.Lock()

    def remaining(self) -> int:
        return len(self.ids) - self.position

    def next(self) -> list[int]:
        with self.lock:
            start = self.position
            self.position += self.size
        chunk = self.ids[start:start + self.size]
        if not chunk:
            raise RuntimeError("ran out of pending records: raise --records")
        return chunk


def run_ledger_verify(env: dict) -> tuple[float, float, str, float]:
    """(CLI-reported seconds, process wall seconds, output, CPU seconds of the process)."""
    t0 = time.perf_counter()
    cpu0 = _children_cpu()
    done = subprocess.run([_bin("volunteer-hub"), "ledger", "verify"], env=env, cwd=ROOT,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    cpu = _children_cpu() - cpu0
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        raise RuntimeError(f"ledger verify failed ({done.returncode}):\n{output[-2000:]}")
    reported = float(output.split(" in ")[1].split(" s")[0])
    return reported, wall, output, cpu


def _children_cpu() -> float:
    """User + system CPU of finished child processes: on a shared machine the wall time
    grows with the other jobs' load, the CPU time much less."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_http(engine: str, args) -> dict:
    database = sqlite_database if engine == "sqlite" else postgresql_database
    with database() as (url, tmp, db_pids):
        env = {**os.environ, **FIXED_ENV, **ledger_env(tmp), "VOLUNTEER_HUB_DATABASE_URL": url}
        env.pop("VOLUNTEER_HUB_TEST_DATABASE_URL", None)
        t0 = time.perf_counter()
        prepare(env)
        ids, volunteers = seed_pending_records(url, args.records)
        _log(f"{engine}: migrated + demo + {len(ids)} pending records ({volunteers} volunteers) "
             f"in {time.perf_counter() - t0:.1f} s")
        server = Gunicorn(env, Path(tmp) / "gunicorn.log")
        results = {}
        try:
            server.start()
            token = login(server.port, ORGANIZER_LOGIN)
            headers = {"Accept": "application/json", "Content-Type": "application/json",
                       "Authorization": f"Bearer {token}"}
            position = 0
            for batch in args.batches:
                batches = Batches(ids[position:], batch)

                def make_request(batches=batches):
                    body = json.dumps({"record_ids": batches.next()}).encode()
                    return "POST", "/api/v1/verifications", body, headers

                budget = max(args.clients, batches.remaining() // batch // (RUNS + 1))
                run_load("warmup", server.port, make_request, clients=args.clients,
                         seconds=WARMUP_SECONDS, max_requests=budget, expected_status=200,
                         server_pids=server.pids, db_pids=db_pids)
                runs = []
                for run in range(RUNS):
                    wait_for_idle(args.idle_wait)
                    load_before = loadavg()
                    postings0, mints0 = count_postings(url)
                    result = run_load(f"verify x{batch}", server.port, make_request,
                                      clients=args.clients, seconds=args.seconds,
                                      max_requests=budget, expected_status=200,
                                      server_pids=server.pids, db_pids=db_pids)
                    postings1, mints1 = count_postings(url)
                    entry = {
                        "postings_per_s": (postings1 - postings0) / result.seconds,
                        "mints_per_s": (mints1 - mints0) / result.seconds,
                        "requests_per_s": result.rps, "errors": result.errors,
                        "p50_ms": result.percentile(50), "p99_ms": result.percentile(99),
                        "seconds": result.seconds, "machine_busy": result.machine_busy,
                        "gunicorn_cores": result.server_cpu_s / result.seconds,
                        "postgres_cores": result.db_cpu_s / result.seconds,
                        "other_cores": result.other_cpu_s / result.seconds,
                        "loadavg_before": load_before, "loadavg_after": loadavg(),
                        "statuses": dict(result.statuses),
                    }
                    runs.append(entry)
                    _log(f"{engine} batch {batch} run {run + 1}: "
                         f"{entry['postings_per_s']:.0f} postings/s "
                         f"({entry['mints_per_s']:.0f} MINTs/s); {describe(result)}; "
                         f"load {entry['loadavg_before']} -> {entry['loadavg_after']}")
                position += batches.position
                results[batch] = runs
            log_text = server.log_text()
        finally:
            server.stop()
        errors = sorted({line.strip() for line in log_text.splitlines()
                         if "Error" in line and not line.startswith(" ")})[:10]
        for line in errors:
            _log(f"{engine} server log: {line[:300]}")
        _reported, _wall, output, _cpu = run_ledger_verify(env)
        _log(f"{engine}: {output.splitlines()[-1]} ({output.splitlines()[0]})")
        return {"engine": engine, "runs": results, "verify_after": output,
                "server_errors": errors}


# --- (b) ledger verify over 1M postings ---------------------------------------------------

VERIFY_VOLUNTEERS = 1000
VERIFY_ISSUERS = 20


BENCH_MAC_KEY = b"vh-bench-ledger-fixed-mac-key-32"  # 32 bytes, bench only


def ledger_env(tmp: str) -> dict:
    """Ledger keys and checkpoint store of a bench run (outside the shared instance/)."""
    from volunteer_hub.timebank import signing

    return {
        "VOLUNTEER_HUB_LEDGER_MAC_KEYS": json.dumps(
            {"bench-1": base64.b64encode(BENCH_MAC_KEY).decode()}),
        "VOLUNTEER_HUB_LEDGER_MAC_CURRENT_KEY": "bench-1",
        "VOLUNTEER_HUB_LEDGER_CHECKPOINT_SIGNING_KEY":
            signing.new_signer("bench.volunteer-hub.ledger").encoded,
        "VOLUNTEER_HUB_LEDGER_CHECKPOINT_DIR": str(Path(tmp) / "ledger-checkpoints"),
    }


def _bench_accounts():
    from volunteer_hub.timebank import ledger

    accounts = []  # (id, kind, owner)
    for i in range(VERIFY_ISSUERS):
        accounts.append((len(accounts) + 1, "ISSUANCE", str(1000 + i)))
    for i in range(VERIFY_VOLUNTEERS):
        accounts.append((len(accounts) + 1, "VOLUNTEER", str(i + 1)))
    refs = {a[0]: ledger.account(ledger.AccountKind(a[1]), a[2]) for a in accounts}
    return accounts, refs


def _mint_rows(first: int, count: int, prev: str, first_posting: int, refs: dict):
    """MINT rows first..first+count-1 chained from `prev` and authenticated as the service
    does (position = id - 1): (transaction rows, posting rows, balance deltas, last hash)."""
    from volunteer_hub.timebank import ledger, signing

    ring = signing.MacKeyRing({"bench-1": BENCH_MAC_KEY}, "bench-1")
    base = datetime(2026, 1, 1, tzinfo=UTC)
    tx_rows, posting_rows = [], []
    deltas: dict[int, int] = {}
    posting_id = itertools.count(first_posting)
    for n in range(first, first + count):
        issuer = 1 + n % VERIFY_ISSUERS
        volunteer = VERIFY_ISSUERS + 1 + (n * 7919) % VERIFY_VOLUNTEERS
        minutes = 30 * (1 + n % 4)
        created = base + timedelta(microseconds=n * 1_000_003)
        key = f"record:{n}:mint"
        issuer_posting, volunteer_posting = next(posting_id), next(posting_id)
        tx = ledger.Transaction(
            id=str(n), kind=ledger.TransactionKind.MINT, created_at=created,
            postings=(ledger.Posting(refs[issuer], -minutes, id=issuer_posting,
                                     account_id=issuer),
                      ledger.Posting(refs[volunteer], minutes, id=volunteer_posting,
                                     account_id=volunteer)),
            idempotency_key=key, format_version=ledger.CANONICAL_FORMAT_VERSION,
            request_hash="bench", provenance="{}")
        row_hash = ledger.chain_hash(prev, tx)
        key_id, mac = ring.sign(n - 1, row_hash)
        tx_rows.append((n, "MINT", created, key, "bench", None, prev, row_hash, "{}", None,
                        None, None, ledger.CANONICAL_FORMAT_VERSION, key_id, mac))
        posting_rows.append((issuer_posting, n, issuer, -minutes, False))
        posting_rows.append((volunteer_posting, n, volunteer, minutes, False))
        deltas[issuer] = deltas.get(issuer, 0) - minutes
        deltas[volunteer] = deltas.get(volunteer, 0) + minutes
        prev = row_hash
    return tx_rows, posting_rows, deltas, prev


TX_COLUMNS = ("id", "kind", "created_at", "idempotency_key", "request_hash", "reverses_id",
              "prev_hash", "hash", "provenance", "service_volunteer_id", "record_id",
              "created_by_id", "format_version", "mac_key_id", "mac")
POSTING_COLUMNS = ("id", "transaction_id", "account_id", "minutes", "earned_as_group")


def _sqlite_time(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _insert(cursor, is_pg: bool, table: str, columns, rows) -> None:
    if is_pg:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    if table == "ledger_transactions":
        rows = [(r[0], r[1], _sqlite_time(r[2]), *r[3:]) for r in rows]
    cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                       f"({', '.join('?' * len(columns))})", rows)


def generate_ledger(url: str, postings: int) -> dict:
    """Write postings/2 MINT transactions with a valid chain and MACs straight into the
    tables."""
    from volunteer_hub.timebank import ledger

    engine = _engine(url)
    is_pg = engine.dialect.name == "postgresql"
    transactions = postings // 2
    t0 = time.perf_counter()
    accounts, refs = _bench_accounts()
    tx_rows, posting_rows, deltas, prev = _mint_rows(1, transactions, ledger.GENESIS_HASH, 1,
                                                     refs)
    chain_seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    now = datetime.now(UTC)
    account_rows = [(a[0], a[1], a[2], deltas.get(a[0], 0), 0, 0,
                     now if is_pg else _sqlite_time(now)) for a in accounts]
    account_columns = ("id", "kind", "owner_id", "balance_individual", "balance_group",
                       "version", "created_at")
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if not is_pg:
            cursor.execute("PRAGMA synchronous = OFF")
        _insert(cursor, is_pg, "ledger_accounts", account_columns, account_rows)
        _insert(cursor, is_pg, "ledger_transactions", TX_COLUMNS, tx_rows)
        _insert(cursor, is_pg, "ledger_postings", POSTING_COLUMNS, posting_rows)
        marker = "%s" if is_pg else "?"
        if is_pg:
            cursor.execute("SELECT setval(pg_get_serial_sequence('ledger_postings', 'id'), %s)",
                           (len(posting_rows),))
            cursor.execute("SELECT setval(pg_get_serial_sequence('ledger_accounts', 'id'), %s)",
                           (len(account_rows),))
        cursor.execute(f"INSERT INTO ledger_head (id, last_transaction_id, hash) "
                       f"VALUES (1, {marker}, {marker})", (transactions, prev))
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    return {"transactions": transactions, "postings": len(posting_rows),
            "chain_seconds": chain_seconds, "insert_seconds": time.perf_counter() - t1}


def append_mints(url: str, count: int, app=None) -> None:
    """`count` more MINTs after the current head, as generate_ledger writes them."""
    engine = _engine(url)
    is_pg = engine.dialect.name == "postgresql"
    marker = "%s" if is_pg else "?"
    _, refs = _bench_accounts()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SELECT last_transaction_id, hash FROM ledger_head WHERE id = 1")
        last_id, prev = cursor.fetchone()
        cursor.execute("SELECT coalesce(max(id), 0) FROM ledger_postings")
        last_posting = cursor.fetchone()[0]
        tx_rows, posting_rows, deltas, prev = _mint_rows(last_id + 1, count, prev,
                                                         last_posting + 1, refs)
        _insert(cursor, is_pg, "ledger_transactions", TX_COLUMNS, tx_rows)
        _insert(cursor, is_pg, "ledger_postings", POSTING_COLUMNS, posting_rows)
        cursor.executemany(f"UPDATE ledger_accounts SET balance_individual = balance_individual"
                           f" + {marker} WHERE id = {marker}",
                           [(delta, account_id) for account_id, delta in deltas.items()])
        cursor.execute(f"UPDATE ledger_head SET last_transaction_id = {marker}, hash = {marker}"
                       f" WHERE id = 1", (last_id + count, prev))
        if is_pg:
            cursor.execute("SELECT setval(pg_get_serial_sequence('ledger_postings', 'id'), %s)",
                           (last_posting + len(posting_rows),))
        raw.commit()
    finally:
        raw.close()
        engine.dispose()


def bench_verify(engine: str, args) -> dict:
    database = sqlite_database if engine == "sqlite" else postgresql_database
    with database() as (url, tmp, _db_pids):
        env = {**os.environ, **FIXED_ENV, **ledger_env(tmp), "VOLUNTEER_HUB_DATABASE_URL": url}
        env.pop("VOLUNTEER_HUB_TEST_DATABASE_URL", None)
        subprocess.run([_bin("volunteer-hub"), "db", "upgrade"], env=env, cwd=ROOT,
                       check=True, capture_output=True, text=True)
        generated = generate_ledger(url, args.postings)
        _log(f"{engine}: generated {generated['postings']} postings "
             f"({generated['transactions']} transactions): chain "
             f"{generated['chain_seconds']:.1f} s, insert {generated['insert_seconds']:.1f} s")
        load_before = loadavg()
        done = subprocess.run(
            [sys.executable, "-m", "bench.ledger.core", "--url", url, "--runs", str(RUNS),
             "--append", str(args.append), "--proofs", str(args.proofs)],
            env=env, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"bench.ledger.core failed:\n{done.stderr[-3000:]}")
        core = json.loads(done.stdout.strip().splitlines()[-1])
        core["loadavg"] = f"{load_before} -> {loadavg()}"
        _log(f"{engine}: {core}")
        reported, wall, output, cpu = run_ledger_verify(env)
        _log(f"{engine} CLI ledger verify: {output.splitlines()[0]}")
        return {"engine": engine, "generated": generated, "core": core,
                "cli": {"reported_s": reported, "wall_s": wall, "cpu_s": cpu,
                        "output": output}}


def _join(runs: list[dict], key: str, spec: str) -> str:
    return ", ".join(format(run[key], spec) for run in runs)


# --- main ---------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--part", choices=("http", "verify", "both"), default="both")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch", default="1,100",
                        help="record ids per POST /verifications (comma-separated sizes)")
    parser.add_argument("--records", type=int, default=60_000,
                        help="pending records seeded per engine (shared by the batch sizes)")
    parser.add_argument("--postings", type=int, default=1_000_000)
    parser.add_argument("--append", type=int, default=10_000,
                        help="transactions added before each incremental checkpoint")
    parser.add_argument("--proofs", type=int, default=200)
    parser.add_argument("--idle-wait", type=float, default=0.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    args.batches = [int(b) for b in args.batch.split(",") if b.strip()]
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    info = machine_info()
    _log(f"machine: {info}; load average {loadavg()}")
    report = {"machine": info, "args": {k: str(v) for k, v in vars(args).items()},
              "http": [], "verify": []}
    if args.part in ("http", "both"):
        report["http"] = [bench_http(engine, args) for engine in engines]
    if args.part in ("verify", "both"):
        report["verify"] = [bench_verify(engine, args) for engine in engines]

    med = statistics.median
    print(f"\nMachine: {info['nproc']} CPUs ({info['cpu']}), {info['ram_gib']} GiB RAM, "
          f"Python {info['python']}, SQLite {info['sqlite']}, PostgreSQL {info['postgresql']}")
    if report["http"]:
        print(f"\n(a) POST /api/v1/verifications, {args.clients} clients, gunicorn 2 workers, "
              f"{RUNS} x {args.seconds:g} s (medians)\n")
        print("| engine | records per request | postings/s | MINTs/s | requests/s | p50 ms "
              "| p99 ms | errors | postings/s of the 3 runs | cores: gunicorn / postgres / "
              "other | load avg before runs |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|")
        for entry in report["http"]:
            for batch, runs in entry["runs"].items():
                print(f"| {entry['engine']} | {batch} | {med(r['postings_per_s'] for r in runs):.0f}"
                      f" | {med(r['mints_per_s'] for r in runs):.0f}"
                      f" | {med(r['requests_per_s'] for r in runs):.1f}"
                      f" | {med(r['p50_ms'] for r in runs):.1f}"
                      f" | {med(r['p99_ms'] for r in runs):.1f}"
                      f" | {sum(r['errors'] for r in runs)}"
                      f" | {_join(runs, 'postings_per_s', '.0f')}"
                      f" | {med(r['gunicorn_cores'] for r in runs):.2f} / "
                      f"{med(r['postgres_cores'] for r in runs):.2f} / "
                      f"{med(r['other_cores'] for r in runs):.2f}"
                      f" | {'; '.join(r['loadavg_before'] for r in runs)} |")
        for entry in report["http"]:
            print(f"\n{entry['engine']} after the runs: {entry['verify_after'].splitlines()[-1]}"
                  f"; server errors: {entry['server_errors'] or 'none'}")
    if report["verify"]:
        print(f"\n(b) ledger core, one process per engine (bench.ledger.core; medians of {RUNS})"
              "\n")
        print("| engine | transactions / postings | verify before s | verify now s | ratio "
              "| first checkpoint s | checkpoint s (+appended tx) | proof ms median / max "
              "| CLI verify s | load avg |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for entry in report["verify"]:
            core = entry["core"]
            before, after = med(core["verify_before_s"]), med(core["verify_after_s"])
            print(f"| {entry['engine']} | {core['transactions']} / {core['postings']} "
                  f"| {before:.2f} ({', '.join(f'{v:.2f}' for v in core['verify_before_s'])}) "
                  f"| {after:.2f} ({', '.join(f'{v:.2f}' for v in core['verify_after_s'])}) "
                  f"| {after / before:.2f} | {core['first_checkpoint_s']:.2f} "
                  f"| {med(core['checkpoint_s']):.3f} "
                  f"({', '.join(f'{v:.3f}' for v in core['checkpoint_s'])}; "
                  f"+{core['appended']}) "
                  f"| {core['proof_ms_median']:.2f} / {core['proof_ms_max']:.2f} "
                  f"| {entry['cli']['reported_s']:.2f} | {core['loadavg']} |")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
