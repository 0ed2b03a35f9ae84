"""Scheduled matching: every night, propose volunteers for the next 7 days."""
from __future__ import annotations

import logging
import time
from datetime import timedelta

from sqlalchemy import exists, select, true

from volunteer_hub.db import db, transaction
from volunteer_hub.scheduler import Job

log = logging.getLogger(__name__)

HORIZON_DAYS = 7


def communities_with_open_slots(first, stop) -> list[int]:
    """Communities with a matchable open slot in [first, stop): the others need no run.
    A slot holding last night's proposal counts: the new run replaces that proposal."""
    from volunteer_hub.matching import loading
    from volunteer_hub.matching.models import ACTIVE_STATES
    from volunteer_hub.orgs.models import Org

    committed = tuple(s for s in ACTIVE_STATES if s != "proposed")
    slots = loading.matchable_slots_query(true(), first, stop, taken_states=committed).subquery()
    return db.session.execute(
        select(Org.id).where(Org.level == "community",
                             exists().where(slots.c.org_path.startswith(Org.path)))
        .order_by(Org.id)).scalars().all()


def nightly_matching() -> list[int]:
    """One run per community with open slots, each persisted in its own transaction (one
    failure stops no other). The slots and the volunteers of all those communities are
    loaded once, so each volunteer is read at most once a night."""
    from volunteer_hub.matching import loading, services
    from volunteer_hub.matching.models import MatchingRun
    from volunteer_hub.needs.services import local_now, local_today
    from volunteer_hub.orgs.models import Org

    began = time.perf_counter()
    start = local_today()
    end = start + timedelta(days=HORIZON_DAYS - 1)
    first, stop = services.slot_window(start, end)
    runs = []
    with transaction():
        for community_id in communities_with_open_slots(first, stop):
            org = db.session.get(Org, community_id)
            run = services.new_run(org, start, end, by=None, kind="nightly")
            withdrawn = services.withdraw_proposals(org.path, start, end,
                                                    f"superseded by matching run {run.id}")
            runs.append((run.id, org.path, withdrawn))
    if not runs:
        return []
    slots, slot_paths = loading.load_slot_rows(true(), first, stop)
    pool = loading.load_pool(_pool_of(run_ids=[r for r, _, _ in runs]), today=start, now=local_now())
    vocabulary = pool.vocabulary()
    loading_seconds = (time.perf_counter() - began) / len(runs)
    run_ids = []
    for run_id, path, withdrawn in runs:
        try:
            with transaction():
                run = db.session.get(MatchingRun, run_id)
                keep = loading.in_subtree(pool.paths, path)
                vols = pool.table(keep, vocabulary) if keep.any() else None
                mine = [s for s, p in zip(slots, slot_paths) if p.startswith(path)]
                services.match_into(run, mine, vols, services.weights_for(run.org),
                                    withdrawn=withdrawn, loading_seconds=loading_seconds)
                run_ids.append(run.id)
        except Exception:  # logged; the other communities still get their run
            log.exception("nightly matching failed for run %s", run_id)
    return run_ids


def _pool_of(run_ids):
    """Active volunteers homed in the communities of these runs."""
    from volunteer_hub.matching.models import MatchingRun
    from volunteer_hub.volunteers.models import Volunteer

    # A volunteer's community_id is the community of their home node: an indexed test
    # instead of a path prefix per (volunteer, community).
    return select(Volunteer.id).where(
        Volunteer.status == "active",
        Volunteer.community_id.in_(select(MatchingRun.org_id).where(MatchingRun.id.in_(run_ids))))


JOBS = [Job(id="matching.nightly", func=nightly_matching, trigger="cron",
            trigger_args={"hour": 2, "minute": 30})]
