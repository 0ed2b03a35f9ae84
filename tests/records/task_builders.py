"""Builders for matched tasks with a slot placed around a chosen time (tests commit)."""
from __future__ import annotations

from datetime import datetime, timedelta

from tests.needs import helpers
from volunteer_hub.db import db
from volunteer_hub.matching.models import Assignment
from volunteer_hub.needs.services import local_now


def task(org, volunteer, *, start: datetime | None = None, hours: int = 2, state="accepted",
         beneficiary=None, **need_fields) -> Assignment:
    """A published need of `org` whose first slot (local wall clock) starts at `start`
    (default: half an hour ago) and an assignment of `volunteer` to it in `state`."""
    start = start or local_now().replace(second=0, microsecond=0) - timedelta(minutes=30)
    if beneficiary is not None:
        need_fields["beneficiary_id"] = beneficiary.id
    need = helpers.need(org, **need_fields)
    slot = need.slots[0]
    slot.start, slot.end = start, start + timedelta(hours=hours)
    assignment = Assignment(slot_id=slot.id, volunteer_id=volunteer.id, source="manual",
                            state=state)
    db.session.add(assignment)
    slot.status = "filled" if state in ("confirmed", "accepted") else "open"
    db.session.commit()
    return assignment
