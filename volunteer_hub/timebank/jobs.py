"""Scheduled time-bank jobs: nightly ledger audit, optional expiry."""
from __future__ import annotations

import logging

from volunteer_hub.scheduler import Job

log = logging.getLogger(__name__)


def verify_ledger_job() -> None:
    """Nightly audit; a breach is logged as an error and raised so the run counts as failed."""
    from volunteer_hub.timebank.services import LedgerBreach, report_breaches, verify_ledger

    report = verify_ledger()
    if not report.ok:
        report_breaches(report)
        raise LedgerBreach(f"{len(report.breaches)} ledger breach(es)")
    log.info("ledger verified: %d transactions", report.transactions_checked)


def expire_job() -> None:
    """Expire credit older than TIMEBANK_EXPIRY_DAYS (default none: does nothing)."""
    from volunteer_hub.timebank.services import expire_balances, run_in_transaction

    count = run_in_transaction(expire_balances)
    if count:
        log.info("expired credit on %d accounts", count)


JOBS = [
    Job("timebank.verify_ledger", verify_ledger_job, "cron", {"hour": 2, "minute": 30}),
    Job("timebank.expire", expire_job, "cron", {"hour": 3, "minute": 0}),
]
