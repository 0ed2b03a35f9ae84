"""Scheduled time-bank jobs: nightly ledger audit and checkpoint, optional expiry."""
from __future__ import annotations

import logging

from volunteer_hub.scheduler import Job

log = logging.getLogger(__name__)


def verify_ledger_job() -> None:
    """Nightly audit, then a signed checkpoint of the audited ledger (stored, sent to the
    witnesses); a breach is logged as an error and raised so the run counts as failed, and no
    checkpoint seals it."""
    from volunteer_hub.timebank.services import (
        LedgerBreach, audit_ledger, make_checkpoint, report_breaches,
    )

    audit = audit_ledger()
    if not audit.report.ok:
        report_breaches(audit.report)
        raise LedgerBreach(f"{len(audit.report.breaches)} ledger breach(es)")
    checkpoint, _ = make_checkpoint(audit=audit)
    log.info("ledger verified: %d transactions; checkpoint %d", audit.report.transactions_checked,
             checkpoint.size)


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
