"""The ledger core measured inside one process, on a database bench.ledger.run generated:

    python -m bench.ledger.core --runs 3 --append 10000 --proofs 200   (env: the app's settings)

1. the first checkpoint (a full audit, then the tree store written): a one-off per deployment;
2. `runs` times, alternating: today's verify (volunteer_hub/timebank/ledger.py and the
   verify query of commit BEFORE, loaded from git, with the same balance and policy checks
   services.verify_ledger made there) and the new audit (services.audit_ledger: the same
   checks plus every MAC, the Merkle tree and every stored checkpoint's consistency);
3. `runs` times: `append` more MINTs written like bench.ledger.run's (chain, MACs), then a
   checkpoint (services.make_checkpoint: the new rows checked and hashed, tree store
   extended, signed, stored);
4. `proofs` inclusion proofs of random transactions against the latest checkpoint, each from
   a freshly opened tree store, checked with merkle.verify_inclusion.
Prints one JSON object.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BEFORE = "b10f656"  # the last commit before issue 14's ledger changes
ROOT = Path(__file__).resolve().parents[2]


def load_ledger_before():
    source = subprocess.run(["git", "show", f"{BEFORE}:volunteer_hub/timebank/ledger.py"],
                            cwd=ROOT, check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp(prefix="vh-ledger-before-")) / "ledger_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("ledger_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["ledger_before"] = module
    spec.loader.exec_module(module)
    return module


def verify_before(ledger_before):
    """services.verify_ledger as it was at BEFORE, with that commit's ledger module."""
    from sqlalchemy import select

    from volunteer_hub.db import db
    from volunteer_hub.timebank import ledger, services
    from volunteer_hub.timebank.models import Account, LedgerHead

    services._begin_consistent_snapshot()
    connection = db.session.connection()
    accounts = {account_id: (kind, owner) for account_id, kind, owner in connection.execute(
        select(Account.id, Account.kind, Account.owner_id))}
    head = connection.execute(select(LedgerHead.hash).where(
        LedgerHead.id == services.HEAD_ID)).first()
    driver = connection.connection.driver_connection
    sql = services._transactions_sql().replace(", mac_key_id, mac", "")
    with services._stream(driver, sql, 20_000, "before_transactions") as rows, \
            services._stream(driver, services.POSTINGS_SQL, 20_000, "before_postings") as postings:
        report = ledger_before.verify_rows(rows, postings, accounts,
                                           expected_head=head[0] if head else None)
    # balances and policy: functions this issue did not change (and the current Balance type)
    cached = services._cached_balances()
    ledger.compare_balances(report, services._balances_from_postings(accounts), cached)
    report.breaches.extend(ledger.check_invariants(cached, services.policy()))
    return report


def timed(function):
    from volunteer_hub.db import db

    started = time.perf_counter()
    result = function()
    elapsed = time.perf_counter() - started
    db.session.rollback()
    db.session.remove()
    return elapsed, result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--append", type=int, default=10_000)
    parser.add_argument("--proofs", type=int, default=200)
    parser.add_argument("--url", required=True)
    args = parser.parse_args(argv)

    from volunteer_hub import create_app
    from volunteer_hub.timebank import checkpoints, merkle, services
    from volunteer_hub.timebank.tree_store import FileTree

    from bench.ledger.run import append_mints

    app = create_app()
    out: dict = {"before": BEFORE}
    with app.app_context():
        seconds, (checkpoint, _) = timed(lambda: services.make_checkpoint(full=True))
        out["first_checkpoint_s"] = seconds
        out["first_checkpoint_size"] = checkpoint.size
        ledger_before = load_ledger_before()
        out["verify_before_s"], out["verify_after_s"] = [], []
        for _ in range(args.runs):
            seconds, report = timed(lambda: verify_before(ledger_before))
            assert report.ok, report.breaches[:3]
            out["verify_before_s"].append(seconds)
            seconds, audit = timed(services.audit_ledger)
            assert audit.report.ok, audit.report.breaches[:3]
            out["verify_after_s"].append(seconds)
            out["transactions"] = audit.report.transactions_checked
            out["postings"] = audit.report.postings_checked
            del audit
        out["checkpoint_s"], out["appended"] = [], args.append
        for _ in range(args.runs):
            append_mints(args.url, args.append, app)
            seconds, (checkpoint, _) = timed(services.make_checkpoint)
            out["checkpoint_s"].append(seconds)
        out["checkpoint_size"] = checkpoint.size
        folder = checkpoints.directory(app) / "tree"
        rng = random.Random(14)
        proof_ms = []
        for _ in range(args.proofs):
            index = rng.randrange(checkpoint.size)
            started = time.perf_counter()
            tree = FileTree(folder)
            proof = tree.inclusion_proof(index, checkpoint.size)
            leaf = tree.complete_node(0, index)
            tree.close()
            ok = merkle.verify_inclusion(leaf, index, checkpoint.size, proof, checkpoint.root)
            proof_ms.append((time.perf_counter() - started) * 1000)
            assert ok
        out["proof_ms_median"] = statistics.median(proof_ms)
        out["proof_ms_max"] = max(proof_ms)
        seconds, audit = timed(services.audit_ledger)
        out["final_verify_ok"] = audit.report.ok
        out["final_verify_transactions"] = audit.report.transactions_checked
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
