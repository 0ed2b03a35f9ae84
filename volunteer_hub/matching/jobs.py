"""Scheduled matching: every night, propose volunteers for the next 7 days."""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from volunteer_hub.db import db, transaction
from volunteer_hub.scheduler import Job

log = logging.getLogger(__name__)

HORIZON_DAYS = 7


def nightly_matching() -> list[int]:
    """One run per community, each in its own transaction: one failure stops no other."""
    from volunteer_hub.matching.services import run_matching
    from volunteer_hub.needs.services import local_today
    from volunteer_hub.orgs.models import Org

    start = local_today()
    end = start + timedelta(days=HORIZON_DAYS - 1)
    community_ids = db.session.execute(
        select(Org.id).where(Org.level == "community").order_by(Org.id)).scalars().all()
    run_ids = []
    for community_id in community_ids:
        try:
            with transaction():
                run = run_matching(db.session.get(Org, community_id), start, end, by=None,
                                   kind="nightly")
                run_ids.append(run.id)
        except Exception:  # logged; the other communities still get their run
            log.exception("nightly matching failed for community %s", community_id)
    return run_ids


JOBS = [Job(id="matching.nightly", func=nightly_matching, trigger="cron",
            trigger_args={"hour": 2, "minute": 30})]
