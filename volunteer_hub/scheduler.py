"""The scheduler process: `volunteer-hub scheduler` runs every feature's JOBS.

It never starts at import or inside create_app (each gunicorn worker would run every job).
A feature declares `JOBS = [Job(...)]` in its jobs.py; a job function takes no objects,
only ids or nothing, and opens its own transaction. On PostgreSQL each run takes a
transaction-level advisory lock named after the job, so when several scheduler copies run
for availability only one of them acts on each tick.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from importlib import import_module
from importlib.util import find_spec
from typing import Callable

from volunteer_hub.db import db, is_postgresql

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    id: str
    func: Callable[[], object]
    trigger: str  # "cron" or "interval"
    trigger_args: dict = field(default_factory=dict)


def collect_jobs(features) -> list[Job]:
    jobs: list[Job] = []
    for feature in features:
        name = f"volunteer_hub.{feature}.jobs"
        if find_spec(name) is not None:
            jobs.extend(import_module(name).JOBS)
    return jobs


def advisory_key(job_id: str) -> int:
    """A stable signed 64-bit key for pg_try_advisory_xact_lock."""
    return int.from_bytes(hashlib.sha256(job_id.encode()).digest()[:8], "big", signed=True)


def run_exclusively(app, job: Job) -> bool:
    """Run the job unless another scheduler holds its lock; True when it ran here."""
    with app.app_context():
        if is_postgresql():
            with db.engine.connect() as connection:
                with connection.begin():
                    got = connection.execute(db.text("SELECT pg_try_advisory_xact_lock(:k)"),
                                             {"k": advisory_key(job.id)}).scalar()
                    if not got:
                        log.info("job %s is running elsewhere: skipped", job.id)
                        return False
                    _run(job)
                    return True
        _run(job)
        return True


def _run(job: Job) -> None:
    try:
        job.func()
    except Exception:  # a failing job must not stop the scheduler; it is logged loudly
        log.exception("job %s failed", job.id)
        raise


def build_scheduler(app, jobs: list[Job]):
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = BlockingScheduler(timezone=app.config["BABEL_DEFAULT_TIMEZONE"])
    for job in jobs:
        scheduler.add_job(run_exclusively, job.trigger, args=(app, job), id=job.id,
                          coalesce=True, max_instances=1, misfire_grace_time=300,
                          **job.trigger_args)
    return scheduler
