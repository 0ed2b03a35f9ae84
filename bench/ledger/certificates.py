"""Certificate proofs on a large ledger: what a volunteer waits for when downloading a PDF.

    nice -n 10 python -m bench.ledger.certificates --postings 200000 [--engine sqlite]

A fresh database (bench.http.run's helpers) with `--postings` postings written by
bench.ledger.run.generate_ledger, then in one process with the app:
1. the deployment's first checkpoint (full audit + tree store written; the nightly job or
   `volunteer-hub ledger checkpoint` does this once, before any certificate);
2. `--runs` times: `--new` more MINTs appended (hours recorded since the last checkpoint),
   then timebank.proofs.prove(4 of the new MINTs) -- what issuing a certificate does: an
   incremental checkpoint (only the new transactions hashed) and the inclusion paths from
   the tree store. services.audit_ledger is replaced by a function that fails, so a full
   audit on this path would stop the bench;
3. prove() again for the same MINTs: a covering checkpoint is stored, nothing is made.
Prints one JSON line per engine.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from bench.http.run import FIXED_ENV, ROOT, _bin, postgresql_database, sqlite_database


def inner(url: str, runs: int, new: int) -> dict:
    from volunteer_hub import create_app
    from volunteer_hub.db import db
    from volunteer_hub.timebank import proofs, services

    from bench.ledger.run import append_mints

    def timed(function):
        started = time.perf_counter()
        result = function()
        elapsed = time.perf_counter() - started
        db.session.rollback()
        db.session.remove()
        return elapsed, result

    app = create_app()
    out: dict = {}
    with app.app_context():
        out["first_checkpoint_s"], (checkpoint, _) = timed(
            lambda: services.make_checkpoint(full=True))
        out["transactions"] = checkpoint.size

        def refuse(*_args, **_kwargs):
            raise AssertionError("a certificate ran a full audit")

        services.audit_ledger = refuse
        out["new_hours_ms"], out["covered_ms"] = [], []
        for _ in range(runs):
            append_mints(url, new, app)
            last = checkpoint.size + new
            wanted = [last - new + 1, last - new // 2, last - 1, last]
            seconds, (log, entries) = timed(lambda: proofs.prove(wanted))
            assert len(entries) == len(wanted)
            out["new_hours_ms"].append(round(seconds * 1000, 1))
            seconds, _ = timed(lambda: proofs.prove(wanted))
            out["covered_ms"].append(round(seconds * 1000, 1))
            checkpoint = proofs.check_log(log)
        out["new_per_run"] = new
        out["new_hours_ms_median"] = statistics.median(out["new_hours_ms"])
        out["covered_ms_median"] = statistics.median(out["covered_ms"])
    return out


def outer(engine: str, postings: int, runs: int, new: int) -> dict:
    from bench.ledger.run import generate_ledger, ledger_env, loadavg

    database = sqlite_database if engine == "sqlite" else postgresql_database
    with database() as (url, tmp, _pids):
        env = {**os.environ, **FIXED_ENV, **ledger_env(tmp), "VOLUNTEER_HUB_DATABASE_URL": url}
        env.pop("VOLUNTEER_HUB_TEST_DATABASE_URL", None)
        subprocess.run([_bin("volunteer-hub"), "db", "upgrade"], env=env, cwd=ROOT, check=True,
                       capture_output=True, text=True)
        generate_ledger(url, postings)
        load = loadavg()
        done = subprocess.run([sys.executable, "-m", "bench.ledger.certificates", "--inner",
                               "--url", url, "--runs", str(runs), "--new", str(new)],
                              env=env, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-3000:])
        result = json.loads(done.stdout.strip().splitlines()[-1])
        return {"engine": engine, "postings": postings, "loadavg": f"{load} -> {loadavg()}",
                **result}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--postings", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--new", type=int, default=100,
                        help="MINTs recorded between two certificates")
    parser.add_argument("--inner", action="store_true")
    parser.add_argument("--url")
    args = parser.parse_args(argv)
    if args.inner:
        print(json.dumps(inner(args.url, args.runs, args.new)))
    else:
        print(json.dumps(outer(args.engine, args.postings, args.runs, args.new)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
