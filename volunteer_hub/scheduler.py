"""The scheduler process: `volunteer-hub scheduler` runs every feature's JOBS.

It never starts at import or inside create_app (each gunicorn worker would run every job).
A feature declares `JOBS = [Job(...)]` in its jobs.py; a job function takes no objects,
only ids or nothing, and opens its own transaction.

Several scheduler copies may run for availability; each tick of each job runs once among
them. A run first records its job's scheduled tick (the trigger's fire time it belongs to,
not the clock's reading) in `scheduler_ticks`, whose (job, tick) is unique: a second
scheduler, even one whose clock is a few seconds off, finds the tick taken and skips it.
Interval triggers are aligned on a fixed origin so that every copy names the same ticks.
On PostgreSQL a transaction-level advisory lock named after the job also keeps a long run
from overlapping the next tick's run elsewhere.
"""
from __future__ import annotations

import hashlib
import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import import_module
from importlib.util import find_spec
from typing import Callable

from sqlalchemy import DateTime, String, UniqueConstraint, delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from volunteer_hub.db import db, is_postgresql, utcnow

log = logging.getLogger(__name__)

MISFIRE_GRACE_SECONDS = 300  # a tick missed by more (scheduler down) is not run late
INTERVAL_ORIGIN = datetime(2026, 1, 1, tzinfo=UTC)  # interval ticks: origin + k * interval
TICKS_KEPT = timedelta(days=7)  # the tick records' history, for operators


@dataclass(frozen=True)
class Job:
    id: str
    func: Callable[[], object]
    trigger: str  # "cron" or "interval"
    trigger_args: dict = field(default_factory=dict)


class SchedulerTick(db.Model):
    """One job's scheduled tick, taken by the scheduler that ran it."""

    __tablename__ = "scheduler_ticks"
    __table_args__ = (UniqueConstraint("job_id", "tick_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(100))
    tick_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # UTC
    runner: Mapped[str] = mapped_column(String(100))  # host:pid of the scheduler
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(10))  # running, ok, failed


ticks = SchedulerTick.__table__


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


def build_trigger(job: Job, timezone: str):
    """The APScheduler trigger of a job; interval ticks fall on a fixed origin's multiples."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if job.trigger == "interval":
        return IntervalTrigger(timezone=timezone, **{"start_date": INTERVAL_ORIGIN,
                                                     **job.trigger_args})
    return CronTrigger(timezone=timezone, **job.trigger_args)


def scheduled_tick(trigger, now: datetime) -> datetime | None:
    """The trigger's latest fire time at or before `now`: the tick a scheduler woken at
    `now` by that trigger is running (None when no tick is due within the grace time)."""
    fire = trigger.get_next_fire_time(None, now - timedelta(seconds=MISFIRE_GRACE_SECONDS))
    latest = None
    while fire is not None and fire <= now:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return latest


def run_exclusively(app, job: Job, trigger, now: datetime | None = None) -> bool:
    """Run the job's current tick unless another scheduler runs or ran it; True when it
    ran here."""
    with app.app_context():
        tick = scheduled_tick(trigger, now or datetime.now(UTC))
        if tick is None:
            log.warning("job %s woke with no tick due: skipped", job.id)
            return False
        if not is_postgresql():
            return _run_tick(job, tick)
        with db.engine.connect() as connection:
            with connection.begin():
                got = connection.execute(db.text("SELECT pg_try_advisory_xact_lock(:k)"),
                                         {"k": advisory_key(job.id)}).scalar()
                if not got:
                    log.info("job %s is running elsewhere: skipped", job.id)
                    return False
                return _run_tick(job, tick)


def _run_tick(job: Job, tick: datetime) -> bool:
    if not _take_tick(job.id, tick):
        log.info("job %s: tick %s already ran elsewhere: skipped", job.id, tick.isoformat())
        return False
    try:
        job.func()
    except Exception:  # a failing job must not stop the scheduler; it is logged loudly
        log.exception("job %s failed", job.id)
        _finish_tick(job.id, tick, "failed")
        raise
    _finish_tick(job.id, tick, "ok")
    return True


_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def _take_tick(job_id: str, tick: datetime) -> bool:
    """Record the tick, committed before the job runs; False when it was recorded already."""
    tick = tick.astimezone(UTC)
    insert = _INSERT[db.engine.dialect.name](ticks).values(
        job_id=job_id, tick_at=tick, runner=f"{socket.gethostname()}:{os.getpid()}"[:100],
        started_at=utcnow(), outcome="running").on_conflict_do_nothing().returning(ticks.c.id)
    with db.engine.begin() as connection:
        taken = connection.execute(insert).first() is not None
        if taken:
            connection.execute(delete(ticks).where(ticks.c.job_id == job_id,
                                                   ticks.c.tick_at < tick - TICKS_KEPT))
    return taken


def _finish_tick(job_id: str, tick: datetime, outcome: str) -> None:
    with db.engine.begin() as connection:
        connection.execute(update(ticks).where(
            ticks.c.job_id == job_id, ticks.c.tick_at == tick.astimezone(UTC)).values(
            finished_at=utcnow(), outcome=outcome))


def build_scheduler(app, jobs: list[Job]):
    from apscheduler.schedulers.blocking import BlockingScheduler

    timezone = app.config["BABEL_DEFAULT_TIMEZONE"]
    scheduler = BlockingScheduler(timezone=timezone)
    for job in jobs:
        trigger = build_trigger(job, timezone)
        scheduler.add_job(run_exclusively, trigger, args=(app, job, trigger), id=job.id,
                          coalesce=True, max_instances=1,
                          misfire_grace_time=MISFIRE_GRACE_SECONDS)
    return scheduler
