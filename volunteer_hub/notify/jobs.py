"""Scheduled notify jobs (run by `volunteer-hub scheduler`)."""
from __future__ import annotations

from volunteer_hub.db import transaction
from volunteer_hub.scheduler import Job


def expire_unacknowledged() -> None:
    """Send the next channel for messages whose delivery receipt did not come in time."""
    from volunteer_hub.notify.services import expire_unacknowledged as expire

    with transaction():
        expire()


JOBS = [Job("notify.expire_unacknowledged", expire_unacknowledged, "interval",
            {"seconds": 60})]
