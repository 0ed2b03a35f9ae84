"""Hand-built report data: every number the tests expect can be counted on paper here.

Community A (population 1000, grid A1 below it) and community B under one street.
Months are Beijing months; UTC times are written next to the local ones.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import update

from tests import factories
from volunteer_hub.db import db
from volunteer_hub.matching.models import Assignment
from volunteer_hub.needs.models import Beneficiary, Need, NeedSlot
from volunteer_hub.records import services as records
from volunteer_hub.timebank import services as timebank
from volunteer_hub.volunteers.models import Volunteer

AS_OF = date(2026, 11, 23)


def volunteer(community, born: date, registered_at_utc: datetime):
    row = factories.make_volunteer(community, id_number=factories.make_id_number(birth=born))
    db.session.execute(update(Volunteer).where(Volunteer.id == row.id)
                       .values(created_at=registered_at_utc.replace(tzinfo=None)))
    return row


def activity(org, service_type: str, starts_utc: datetime, *, hours: int = 3,
             group: bool = False):
    return records.create_activity(org, {
        "name": f"{service_type} {starts_utc:%Y-%m-%d}", "service_type": service_type,
        "starts_at": starts_utc, "ends_at": starts_utc + timedelta(hours=hours),
        "group_service": group}, by=None)


def served(activity_row, volunteer_row, minutes: int, *, verify: bool = True):
    """Hours recorded by hand the day after, then verified (which mints them)."""
    record = records.record_manually(activity_row, volunteer_row, {
        "minutes": minutes, "reason": "paper sign-in sheet"}, by=None,
        now=activity_row.starts_at + timedelta(days=1))
    if verify:
        records.verify_record(record, by=None)
    return record


def beneficiary(community, label: str) -> Beneficiary:
    row = Beneficiary(category="elderly_alone", community_id=community.id,
                      org_path=community.path, name_encrypted=label, name_masked=label[:1] + "*")
    db.session.add(row)
    db.session.flush()
    return row


def task(org, person: Beneficiary | None, volunteer_row, start_local: datetime, *,
         state: str = "accepted", slot_status: str = "done") -> NeedSlot:
    need = Need(org_id=org.id, org_path=org.path, beneficiary_id=person.id if person else None,
                type="home_visit", title="探访", first_date=start_local.date(),
                start_minute=start_local.hour * 60, end_minute=start_local.hour * 60 + 60,
                state="in_progress")
    slot = NeedSlot(start=start_local, end=start_local + timedelta(hours=1), status=slot_status)
    need.slots.append(slot)
    db.session.add(need)
    db.session.flush()
    db.session.add(Assignment(slot_id=slot.id, volunteer_id=volunteer_row.id, state=state,
                              source="manual"))
    db.session.flush()
    return slot


@dataclass
class World:
    tree: dict
    v1: Volunteer  # lives in A, 76
    v2: Volunteer  # lives in A, exactly 60 on AS_OF
    v3: Volunteer  # lives in A, 27, serves in B
    v4: Volunteer  # lives in B, 46
    v5: Volunteer  # lives in A, 59 tomorrow-born, never served


def build(tree) -> World:
    a, b, grid_a = tree["a"], tree["b"], tree["grid_a"]
    a.resident_population = 1000
    v1 = volunteer(a, date(1950, 3, 2), datetime(2025, 12, 15, 2, 0, tzinfo=UTC))
    # 2026-03-01 01:00 in Beijing: a March registration although UTC says February.
    v2 = volunteer(a, date(1966, 11, 23), datetime(2026, 2, 28, 17, 0, tzinfo=UTC))
    v3 = volunteer(a, date(1999, 1, 1), datetime(2026, 1, 31, 12, 0, tzinfo=UTC))
    v4 = volunteer(b, date(1980, 6, 1), datetime(2026, 1, 5, 2, 0, tzinfo=UTC))
    v5 = volunteer(a, date(1966, 11, 24), datetime(2026, 11, 2, 2, 0, tzinfo=UTC))

    january = activity(a, "elderly_care", datetime(2026, 1, 10, 1, 0, tzinfo=UTC))
    served(january, v1, 120)
    served(january, v2, 90)
    served(january, v3, 60, verify=False)  # pending: not counted anywhere
    in_b = activity(b, "culture", datetime(2026, 1, 15, 1, 0, tzinfo=UTC))
    served(in_b, v4, 60)
    served(in_b, v3, 120)
    # 2026-03-01 07:00 in Beijing is 2026-02-28 23:00 UTC: March service, in grid A1.
    march = activity(grid_a, "community", datetime(2026, 2, 28, 23, 0, tzinfo=UTC))
    served(march, v1, 180)
    rejected = served(march, v2, 60, verify=False)
    records.reject_record(rejected, "not there", by=None)
    group = activity(a, "environment", datetime(2026, 3, 10, 1, 0, tzinfo=UTC), group=True)
    served(group, v2, 60)
    timebank.donate(v1, 60, key="test:donate:v1", by=None)

    elder, other, child = (beneficiary(a, "王奶奶"), beneficiary(a, "李爷爷"),
                           beneficiary(a, "小明"))
    task(a, elder, v1, datetime(2026, 1, 20, 9, 0))
    task(a, elder, v2, datetime(2026, 1, 27, 9, 0))  # same person twice: counted once
    task(a, other, v1, datetime(2026, 1, 21, 9, 0), state="declined")
    task(a, child, v2, datetime(2026, 3, 5, 9, 0), slot_status="cancelled")
    task(a, child, v1, datetime(2026, 3, 6, 9, 0))
    task(a, None, v1, datetime(2026, 3, 7, 9, 0))  # no beneficiary named
    db.session.commit()
    return World(tree, v1, v2, v3, v4, v5)
