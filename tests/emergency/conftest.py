"""Emergency fixtures: a street with two emergency teams of adult volunteers, staff, plans.

`world` is the common scene (see EmergencyWorld). Volunteers live near INCIDENT (a few km)
except `far`, 30 km away. Plans belong to the street; `world.coordinator` and
`world.organizer` work at the street, `world.outsider` is a coordinator of community A only
(out of scope for the street's plans).

    def test_x(world, make_plan, activate_drill):
        plan = make_plan()                 # level 3: rescue x2, first_aid x1, driver x1
        activation = activate_drill(plan)  # drill at level 3 at INCIDENT, committed
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest

from tests import factories
from volunteer_hub.db import db as _db
from volunteer_hub.orgs.services import add_member, create_team
from volunteer_hub.volunteers.models import Certification, VolunteerSkill

INCIDENT = (31.2304, 121.4737)  # lat, lon
KM_PER_DEGREE_LAT = 111.2
_emails = itertools.count(1)


def near(km_north: float) -> tuple[float, float]:
    """A point `km_north` kilometres north of the incident."""
    return INCIDENT[0] + km_north / KM_PER_DEGREE_LAT, INCIDENT[1]


def add_skill(volunteer, code: str, level: int) -> None:
    volunteer.skills.append(VolunteerSkill(skill_code=code, level=level))


def add_cert(volunteer, kind: str, *, expires_on: date | None = None,
             issued_on: date | None = None) -> Certification:
    cert = Certification(volunteer=volunteer, kind=kind, issuer="测试发证机关",
                         issued_on=issued_on or date.today() - timedelta(days=365),
                         expires_on=expires_on or date.today() + timedelta(days=365))
    _db.session.add(cert)
    return cert


def make_responder(community, *, name: str, km: float = 1.0, skills: dict | None = None,
                   certs: tuple[str, ...] = (), locale: str = "zh_Hans", email: bool = True,
                   team=None, status: str = "active", birth: date = date(1990, 5, 17)):
    """An adult volunteer with phone, e-mail, coordinates, skills and valid certificates.

    Added to `team` when given. `status` is forced (community A approves newcomers)."""
    lat, lon = near(km)
    volunteer = factories.make_volunteer(
        community, real_name=name, locale=locale, lat=lat, lon=lon,
        id_number=factories.make_id_number(birth=birth),
        email=f"responder{next(_emails)}.{id(community) % 9973}@example.org" if email else None)
    volunteer.status = status
    for code, level in (skills or {}).items():
        add_skill(volunteer, code, level)
    for kind in certs:
        add_cert(volunteer, kind)
    if team is not None:
        add_member(team, volunteer, by=None)
    _db.session.flush()
    return volunteer


@dataclass
class EmergencyWorld:
    tree: dict
    street: object
    coordinator: object
    organizer: object
    outsider: object  # coordinator of community A: out of scope for the street's plans
    flood_team: object  # type flood_water, called first
    medical_team: object  # type medical, called second
    other_team: object  # a non-emergency ("professional") team of the street
    volunteers: dict = field(default_factory=dict)  # short name -> Volunteer

    def v(self, short: str):
        return self.volunteers[short]


def build_world(tree) -> EmergencyWorld:
    street, community_b = tree["street"], tree["b"]
    flood = create_team(street, name="防汛抢险队", type="flood_water", by=None)
    medical = create_team(street, name="医疗救护队", type="medical", by=None)
    other = create_team(street, name="专业服务队", type="professional", by=None)
    world = EmergencyWorld(
        tree=tree, street=street,
        coordinator=factories.make_staff(street, "coordinator", "街道应急协调员"),
        organizer=factories.make_staff(street, "organizer", "街道组织者"),
        outsider=factories.make_staff(tree["a"], "coordinator", "甲社区协调员"),
        flood_team=flood, medical_team=medical, other_team=other)
    people = {
        # flood team: three swimmers of different levels and a first-aider
        "wang": dict(name="王一", km=0.5, locale="en", team=flood,
                     skills={"water_rescue": 2}, certs=("water_rescue_licence",)),
        "li": dict(name="李二", km=1.0, team=flood, skills={"water_rescue": 3, "first_aid": 2},
                   certs=("water_rescue_licence", "first_aid")),
        "zhao": dict(name="赵三", km=2.0, team=flood, skills={"water_rescue": 1},
                     certs=("water_rescue_licence",)),
        "qian": dict(name="钱四", km=3.0, team=flood, skills={"first_aid": 2},
                     certs=("first_aid",)),
        # medical team: a first-aider who also drives, a driver
        "sun": dict(name="孙五", km=1.5, team=medical,
                    skills={"first_aid": 3, "driving": 2}, certs=("first_aid", "driving_licence")),
        "zhou": dict(name="周六", km=2.5, locale="en", team=medical, skills={"driving": 2},
                     certs=("driving_licence",)),
        # flood team, but 30 km away: outside a 10 km radius
        "far": dict(name="吴七", km=30.0, team=flood, skills={"water_rescue": 2},
                    certs=("water_rescue_licence",)),
    }
    for short, spec in people.items():
        world.volunteers[short] = make_responder(community_b, **spec)
    return world


@pytest.fixture(autouse=True)
def fresh_board_cache():
    """Every emergency test starts with an empty board cache: ids repeat between
    tests on an emptied database, and no snapshot may outlive its test."""
    from volunteer_hub.emergency import board as board_module

    board_module.cache.clear()
    yield
    board_module.cache.clear()


@pytest.fixture
def world(tree, db) -> EmergencyWorld:
    scene = build_world(tree)
    db.session.commit()
    return scene


def default_plan_data(world: EmergencyWorld, **overrides) -> dict:
    """Level 3 (yellow): 2 water rescuers (level 2, licence), 1 first-aider, 1 driver;
    both teams called at once within 10 km; two escalation steps; two assembly points."""
    level = {
        "roles": [
            {"code": "rescue", "label_zh": "水上救援", "label_en": "Water rescue", "count": 2,
             "skill": "water_rescue", "min_level": 2, "certification": "water_rescue_licence"},
            {"code": "first_aid", "label_zh": "急救", "label_en": "First aid", "count": 1,
             "skill": "first_aid", "min_level": 1, "certification": "first_aid"},
            {"code": "driver", "label_zh": "驾驶员", "label_en": "Driver", "count": 1,
             "skill": "driving", "min_level": 1, "certification": "driving_licence"},
        ],
        "team_ids": [world.flood_team.id, world.medical_team.id],
        "radius_km": 10.0,
        "area_org_id": None,
        "initial_teams": 2,
        "escalation": [
            {"after_minutes": 10, "action": "renotify", "value": None},
            {"after_minutes": 20, "action": "page_coordinator", "value": None},
        ],
    }
    data = {
        "name": "防汛应急预案",
        "category": "natural_disaster",
        "description": "暴雨内涝时的人员转移与救援",
        "levels": {"3": level},
        "assembly_points": [
            {"name": "街道应急站", "address": "测试路1号", "lat": near(0.2)[0], "lon": INCIDENT[1]},
            {"name": "二号集合点", "address": "测试路99号", "lat": near(2.2)[0],
             "lon": INCIDENT[1]},
        ],
        "templates": {
            "zh_Hans": {"alert": "{plan}（{level}）：{address}。{note} 请回复：{link}",
                        "assigned": "您的任务：{role}，集合点：{assembly_point}。",
                        "stand_down": "{plan} 已解除，感谢参与。"},
            "en": {"alert": "{plan} ({level}): {address}. {note} Answer: {link}",
                   "assigned": "Your role: {role}, assembly point: {assembly_point}.",
                   "stand_down": "{plan} is stood down. Thank you."},
        },
    }
    data.update(overrides)
    return data


@pytest.fixture
def plan_data(world):
    """A builder of valid plan data: plan_data(**overrides)."""
    return lambda **overrides: default_plan_data(world, **overrides)


@pytest.fixture
def make_plan(world, db):
    """make_plan(**overrides) -> a committed plan of the street, created by the coordinator."""
    from volunteer_hub.emergency import plans

    def make(**overrides):
        plan = plans.create_plan(world.street, default_plan_data(world, **overrides),
                                 by=world.coordinator)
        db.session.commit()
        return plan
    return make


@pytest.fixture
def activate_drill(world, make_plan, db):
    """activate_drill(plan=None, level=3, **kwargs) -> a committed drill at INCIDENT."""
    from volunteer_hub.emergency import activation as activation_service

    def activate(plan=None, level: int = 3, **kwargs):
        options = {"is_drill": True, "lat": INCIDENT[0], "lon": INCIDENT[1],
                   "address": "测试路10号", "note": "演练：内涝转移", "by": world.coordinator}
        options.update(kwargs)
        activation = activation_service.activate(plan or make_plan(), level=level, **options)
        db.session.commit()
        return activation
    return activate


@pytest.fixture
def activate_real(activate_drill):
    """activate_real(plan=None, level=3, **kwargs) -> a committed real (non-drill) activation."""
    def activate(plan=None, level: int = 3, **kwargs):
        kwargs.setdefault("note", "暴雨内涝：转移低洼处居民")
        return activate_drill(plan, level, is_drill=False, **kwargs)
    return activate


@pytest.fixture
def sms_gateway_configured(app):
    """A gateway URL, so that SMS is not replaced by e-mail; nothing is sent to it."""
    app.config["SMS_GATEWAY_URL"] = "http://127.0.0.1:9/unused"
    yield
    app.config.pop("SMS_GATEWAY_URL")


@pytest.fixture
def drill(activate_drill):
    return activate_drill()
