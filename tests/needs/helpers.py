"""Builders shared by the needs and matching-service tests."""
from __future__ import annotations

from datetime import date, timedelta

from tests import factories
from volunteer_hub.db import db
from volunteer_hub.needs import services as needs
from volunteer_hub.volunteers import services as volunteers

# Around Community B's centre; 0.01 degree of latitude is about 1.1 km.
LAT, LON = 31.2300, 121.4700
ALL_WEEK = [{"weekday": d, "start_minute": 0, "end_minute": 24 * 60} for d in range(7)]


def next_weekday(weekday: int, *, weeks_ahead: int = 1) -> date:
    """A date at least a few days ahead, on the given weekday (0 = Monday)."""
    day = date.today() + timedelta(days=3)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return day + timedelta(weeks=weeks_ahead - 1)


def volunteer(community, *, skills=None, lat=LAT, lon=LON, windows=ALL_WEEK, gender="male",
              birth=date(1990, 5, 17), certifications=()):
    extra = {}
    if (date.today() - birth).days < 18 * 365:
        extra["guardian"] = {"name": "家长", "phone": "13900000099"}
    v = factories.make_volunteer(
        community, lat=lat, lon=lon, skills=skills or [],
        id_number=factories.make_id_number(birth=birth, gender=gender), **extra)
    v.status = "active"
    v.user.locale = "en"  # inbox texts are rendered in the recipient's language; tests read English
    volunteers.set_availability(v, windows, [], by=None)
    for cert in certifications:
        volunteers.add_certification(v, cert, by=None)
    db.session.commit()
    return v


def beneficiary(community, **overrides):
    data = {"category": "elderly_alone", "name": "王奶奶", "gender": "female",
            "community_id": community.id, "address": "幸福路 8 号 3 单元 502",
            "phone": "13900000001", "care_notes": "高血压，行动不便",
            "lat": LAT + 0.001, "lon": LON + 0.001}
    data.update(overrides)
    b = needs.create_beneficiary(data, by=None)
    db.session.commit()
    return b


def need_data(org, **overrides) -> dict:
    data = {"org_id": org.id, "type": "home_visit", "title": "Visit",
            "first_date": next_weekday(1), "start_minute": 9 * 60, "end_minute": 11 * 60,
            "lat": LAT + 0.001, "lon": LON + 0.001, "max_distance_km": 5.0}
    data.update(overrides)
    return data


def need(org, *, publish=True, **overrides):
    n = needs.create_need(need_data(org, **overrides), by=None)
    if publish:
        needs.set_need_state(n, "open", by=None)
    db.session.commit()
    return n
