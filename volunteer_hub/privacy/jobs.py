"""The nightly retention run (run by `volunteer-hub scheduler`)."""
from __future__ import annotations

from volunteer_hub.db import transaction
from volunteer_hub.scheduler import Job


def apply_retention() -> None:
    """Apply every retention rule and store what it did."""
    from volunteer_hub.privacy.retention import run_retention

    with transaction():
        run_retention(trigger="scheduler")


JOBS = [Job("privacy.retention", apply_retention, "cron", {"hour": 3, "minute": 17})]
