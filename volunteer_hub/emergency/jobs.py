"""Scheduled emergency jobs: the escalation ladder, checked every minute."""
from __future__ import annotations

from volunteer_hub.scheduler import Job


def escalation_job() -> None:
    from volunteer_hub.db import transaction
    from volunteer_hub.emergency.escalation import escalate_due

    with transaction():
        escalate_due()


JOBS = [Job("emergency.escalation", escalation_job, "interval", {"minutes": 1})]
