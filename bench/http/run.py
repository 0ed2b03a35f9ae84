"""HTTP benchmark: gunicorn (2 sync workers) + SQLite or PostgreSQL, three API scenarios.

    python -m bench.http.run [--engine sqlite|postgresql|both] [--clients 4] [--seconds 10]

For each engine: a fresh database (SQLite file in a temp dir, or a new PostgreSQL database
vh_bench_<random> on 127.0.0.1:5432), `volunteer-hub db upgrade`, `volunteer-hub demo
--volunteers 500 --seed 2026`, gunicorn on a free loopback port, then three scenarios, each
run 3 times (medians quoted):

  profile   GET  /api/v1/volunteers/me            (demo volunteer's token)
  list      GET  /api/v1/volunteers?page_size=50  (demo organizer's token)
  register  POST /api/v1/volunteers               (anonymous self-registration, unique IDs)

Everything (gunicorn, temp dir, database) is torn down in `finally` blocks.
"""
from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import http.client
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from bench.http.load import RunResult, run_load
from volunteer_hub.volunteers.idnumbers import check_char

ROOT = Path(__file__).resolve().parents[2]
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{db}"

# Fixed keys so the CLI processes and every gunicorn worker agree (bench only, not secrets).
FIXED_ENV = {
    "VOLUNTEER_HUB_SECRET_KEY": "bench-http-secret-key-not-for-production",
    "VOLUNTEER_HUB_DATA_ENCRYPTION_KEY":
        base64.urlsafe_b64encode(b"vh-bench-http-fixed-fernet-key!!").decode(),
    "VOLUNTEER_HUB_ID_HASH_KEY": "62656e63682d687474702d69642d686173682d6b6579",
    "VOLUNTEER_HUB_LOGIN_RATE_LIMIT": "100000 per minute",
}
DEMO_VOLUNTEERS = 500
DEMO_SEED = 2026
DEMO_PASSWORD = "demo2026"
VOLUNTEER_LOGIN = "13900000012"
ORGANIZER_LOGIN = "13000000002"
REGISTRATION_PASSWORD = "bench2026x"
RUNS = 3
WARMUP_SECONDS = 1.0
SCENARIOS = ("profile", "list", "register")
SCENARIO_LABELS = {
    "profile": "a. profile read `GET /volunteers/me`",
    "list": "b. organizer list `GET /volunteers?page_size=50`",
    "register": "c. registration `POST /volunteers`",
}


def _bin(name: str) -> str:
    for candidate in (ROOT / ".venv" / "bin" / name, Path(sys.executable).parent / name):
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found: run from the repo's .venv")
    return found


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- databases ------------------------------------------------------------------------------

@contextmanager
def sqlite_database():
    tmp = tempfile.mkdtemp(prefix="vh-bench-http-")
    try:
        yield f"sqlite:///{tmp}/volunteer_hub.db", tmp, list
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def postgresql_database():
    import psycopg

    name = f"vh_bench_{secrets.token_hex(4)}"
    tmp = tempfile.mkdtemp(prefix="vh-bench-http-")
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    _log(f"created PostgreSQL database {name}")
    try:
        def backends() -> list[int]:
            """PIDs of the server processes serving this database (gunicorn's pool)."""
            with psycopg.connect(PG_DSN) as conn:
                rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s",
                                    (name,)).fetchall()
            return [row[0] for row in rows]

        yield PG_URL.format(db=name), tmp, backends
    finally:
        try:
            with psycopg.connect(PG_DSN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            _log(f"dropped PostgreSQL database {name}")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def prepare(env: dict) -> str:
    """Migrate and load the demo; return the demo volunteer login it printed."""
    cli = _bin("volunteer-hub")
    subprocess.run([cli, "db", "upgrade"], env=env, cwd=ROOT, check=True,
                   capture_output=True, text=True)
    demo = subprocess.run([cli, "demo", "--volunteers", str(DEMO_VOLUNTEERS),
                           "--seed", str(DEMO_SEED)],
                          env=env, cwd=ROOT, check=True, capture_output=True, text=True)
    printed = {}
    for line in demo.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            printed[parts[0]] = parts[1]
    if printed.get("volunteer") != VOLUNTEER_LOGIN:
        _log(f"note: demo printed volunteer login {printed.get('volunteer')!r}, "
             f"expected {VOLUNTEER_LOGIN}")
    return printed.get("volunteer") or VOLUNTEER_LOGIN


# --- gunicorn -------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(p) for p in handle.read().split()]
    except FileNotFoundError:
        return []


class Gunicorn:
    def __init__(self, env: dict, log_path: Path):
        self.env = env
        self.port = free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    workers = 2

    def command(self) -> list[str]:
        return [_bin("gunicorn"), "--bind", f"127.0.0.1:{self.port}", "--workers",
                str(self.workers), "volunteer_hub:create_app()"]

    def start(self) -> None:
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.command(), env=self.env, cwd=ROOT, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}:\n"
                                   + self.log_tail())
            try:
                status, _ = request(self.port, "GET", "/healthz")
                if status == 200 and len(self.pids()) >= self.workers + 1:  # and the master
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the server did not answer /healthz within 60 s:\n" + self.log_tail())

    def pids(self) -> list[int]:
        return [self.proc.pid, *_children(self.proc.pid)] if self.proc else []

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # graceful: workers finish their request
            try:
                self.proc.wait(timeout=35)
            except subprocess.TimeoutExpired:
                _log("gunicorn did not stop within 35 s: killing it")
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        _log(f"server stopped (exit code {self.proc.returncode})")


