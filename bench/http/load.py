"""A small closed-loop load generator: N threads, one http.client connection each.

Each client sends its next request as soon as the previous response is fully read, until
the time budget or its share of the request budget runs out. Only 127.0.0.1 is allowed.
"""
from __future__ import annotations

import http.client
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

# A request factory returns (method, path, body bytes or None, extra headers).
RequestFactory = Callable[[], tuple[str, str, bytes | None, dict]]

HOST = "127.0.0.1"


@dataclass
class RunResult:
    scenario: str
    clients: int
    seconds: float                      # wall time from start to the last client's stop
    requests: int                       # responses received (any status)
    successes: int                      # responses with the expected status
    latencies_ms: list[float]           # of every completed response (any status)
    statuses: Counter = field(default_factory=Counter)
    exceptions: Counter = field(default_factory=Counter)
    error_samples: dict = field(default_factory=dict)   # status -> first body seen
    connections: int = 0                # TCP connections opened by the clients
    client_cpu_s: float = 0.0           # CPU used by this (load generator) process
    server_cpu_s: float = 0.0           # CPU used by gunicorn master + workers
    db_cpu_s: float = 0.0               # CPU used by this database's PostgreSQL backends
    machine_cpu_s: float = 0.0          # CPU used by everything on the machine
    machine_busy: float = 0.0           # share of all cores busy during the run (0..1)

    @property
    def other_cpu_s(self) -> float:
        """CPU of processes that are not part of this bench (other jobs on the box)."""
        return max(0.0, self.machine_cpu_s - self.server_cpu_s - self.db_cpu_s
                   - self.client_cpu_s)

    @property
    def errors(self) -> int:
        """Everything that was not the expected status, including transport failures."""
        return self.requests - self.successes + sum(self.exceptions.values())

    @property
    def non_2xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    @property
    def rps(self) -> float:
        return self.successes / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        return percentile(sorted(self.latencies_ms), q)


def percentile(ordered: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), q in 0..100."""
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _cpu_ticks(pids: list[int]) -> float:
    """utime + stime in seconds of the given processes (missing ones count 0)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs from /proc/stat."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return total - idle, total


def run_load(scenario: str, port: int, make_request: RequestFactory, *, clients: int,
             seconds: float, max_requests: int, expected_status: int,
             server_pids: Callable[[], list[int]],
             db_pids: Callable[[], list[int]] = list) -> RunResult:
    """Drive `clients` threads against 127.0.0.1:port and collect latencies."""
    per_client = max(1, max_requests // clients)
    deadline_box: list[float] = []
    start_barrier = threading.Barrier(clients + 1)
    results: list[dict] = [None] * clients  # type: ignore[list-item]

    def client(index: int) -> None:
        latencies: list[float] = []
        statuses: Counter = Counter()
        exceptions: Counter = Counter()
        samples: dict = {}
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        connections = 0
        sent = 0
        start_barrier.wait()
        deadline = deadline_box[0]
        try:
            while sent < per_client and time.perf_counter() < deadline:
                method, path, body, headers = make_request()
                sent += 1
                t0 = time.perf_counter()
                try:
                    if conn.sock is None:
                        connections += 1
                    conn.request(method, path, body=body, headers=headers)
                    response = conn.getresponse()
                    payload = response.read()
                except (OSError, http.client.HTTPException) as exc:
                    exceptions[type(exc).__name__] += 1
                    conn.close()
                    continue
                latencies.append((time.perf_counter() - t0) * 1000)
                statuses[response.status] += 1
                if response.status != expected_status and response.status not in samples:
                    samples[response.status] = payload[:500].decode("utf-8", "replace")
        finally:
            conn.close()
            results[index] = {"latencies": latencies, "statuses": statuses,
                              "exceptions": exceptions, "samples": samples,
                              "connections": connections}

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    pids, backends = server_pids(), db_pids()
    server_cpu0, db_cpu0 = _cpu_ticks(pids), _cpu_ticks(backends)
    client_cpu0, machine0 = time.process_time(), _machine_ticks()
    t_start = time.perf_counter()
    deadline_box.append(t_start + seconds)
    start_barrier.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - t_start
    machine1 = _machine_ticks()
    client_cpu = time.process_time() - client_cpu0
    server_cpu = _cpu_ticks(pids) - server_cpu0
    db_cpu = _cpu_ticks(backends) - db_cpu0

    merged = RunResult(scenario=scenario, clients=clients, seconds=elapsed, requests=0,
                       successes=0, latencies_ms=[], client_cpu_s=client_cpu,
                       server_cpu_s=server_cpu, db_cpu_s=db_cpu)
    return merge_parts(merged, results, machine0, machine1, expected_status)


def merge_parts(result: RunResult, parts: list[dict], machine0, machine1,
                expected_status: int = 200) -> RunResult:
    """Fold the clients' parts (latencies, statuses, ...) and the machine's CPU ticks over
    the run into `result`."""
    busy, total = machine1[0] - machine0[0], machine1[1] - machine0[1]
    result.machine_cpu_s = busy / os.sysconf("SC_CLK_TCK")
    result.machine_busy = busy / total if total else 0.0
    for part in parts:
        result.latencies_ms.extend(part["latencies"])
        result.statuses.update(part["statuses"])
        result.exceptions.update(part["exceptions"])
        result.connections += part["connections"]
        for status, body in part["samples"].items():
            result.error_samples.setdefault(status, body)
    result.requests = sum(result.statuses.values())
    result.successes = result.statuses.get(expected_status, 0)
    return result
