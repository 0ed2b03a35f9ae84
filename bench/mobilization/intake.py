"""Answer intake over HTTP: `POST /api/v1/emergency/respond/<token>` as many phones answering.

    python -m bench.mobilization.intake [--setup] [--members 60000] [--repeat 3]
        [--clients 16] [--seconds 10] [--workers 2] [--threads 4] [--client asyncio|threads]
        [--server granian|gunicorn]

granian serves the app as `make run` does (`--workers` processes, `--threads` blocking
threads each); `--server gunicorn` for comparison (`--threads N` > 0 makes them gthread
workers with keep-alive, 0 keeps sync workers). The closed-loop clients post
{"answer": "coming", "eta_minutes": 15}, every request with a different responder's signed
link, without an Idempotency-Key. The plan has 5 seats, so after the first few answers no
re-plan runs: the steady state of a large call-out. The first 200 answers (those re-plans
included) are sent before the timed runs and not counted.

Honest by construction: real HTTP/1.1 over loopback, one request at a time per connection;
latencies are taken by the client from writing the request to reading the whole response;
after every run the history rows written are counted in the database and must equal the 200s
received. The client runs on the same cores as the server, so its CPU is reported too.

`--client asyncio` (default) drives all connections from one event loop over raw sockets (the
request bytes are built in advance; the response is read by its Content-Length); `--client
threads` uses bench/http's http.client threads, the generator of the first measurements.

`--setup` builds the scene in VOLUNTEER_HUB_BENCH_DATABASE_URL (default vh_intake_bench,
emptied): the street and members of bench/mobilization/run.py and one activation. Without
it, the last activation is reused and its answers are cleared before the runs.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select, text

from bench.http.load import RunResult, _cpu_ticks, _machine_ticks, merge_parts, run_load
from bench.http.run import Gunicorn, _bin
from bench.mobilization import run as scene
from bench.notify.run import ensure_database

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/vh_intake_bench"
BODY = json.dumps({"answer": "coming", "eta_minutes": 15}).encode()
HOST = "127.0.0.1"
WARM_UP = 200  # answers before the timed runs


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load_average() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


# --- the server ----------------------------------------------------------------------------

class Server(Gunicorn):
    """granian with `workers` processes of `threads` blocking threads; or gunicorn with sync
    workers, gthread workers when threads > 0."""

    def __init__(self, env: dict, log_path: Path, workers: int, threads: int,
                 server: str = "gunicorn"):
        super().__init__(env, log_path)
        self.workers, self.threads, self.server = workers, threads, server

    def command(self) -> list[str]:
        if self.server == "granian":
            return [_bin("granian"), "--interface", "wsgi", "--factory", "--host", HOST,
                    "--port", str(self.port), "--workers", str(self.workers),
                    "--blocking-threads", str(max(1, self.threads)), "--no-ws",
                    "volunteer_hub:create_app"]
        command = [_bin("gunicorn"), "--bind", f"{HOST}:{self.port}",
                   "--workers", str(self.workers)]
        if self.threads:
            command += ["--worker-class", "gthread", "--threads", str(self.threads)]
        return command + ["volunteer_hub:create_app()"]


# --- the asyncio raw-socket client ---------------------------------------------------------

def raw_request(port: int, token: str) -> bytes:
    return (f"POST /api/v1/emergency/respond/{token} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            f"Content-Type: application/json\r\nAccept: application/json\r\n"
            f"Content-Length: {len(BODY)}\r\n\r\n").encode() + BODY


async def _exchange(reader, writer, payload: bytes) -> tuple[int, bytes, bool]:
    """One request and its whole response: (status, body, server keeps the connection)."""
    writer.write(payload)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    keep = headers.get("connection", "").lower() != "close"
    return status, body, keep


async def _client(port: int, requests: list[bytes], deadline: float, part: dict) -> None:
    reader = writer = None
    for payload in requests:
        if time.perf_counter() >= deadline:
            break
        started = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(HOST, port)
                part["connections"] += 1
            status, body, keep = await _exchange(reader, writer, payload)
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            part["exceptions"][type(error).__name__] += 1
            if writer is not None:
                writer.close()
            reader = writer = None
            continue
        part["latencies"].append((time.perf_counter() - started) * 1000)
        part["statuses"][status] += 1
        if status != 200:
            part["samples"].setdefault(status, body[:500].decode("utf-8", "replace"))
        if not keep:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


def run_asyncio(port: int, tokens: list[str], *, clients: int, seconds: float,
                server_pids, db_pids=list) -> RunResult:
    """`clients` concurrent connections from one event loop; same RunResult as run_load."""
    per_client = len(tokens) // clients
    batches = [[raw_request(port, t) for t in tokens[i * per_client:(i + 1) * per_client]]
               for i in range(clients)]
    parts = [{"latencies": [], "statuses": Counter(), "exceptions": Counter(), "samples": {},
              "connections": 0} for _ in range(clients)]

    async def main() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(_client(port, batch, deadline, part)
                               for batch, part in zip(batches, parts)))

    pids, backends = server_pids(), db_pids()
    server0, db0 = _cpu_ticks(pids), _cpu_ticks(backends)
    client0, machine0 = time.process_time(), _machine_ticks()
    started = time.perf_counter()
    asyncio.run(main())
    result = RunResult(scenario="intake", clients=clients, seconds=time.perf_counter() - started,
                       requests=0, successes=0, latencies_ms=[],
                       client_cpu_s=time.process_time() - client0,
                       server_cpu_s=_cpu_ticks(pids) - server0,
                       # backends opened during the run count whole: they started in it
                       db_cpu_s=_cpu_ticks(db_pids()) - db0)
    return merge_parts(result, parts, machine0, _machine_ticks())


def run_threads(port: int, tokens: list[str], *, clients: int, seconds: float,
                server_pids, db_pids=list) -> RunResult:
    queue = iter(tokens)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}

    def make_request():
        return "POST", f"/api/v1/emergency/respond/{next(queue)}", BODY, headers

    return run_load("intake", port, make_request, clients=clients, seconds=seconds,
                    max_requests=len(tokens), expected_status=200, server_pids=server_pids,
                    db_pids=db_pids)


# --- the scene -----------------------------------------------------------------------------

def setup(db, members: int) -> None:
    scene.reset(db)
    started = time.perf_counter()
    plan = scene.build_street(db, members)
    log(f"{members:,} members created in {time.perf_counter() - started:.0f} s")
    seconds, responders, _ = scene.bench_fanout(db, plan)
    log(f"activation: {responders:,} responders in {seconds:.1f} s")


def clear_answers(db) -> None:
    """Every responder unanswered and unseated again, no history: each run answers afresh."""
    db.session.execute(text("DELETE FROM emergency_response_changes"))
    db.session.execute(text(
        "UPDATE emergency_responders SET answer = 'none', eta_minutes = NULL, "
        "answered_at = NULL, first_answered_at = NULL, answer_channel = NULL, role_id = NULL, "
        "assembly_point = NULL, assigned_at = NULL WHERE answer <> 'none' OR role_id IS NOT NULL"))
    db.session.commit()


def backend_pids(db) -> list[int]:
    """The PostgreSQL backends serving this database, but for this process's own."""
    db.session.rollback()
    pids = db.session.execute(text(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()")).scalars().all()
    db.session.rollback()
    return list(pids)


def written(db) -> int:
    from volunteer_hub.emergency.models import ResponseChange

    db.session.rollback()
    return db.session.execute(select(func.count(ResponseChange.id))).scalar_one()


# --- the runs ------------------------------------------------------------------------------

def cpu_ms(result: RunResult) -> float:
    return 1000 * result.server_cpu_s / max(1, result.successes)


def describe(result: RunResult, load: str) -> str:
    return (f"{result.rps:,.0f} answers/s, p50 {result.percentile(50):.1f} ms, "
            f"p99 {result.percentile(99):.1f} ms, server CPU {cpu_ms(result):.2f} ms/answer, "
            f"PostgreSQL CPU {1000 * result.db_cpu_s / max(1, result.successes):.2f} ms/answer, "
            f"client CPU {1000 * result.client_cpu_s / max(1, result.requests):.2f} ms/request, "
            f"machine busy {result.machine_busy:.0%}, connections {result.connections}, "
            f"statuses {dict(result.statuses)} {dict(result.exceptions)} "
            f"{list(result.error_samples.values())[:1]} [load {load}]")


def bench_intake(url: str, all_tokens: list[str], *, clients: int = 16, seconds: float = 10,
                 runs: int = 3, workers: int = 2, threads: int = 4,
                 client: str = "asyncio", server_kind: str = "granian") -> list[RunResult]:
    """`runs` runs against one gunicorn, each with its share of the tokens; inside an app
    context of the bench database (the written answers are counted there)."""
    from volunteer_hub.db import db

    runner = run_asyncio if client == "asyncio" else run_threads
    warm_up, all_tokens = all_tokens[:WARM_UP], all_tokens[WARM_UP:]
    share = len(all_tokens) // runs
    results = []
    with tempfile.TemporaryDirectory(prefix="vh-bench-intake-") as tmp:
        server = Server(scene.environment(url), Path(tmp) / "server.log", workers, threads,
                        server_kind)
        server.start()
        try:
            # Untimed: the first answers fill the seats through re-plans; then the steady state.
            started = run_asyncio(server.port, warm_up, clients=4, seconds=60,
                                  server_pids=server.pids)
            log(f"warm-up: {describe(started, load_average())}")
            for number in range(runs):
                before, load = written(db), load_average()
                result = runner(server.port, all_tokens[number * share:(number + 1) * share],
                                clients=clients, seconds=seconds,
                                server_pids=server.pids, db_pids=lambda: backend_pids(db))
                rows = written(db) - before
                log(f"run {number + 1}: {describe(result, load)}; history rows written {rows:,}")
                if rows != result.successes:
                    raise SystemExit(f"{rows} answers in the database, "
                                     f"{result.successes} 200s received")
                results.append(result)
        finally:
            server.stop()
    return results


def summary(results: list[RunResult], args) -> str:
    median = statistics.median
    return (f"intake ({args.server}, {args.workers} workers, threads {args.threads}, {args.clients} "
            f"{args.client} clients): answers/s "
            f"{' / '.join(f'{r.rps:,.0f}' for r in results)} (median "
            f"{median(r.rps for r in results):,.0f}); p50 ms "
            f"{median(r.percentile(50) for r in results):.1f}; p99 ms "
            f"{' / '.join(f'{r.percentile(99):.1f}' for r in results)} (median "
            f"{median(r.percentile(99) for r in results):.1f}); server CPU ms/answer "
            f"{median(cpu_ms(r) for r in results):.2f}; PostgreSQL CPU ms/answer "
            f"{median(1000 * r.db_cpu_s / max(1, r.successes) for r in results):.2f}; "
            f"client CPU ms/request "
            f"{median(1000 * r.client_cpu_s / max(1, r.requests) for r in results):.2f}")


def add_options(parser: argparse.ArgumentParser) -> None:
    """The intake options, shared with bench/mobilization/run.py."""
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--client", choices=("asyncio", "threads"), default="asyncio")
    parser.add_argument("--server", choices=("granian", "gunicorn"), default="granian")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--setup", action="store_true")
    parser.add_argument("--members", type=int, default=60_000)
    add_options(parser)
    args = parser.parse_args()
    url = os.environ.get("VOLUNTEER_HUB_BENCH_DATABASE_URL", DEFAULT_URL)
    ensure_database(url)
    from volunteer_hub import create_app
    from volunteer_hub.db import db

    app = create_app(scene.config(url))
    with app.app_context():
        if args.setup:
            setup(db, args.members)
        clear_answers(db)
        all_tokens = scene.tokens(db)
        db.session.rollback()
        results = bench_intake(url, all_tokens, clients=args.clients, seconds=args.seconds,
                               runs=args.repeat, workers=args.workers, threads=args.threads,
                               client=args.client, server_kind=args.server)
    print(summary(results, args), flush=True)


if __name__ == "__main__":
    main()