def request(port: int, method: str, path: str, body: dict | None = None,
            token: str | None = None) -> tuple[int, dict | None]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        return response.status, data
    finally:
        conn.close()


def login(port: int, phone: str) -> str:
    status, data = request(port, "POST", "/api/v1/tokens",
                           {"login": phone, "password": DEMO_PASSWORD, "token_name": "bench"})
    if status != 201 or not data or "token" not in data:
        raise RuntimeError(f"login {phone} failed: {status} {data}")
    return data["token"]


# --- scenarios ------------------------------------------------------------------------------

class Registrations:
    """Unique, checksum-valid adult mainland IDs and 136 phones, deterministic order.

    Sequences 998/999 are never produced by the demo (it draws 0..997), so no registration
    can collide with a demo volunteer; each birth date gives two IDs (one per parity).
    """

    FIRST_BIRTH = date(1950, 1, 1)
    LIMIT = 2 * (date(2005, 1, 1) - FIRST_BIRTH).days  # every ID stays an adult's

    def __init__(self, community_id: int):
        self.community_id = community_id
        self._counter = itertools.count()
        self._lock = threading.Lock()

    def next_body(self) -> bytes:
        with self._lock:
            n = next(self._counter)
        if n >= self.LIMIT:
            raise RuntimeError("ran out of unique bench IDs")
        birth = self.FIRST_BIRTH + timedelta(days=n // 2)
        first17 = f"110105{birth:%Y%m%d}{998 + n % 2:03d}"
        return json.dumps({
            "real_name": f"压测{n}",
            "id_type": "mainland_id",
            "id_number": first17 + check_char(first17),
            "phone": f"136{n:08d}",
            "password": REGISTRATION_PASSWORD,
            "community_id": self.community_id,
            "agree_terms": True,
            "agree_sensitive_data": True,
        }, ensure_ascii=False).encode()


def scenario_factories(volunteer_token: str, organizer_token: str, registrations):
    read_volunteer = {"Accept": "application/json",
                      "Authorization": f"Bearer {volunteer_token}"}
    read_organizer = {"Accept": "application/json",
                      "Authorization": f"Bearer {organizer_token}"}
    post_headers = {"Accept": "application/json", "Content-Type": "application/json"}
    return {
        "profile": (lambda: ("GET", "/api/v1/volunteers/me", None, read_volunteer), 200),
        "list": (lambda: ("GET", "/api/v1/volunteers?page_size=50", None, read_organizer),
                 200),
        "register": (lambda: ("POST", "/api/v1/volunteers", registrations.next_body(),
                              post_headers), 201),
    }


def lock_errors(text: str) -> int:
    return text.count("database is locked")


def bench_engine(engine: str, args) -> dict:
    database = sqlite_database if engine == "sqlite" else postgresql_database
    with database() as (url, tmp, db_pids):
        env = {**os.environ, **FIXED_ENV, "VOLUNTEER_HUB_DATABASE_URL": url}
        env.pop("VOLUNTEER_HUB_TEST_DATABASE_URL", None)
        t0 = time.perf_counter()
        volunteer_login = prepare(env)
        _log(f"{engine}: migrated + demo ({DEMO_VOLUNTEERS} volunteers) in "
             f"{time.perf_counter() - t0:.1f} s")
        server = Gunicorn(env, Path(tmp) / "gunicorn.log")
        try:
            server.start()
            _log(f"{engine}: gunicorn up on 127.0.0.1:{server.port} pids {server.pids()}")
            volunteer_token = login(server.port, volunteer_login)
            organizer_token = login(server.port, ORGANIZER_LOGIN)
            status, orgs = request(server.port, "GET", "/api/v1/orgs?level=community",
                                   token=organizer_token)
            if status != 200 or not orgs["items"]:
                raise RuntimeError(f"no community visible to the organizer: {status} {orgs}")
            community = orgs["items"][0]
            registrations = Registrations(community["id"])
            factories = scenario_factories(volunteer_token, organizer_token, registrations)
            results: dict[str, list[RunResult]] = {}
            lock_counts: dict[str, int] = {}
            for scenario in args.scenarios:
                make_request, expected = factories[scenario]
                run_load(scenario, server.port, make_request, clients=args.clients,
                         seconds=WARMUP_SECONDS, max_requests=args.max_requests,
                         expected_status=expected, server_pids=server.pids,
                         db_pids=db_pids)  # warm-up
                locked_before = lock_errors(server.log_text())
                results[scenario] = []
                for run in range(RUNS):
                    wait_for_idle(args.idle_wait)
                    result = run_load(scenario, server.port, make_request,
                                      clients=args.clients, seconds=args.seconds,
                                      max_requests=args.max_requests,
                                      expected_status=expected, server_pids=server.pids,
                                      db_pids=db_pids)
                    results[scenario].append(result)
                    _log(f"{engine} {scenario} run {run + 1}: {describe(result)}")
                lock_counts[scenario] = lock_errors(server.log_text()) - locked_before
            return {"engine": engine, "community": community.get("name_zh"),
                    "results": results, "lock_errors": lock_counts,
                    "server_log_tail": server.log_tail(20)}
        finally:
            server.stop()


# --- reporting ------------------------------------------------------------------------------

def describe(result: RunResult) -> str:
    statuses = dict(sorted(result.statuses.items()))
    text = (f"{result.rps:.1f} ok/s, p50 {result.percentile(50):.1f} ms, "
            f"p90 {result.percentile(90):.1f} ms, p99 {result.percentile(99):.1f} ms, "
            f"{result.requests} responses {statuses}, errors {result.errors}, "
            f"conns {result.connections}; CPU s: gunicorn {result.server_cpu_s:.1f}, "
            f"postgres {result.db_cpu_s:.1f}, load gen {result.client_cpu_s:.1f}, "
            f"other jobs {result.other_cpu_s:.1f}; machine busy "
            f"{100 * result.machine_busy:.0f} % over {result.seconds:.1f} s")
    if result.exceptions:
        text += f", exceptions {dict(result.exceptions)}"
    for status, body in result.error_samples.items():
        text += f"\n    first {status} body: {body[:300]}"
    return text


def summarize(runs: list[RunResult]) -> dict:
    med = statistics.median
    return {
        "rps": med(r.rps for r in runs),
        "p50": med(r.percentile(50) for r in runs),
        "p90": med(r.percentile(90) for r in runs),
        "p99": med(r.percentile(99) for r in runs),
        "errors": sum(r.errors for r in runs),
        "non_2xx": sum(r.non_2xx for r in runs),
        "requests": sum(r.requests for r in runs),
        "statuses": dict(sum((r.statuses for r in runs), start=type(runs[0].statuses)())),
        "exceptions": dict(sum((r.exceptions for r in runs),
                               start=type(runs[0].exceptions)())),
        "rps_runs": [round(r.rps, 1) for r in runs],
        # CPU in cores (CPU seconds per wall second); the machine has os.cpu_count() cores
        "client_cores": med(r.client_cpu_s / r.seconds for r in runs),
        "server_cores": med(r.server_cpu_s / r.seconds for r in runs),
        "db_cores": med(r.db_cpu_s / r.seconds for r in runs),
        "other_cores": med(r.other_cpu_s / r.seconds for r in runs),
        # CPU cost per completed request: insensitive to what else shares the machine
        "server_ms_per_req": med(1000 * r.server_cpu_s / max(1, r.requests) for r in runs),
        "db_ms_per_req": med(1000 * r.db_cpu_s / max(1, r.requests) for r in runs),
        "client_ms_per_req": med(1000 * r.client_cpu_s / max(1, r.requests) for r in runs),
        "machine_busy": med(r.machine_busy for r in runs),
        "connections_per_request": med(r.connections / max(1, r.requests) for r in runs),
    }


def markdown_table(reports: list[dict]) -> str:
    lines = [
        "| engine | scenario | req/s | p50 ms | p90 ms | p99 ms | errors (non-2xx) "
        "| req/s of the 3 runs | CPU ms/req: gunicorn / postgres / load gen "
        "| cores used: gunicorn / postgres / load gen / other jobs |",
        "|---|---|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for report in reports:
        for scenario, runs in report["results"].items():
            s = summarize(runs)
            lines.append(
                f"| {report['engine']} | {SCENARIO_LABELS[scenario]} | {s['rps']:.1f} "
                f"| {s['p50']:.1f} | {s['p90']:.1f} | {s['p99']:.1f} "
                f"| {s['errors']} ({s['non_2xx']}) | {', '.join(map(str, s['rps_runs']))} "
                f"| {s['server_ms_per_req']:.1f} / {s['db_ms_per_req']:.1f} / "
                f"{s['client_ms_per_req']:.2f} "
                f"| {s['server_cores']:.2f} / {s['db_cores']:.2f} / {s['client_cores']:.2f} / "
                f"{s['other_cores']:.2f} |")
    return "\n".join(lines)


def wait_for_idle(limit: float, idle_share: float = 0.9) -> None:
    """Wait (at most `limit` s) until the machine is mostly idle over a 1-s window.

    The bench shares its cores with whatever else runs on the box; this lowers, but does
    not remove, the noise. Every run reports the CPU other jobs used while it ran.
    """
    from bench.http.load import _machine_ticks

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        busy0, total0 = _machine_ticks()
        time.sleep(1.0)
        busy1, total1 = _machine_ticks()
        if total1 > total0 and 1 - (busy1 - busy0) / (total1 - total0) >= idle_share:
            return
    if limit > 0:
        _log(f"machine still busy after waiting {limit:g} s: running anyway")


def argon2_cost(samples: int = 5) -> dict:
    """CPU and wall time of one argon2id hash at library defaults (as registration does)."""
    from argon2 import PasswordHasher

    hasher = PasswordHasher()
    cpu, wall = [], []
    for _ in range(samples):
        c0, w0 = time.process_time(), time.perf_counter()
        hasher.hash(REGISTRATION_PASSWORD)
        cpu.append((time.process_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
    return {"params": f"t={hasher.time_cost}, m={hasher.memory_cost} KiB, "
                      f"p={hasher.parallelism}",
            "cpu_ms": statistics.median(cpu), "wall_ms": statistics.median(wall)}


def machine_info() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    mem_kib = next(int(line.split()[1]) for line in open("/proc/meminfo")
                   if line.startswith("MemTotal"))
    info = {"nproc": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem_kib / 2**20, 1),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    try:
        import psycopg

        with psycopg.connect(PG_DSN) as conn:
            info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
    except Exception as exc:  # noqa: BLE001 - informational only
        info["postgresql"] = f"unavailable ({type(exc).__name__})"
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="duration of each of the 3 runs per scenario")
    parser.add_argument("--max-requests", type=int, default=200_000,
                        help="request budget per run (shared by the clients)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help="comma-separated subset of " + ",".join(SCENARIOS))
    parser.add_argument("--idle-wait", type=float, default=0.0,
                        help="before each run, wait up to this many seconds for the machine "
                             "to be >= 90%% idle (shared machines)")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")

    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    info = machine_info()
    _log(f"machine: {info}")
    argon2 = argon2_cost()
    _log(f"argon2id at library defaults ({argon2['params']}): one hash = "
         f"{argon2['cpu_ms']:.0f} ms CPU, {argon2['wall_ms']:.0f} ms wall (median of 5)")
    started = time.perf_counter()
    reports = [bench_engine(engine, args) for engine in engines]
    total = time.perf_counter() - started

    print(f"\nMachine: {info['nproc']} CPUs ({info['cpu']}), {info['ram_gib']} GiB RAM, "
          f"Python {info['python']}, SQLite {info['sqlite']}, PostgreSQL {info['postgresql']}")
    print(f"argon2id ({argon2['params']}): {argon2['cpu_ms']:.0f} ms CPU / "
          f"{argon2['wall_ms']:.0f} ms wall per hash")
    print(f"{args.clients} clients, {RUNS} runs x {args.seconds:g} s per scenario "
          f"(medians of the runs); total {total:.0f} s\n")
    print(markdown_table(reports))
    for report in reports:
        for scenario, runs in report["results"].items():
            s = summarize(runs)
            print(f"\n{report['engine']} {scenario}: statuses {s['statuses']}, "
                  f"exceptions {s['exceptions']}, 'database is locked' in server log: "
                  f"{report['lock_errors'][scenario]}, TCP connections per request "
                  f"{s['connections_per_request']:.2f}")
    if args.json:
        args.json.write_text(json.dumps({
            "machine": info, "argon2": argon2, "args": {"clients": args.clients, "seconds": args.seconds,
                                      "runs": RUNS},
            "total_seconds": total,
            "engines": [{"engine": r["engine"], "lock_errors": r["lock_errors"],
                         "scenarios": {name: summarize(runs)
                                       for name, runs in r["results"].items()}}
                        for r in reports],
        }, indent=2, ensure_ascii=False))
    failed = any(summarize(runs)["errors"] for r in reports for runs in r["results"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
