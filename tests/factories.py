"""Test data builders (plain functions; fixtures in conftest wrap them)."""
from __future__ import annotations

import itertools
from datetime import date

from volunteer_hub.accounts import services as accounts
from volunteer_hub.db import db
from volunteer_hub.orgs.services import create_org
from volunteer_hub.volunteers import idnumbers
from volunteer_hub.volunteers.services import register_volunteer

PASSWORD = "secret123"
# The settings of an app made on a database of its own (migration tests): fixed keys, so
# rows written by one app read in another, and cheap password hashes.
MIGRATION_APP_CONFIG = {
    "SECRET_KEY": "x", "ID_HASH_KEY": "x",
    "DATA_ENCRYPTION_KEY": "Y2xhc3NpZmllZC10ZXN0LWtleS0wMTIzNDU2Nzg5YWI=",
    "ARGON2_PARAMETERS": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1},
}
_counter = itertools.count(1)


def make_id_number(birth: date = date(1990, 5, 17), gender: str = "male",
                   area: str = "110105", sequence: int | None = None) -> str:
    """A checksum-valid mainland ID; each call gives a new sequence unless one is given."""
    if sequence is None:
        sequence = (next(_counter) % 490) * 2 + (1 if gender == "male" else 0)
    first17 = f"{area}{birth:%Y%m%d}{sequence:03d}"
    return first17 + idnumbers.check_char(first17)


def unique_phone() -> str:
    return f"137{next(_counter) + 10_000_000:08d}"


def build_tree():
    """city > district > street > communities A and B (each with a grid), flushed."""
    city = create_org(None, level="city", code="C1", name_zh="测试市", name_en="Test City")
    district = create_org(city, level="district", code="D1", name_zh="测试区")
    street = create_org(district, level="street", code="S1", name_zh="测试街道")
    community_a = create_org(street, level="community", code="CA", name_zh="甲社区",
                             name_en="Community A", requires_approval=True)
    community_b = create_org(street, level="community", code="CB", name_zh="乙社区",
                             name_en="Community B", requires_approval=False)
    grid_a = create_org(community_a, level="grid", code="CA-G1", name_zh="甲一网格")
    grid_b = create_org(community_b, level="grid", code="CB-G1", name_zh="乙一网格")
    return {"city": city, "district": district, "street": street, "a": community_a,
            "b": community_b, "grid_a": grid_a, "grid_b": grid_b}


def make_staff(org, role: str, name: str | None = None):
    user = accounts.create_user(display_name=name or f"{role}-{org.code}", password=PASSWORD,
                                phone=unique_phone())
    accounts.grant_role(user, org, role, by=None)
    return user


def registration_data(community, **overrides) -> dict:
    data = {
        "real_name": "张三",
        "id_type": "mainland_id",
        "id_number": make_id_number(),
        "phone": unique_phone(),
        "password": PASSWORD,
        "community_id": community.id,
        "agree_terms": True,
        "agree_sensitive_data": True,
    }
    data.update(overrides)
    return data


def make_volunteer(community, **overrides):
    volunteer = register_volunteer(registration_data(community, **overrides))
    db.session.flush()
    return volunteer
