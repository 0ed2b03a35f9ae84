"""Scheduled record jobs: flag missing check-outs (never guess them)."""
from __future__ import annotations

from volunteer_hub.scheduler import Job


def flag_missing_checkouts_job() -> None:
    from volunteer_hub.db import transaction
    from volunteer_hub.records.services import flag_missing_checkouts

    with transaction():
        flag_missing_checkouts()


JOBS = [Job("records.flag_missing_checkouts", flag_missing_checkouts_job, "interval",
            {"minutes": 30})]
