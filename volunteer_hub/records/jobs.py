"""Scheduled record jobs: flag missing check-outs (never guess them); deadline reminders."""
from __future__ import annotations

from volunteer_hub.scheduler import Job


def flag_missing_checkouts_job() -> None:
    from volunteer_hub.db import transaction
    from volunteer_hub.records.services import flag_missing_checkouts

    with transaction():
        flag_missing_checkouts()


def remind_deadlines_job() -> None:
    """Each morning (China's working days only): recording deadlines coming up."""
    from volunteer_hub.db import transaction
    from volunteer_hub.records.services import remind_deadlines

    with transaction():
        remind_deadlines()


JOBS = [Job("records.flag_missing_checkouts", flag_missing_checkouts_job, "interval",
            {"minutes": 30}),
        Job("records.remind_deadlines", remind_deadlines_job, "cron",
            {"hour": 9, "minute": 0})]
