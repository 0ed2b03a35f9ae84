"""Each tick of each job runs once across scheduler copies (issue 11, item 7).

Two schedulers whose clocks differed by 2 s both ran the same nightly tick: the advisory
lock only kept their runs from overlapping. Each run now records its job's scheduled tick
(`scheduler_ticks`, unique per job and tick) before the job body starts.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from volunteer_hub.scheduler import Job, SchedulerTick, build_trigger, run_exclusively

SHANGHAI = ZoneInfo("Asia/Shanghai")
NIGHTLY_TICK = datetime(2026, 12, 6, 2, 30, tzinfo=SHANGHAI)
SKEW = timedelta(seconds=2)


@pytest.fixture
def counted_job():
    def make(trigger: str, trigger_args: dict, fails: bool = False):
        runs = []

        def body():
            runs.append(1)
            if fails:
                raise RuntimeError("the job's own failure")
        job = Job("tests.counted", body, trigger, trigger_args)
        return job, build_trigger(job, "Asia/Shanghai"), runs
    return make


def woken_at(app, job, trigger, moment) -> bool:
    """What a scheduler whose clock reads `moment` does when the trigger wakes it."""
    return run_exclusively(app, job, trigger, now=moment)


def test_two_schedulers_2_s_apart_run_the_nightly_tick_once(app, db, counted_job):
    job, trigger, runs = counted_job("cron", {"hour": 2, "minute": 30})
    first = woken_at(app, job, trigger, NIGHTLY_TICK + timedelta(milliseconds=5))
    second = woken_at(app, job, trigger, NIGHTLY_TICK + SKEW + timedelta(milliseconds=5))
    assert (first, second, len(runs)) == (True, False, 1)
    tick = db.session.execute(select(SchedulerTick)).scalar_one()
    assert tick.job_id == "tests.counted" and tick.outcome == "ok"
    assert tick.tick_at.replace(tzinfo=None) == datetime(2026, 12, 5, 18, 30)  # in UTC


def test_the_next_nights_tick_runs_again(app, db, counted_job):
    job, trigger, runs = counted_job("cron", {"hour": 2, "minute": 30})
    for night in range(3):
        woken_at(app, job, trigger, NIGHTLY_TICK + timedelta(days=night, milliseconds=5))
        woken_at(app, job, trigger, NIGHTLY_TICK + timedelta(days=night) + SKEW)
    assert len(runs) == 3


def test_schedulers_started_apart_share_the_interval_ticks(app, db, counted_job):
    """Interval ticks fall on a fixed origin, not on each scheduler's start time."""
    job, trigger, runs = counted_job("interval", {"minutes": 1})
    minute = datetime(2026, 12, 5, 10, 0, tzinfo=SHANGHAI)
    for elapsed in range(3):
        tick = minute + timedelta(minutes=elapsed)
        woken_at(app, job, trigger, tick + timedelta(milliseconds=300))
        woken_at(app, job, trigger, tick + SKEW)
    assert len(runs) == 3


def test_a_failed_tick_is_recorded_and_not_run_again_by_the_other_scheduler(app, db,
                                                                             counted_job):
    job, trigger, runs = counted_job("cron", {"hour": 2, "minute": 30}, fails=True)
    with pytest.raises(RuntimeError):
        woken_at(app, job, trigger, NIGHTLY_TICK)
    assert woken_at(app, job, trigger, NIGHTLY_TICK + SKEW) is False
    assert len(runs) == 1
    assert db.session.execute(select(SchedulerTick.outcome)).scalar_one() == "failed"
