"""Star levels are final only after a public notice period (公示).

When a volunteer's verified service hours first reach a star threshold
(STAR_THRESHOLDS_HOURS), `refresh_star_notices` (an hourly job) records a StarNotice listed
on the volunteer's community's public notice page for STAR_NOTICE_DAYS; the volunteer sees
"公示中 until ..." on their hours page. After `ends_at` the level is final.
"""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from flask import current_app
from sqlalchemy import func, select

from volunteer_hub.db import db
from volunteer_hub.recognition.models import StarNotice


def _now() -> datetime:
    return datetime.now(UTC)


def refresh_star_notices(now: datetime | None = None) -> int:
    """Open a notice for every volunteer whose level rose above their last noticed level;
    returns how many were opened (the caller commits)."""
    from volunteer_hub.timebank import services
    from volunteer_hub.volunteers.models import Volunteer

    now = now or _now()
    ends_at = notice_end(now)
    served = dict(db.session.execute(services._service_minutes_query()).all())
    noticed = dict(db.session.execute(
        select(StarNotice.volunteer_id, func.max(StarNotice.level))
        .group_by(StarNotice.volunteer_id)).all())
    risen = {vid: services.star_level(int(minutes)) for vid, minutes in served.items()}
    risen = {vid: level for vid, level in risen.items() if level > noticed.get(vid, 0)}
    if not risen:
        return 0
    communities = dict(db.session.execute(select(Volunteer.id, Volunteer.community_id)
                                          .where(Volunteer.id.in_(risen))).all())
    for volunteer_id, level in sorted(risen.items()):
        db.session.add(StarNotice(volunteer_id=volunteer_id, org_id=communities[volunteer_id],
                                  level=level, service_minutes=int(served[volunteer_id]),
                                  starts_at=now, ends_at=ends_at))
    db.session.flush()
    return len(risen)


def notice_end(start: datetime) -> datetime:
    """When a notice opened at `start` closes: STAR_NOTICE_DAYS later, or with
    STAR_NOTICE_WORKING_DAYS at the end of the last of that many working days (local time)."""
    from zoneinfo import ZoneInfo

    config = current_app.config
    days = config["STAR_NOTICE_DAYS"]
    if not config.get("STAR_NOTICE_WORKING_DAYS"):
        return start + timedelta(days=days)
    from volunteer_hub.workdays import add_working_days

    zone = ZoneInfo(config["BABEL_DEFAULT_TIMEZONE"])
    last = add_working_days(start.astimezone(zone).date(), days)
    return datetime.combine(last + timedelta(days=1), time.min, zone).astimezone(UTC)


def pending_notices(volunteer, now: datetime | None = None) -> list[StarNotice]:
    """The volunteer's levels still in their notice period."""
    return db.session.execute(select(StarNotice).where(
        StarNotice.volunteer_id == volunteer.id, StarNotice.ends_at > (now or _now()))
        .order_by(StarNotice.level)).scalars().all()


def final_level(volunteer, now: datetime | None = None) -> int:
    """The highest star level whose notice period is over."""
    return int(db.session.execute(select(func.max(StarNotice.level)).where(
        StarNotice.volunteer_id == volunteer.id,
        StarNotice.ends_at <= (now or _now()))).scalar() or 0)


def public_notices(org, now: datetime | None = None) -> list[StarNotice]:
    """Notices in their period for volunteers of `org` or below it (the public page)."""
    from volunteer_hub.orgs.models import Org

    return db.session.execute(
        select(StarNotice).join(Org, Org.id == StarNotice.org_id)
        .where(Org.path.startswith(org.path, autoescape=True),
               StarNotice.ends_at > (now or _now()))
        .order_by(StarNotice.starts_at.desc(), StarNotice.id)).scalars().all()
