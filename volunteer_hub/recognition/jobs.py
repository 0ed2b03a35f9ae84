"""Scheduled recognition jobs: open star-level notices (公示) as hours reach a threshold."""
from __future__ import annotations

import logging

from volunteer_hub.scheduler import Job

log = logging.getLogger(__name__)


def star_notices_job() -> None:
    from volunteer_hub.db import transaction
    from volunteer_hub.recognition.stars import refresh_star_notices

    with transaction():
        opened = refresh_star_notices()
    if opened:
        log.info("opened %d star level notice(s)", opened)


JOBS = [Job("recognition.star_notices", star_notices_job, "cron", {"minute": 20})]
