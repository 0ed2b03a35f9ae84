"""Builders for activities and records (plain functions; tests commit as needed)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from volunteer_hub.db import db
from volunteer_hub.records import services as records

# A Tuesday morning in Beijing: 09:00-12:00 local is 01:00-04:00 UTC.
START = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def activity(org, organizer, *, start=START, hours=3, **extra):
    data = {"name": "敬老院陪伴", "service_type": "elderly_care", "place": "甲社区敬老院",
            "content": "陪老人聊天", "starts_at": start, "ends_at": start + timedelta(hours=hours)}
    data.update(extra)
    result = records.create_activity(org, data, by=organizer)
    db.session.commit()
    return result


def checked_out(activity_row, volunteer, *, minutes, start_offset=0):
    """A record checked in and out with the activity's code."""
    check_in = activity_row.starts_at + timedelta(minutes=start_offset)
    user = volunteer.user
    records.check_in(activity_row, volunteer, "code", {"code": activity_row.checkin_code},
                     by=user, now=check_in)
    record = records.check_out(activity_row, volunteer, "code",
                               {"code": activity_row.checkin_code}, by=user,
                               now=check_in + timedelta(minutes=minutes))
    db.session.commit()
    return record
