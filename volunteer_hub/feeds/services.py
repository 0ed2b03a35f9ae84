"""A volunteer's private calendar feed: confirmed tasks and emergency duty as iCalendar.

The link carries a random token; the database keeps its SHA-256 digest only, so the link is
shown once, when it is made. Revoking deletes the row (the old link answers 404);
regenerating replaces it. The feed holds what the volunteer's own task page shows, never a
beneficiary's details: the need's title, its public place note, the times.

"On-call duty" is an emergency activation the volunteer answered "coming" to: from the
answer until the stand-down, or for FEEDS_DUTY_HOURS while the activation is still open.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
from flask import current_app
from flask_babel import force_locale, gettext
from sqlalchemy import select

from volunteer_hub.db import db, utcnow
from volunteer_hub.errors import NotFound
from volunteer_hub.feeds.models import CalendarFeed

PRODID = "-//Volunteer Hub//Calendar feed//ZH"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feed_of(volunteer) -> CalendarFeed | None:
    return db.session.get(CalendarFeed, volunteer.id)


def issue(volunteer) -> str:
    """A new token for the volunteer's feed (the previous link stops working)."""
    token = secrets.token_urlsafe(32)
    feed = feed_of(volunteer) or CalendarFeed(volunteer_id=volunteer.id)
    feed.token_hash, feed.created_at, feed.last_read_at = _digest(token), utcnow(), None
    db.session.add(feed)
    db.session.flush()
    return token


def revoke(volunteer) -> bool:
    feed = feed_of(volunteer)
    if feed is None:
        return False
    db.session.delete(feed)
    db.session.flush()
    return True


def volunteer_for_token(token: str):
    """The volunteer whose live feed this token opens, else NotFound (revoked, wrong)."""
    if not token or len(token) > 100:
        raise NotFound()
    feed = db.session.execute(select(CalendarFeed).filter_by(
        token_hash=_digest(token))).scalar_one_or_none()
    if feed is None or feed.volunteer is None or feed.volunteer.user is None \
            or not feed.volunteer.user.active:
        raise NotFound()
    now = utcnow()
    last = feed.last_read_at
    if last is None or now - (last if last.tzinfo else last.replace(tzinfo=UTC)) \
            > timedelta(hours=1):
        feed.last_read_at = now  # at most one write an hour, for "last synced" on the page
    return feed.volunteer


# --- events --------------------------------------------------------------------------------------

def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def _local(wall_clock: datetime) -> datetime:
    """A planned slot time (naive local wall clock) as an aware local time."""
    return wall_clock.replace(tzinfo=_zone())


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _window() -> tuple[datetime, datetime]:
    now = utcnow()
    days_back = int(current_app.config.get("FEEDS_PAST_DAYS", 30))
    return now - timedelta(days=days_back), now + timedelta(days=366)


def task_events(volunteer) -> list[icalendar.Event]:
    from volunteer_hub.matching.models import COMMITTED_STATES, Assignment
    from volunteer_hub.needs.models import Need, NeedSlot

    start, end = _window()
    zone = _zone()
    rows = db.session.execute(
        select(Assignment, NeedSlot, Need).join(NeedSlot, Assignment.slot_id == NeedSlot.id)
        .join(Need, NeedSlot.need_id == Need.id)
        .where(Assignment.volunteer_id == volunteer.id,
               Assignment.state.in_(COMMITTED_STATES),
               NeedSlot.end >= start.astimezone(zone).replace(tzinfo=None),
               NeedSlot.start <= end.astimezone(zone).replace(tzinfo=None))
        .order_by(NeedSlot.start)).all()
    events = []
    for assignment, slot, need in rows:
        event = _event(f"task-{assignment.id}", need.title, _local(slot.start), _local(slot.end))
        if need.location_note:
            event.add("location", need.location_note)
        events.append(event)
    return events


def duty_events(volunteer) -> list[icalendar.Event]:
    from volunteer_hub.emergency.models import Activation, EmergencyPlan, Responder

    start, _ = _window()
    hours = int(current_app.config.get("FEEDS_DUTY_HOURS", 4))
    rows = db.session.execute(
        select(Responder, Activation, EmergencyPlan)
        .join(Activation, Responder.activation_id == Activation.id)
        .join(EmergencyPlan, Activation.plan_id == EmergencyPlan.id)
        .where(Responder.volunteer_id == volunteer.id, Responder.answer == "coming",
               Activation.activated_at >= start)
        .order_by(Activation.activated_at)).all()
    events = []
    for responder, activation, plan in rows:
        begins = _aware(responder.answered_at or activation.activated_at)
        ends = _aware(activation.stood_down_at) if activation.stood_down_at \
            else begins + timedelta(hours=hours)
        title = gettext("Emergency duty: %(plan)s", plan=plan.name)
        if activation.is_drill:
            title = gettext("Drill: %(plan)s", plan=plan.name)
        event = _event(f"duty-{responder.id}", title, begins.astimezone(_zone()),
                       max(ends, begins + timedelta(minutes=30)).astimezone(_zone()))
        if activation.incident_address:
            event.add("location", activation.incident_address)
        events.append(event)
    return events


def _event(uid: str, summary: str, starts: datetime, ends: datetime) -> icalendar.Event:
    event = icalendar.Event()
    host = current_app.config.get("FEEDS_UID_DOMAIN", "volunteer-hub")
    event.add("uid", f"{uid}@{host}")
    event.add("summary", summary)
    event.add("dtstart", starts)
    event.add("dtend", ends)
    event.add("dtstamp", utcnow())
    return event


def calendar_bytes(volunteer, locale: str | None = None) -> bytes:
    """The feed: tasks and duty, local times with their VTIMEZONE."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    with force_locale(locale or volunteer.user.locale
                      or current_app.config["BABEL_DEFAULT_LOCALE"]):
        calendar.add("x-wr-calname", gettext("Volunteer tasks"))
        for event in task_events(volunteer) + duty_events(volunteer):
            calendar.add_component(event)
    calendar.add("x-wr-timezone", current_app.config["BABEL_DEFAULT_TIMEZONE"])
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add_missing_timezones()
    return calendar.to_ical()
