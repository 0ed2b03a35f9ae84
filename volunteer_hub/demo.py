"""A believable demo district: orgs, grids, teams, 2,000 volunteers, one login per role."""
from __future__ import annotations

import random
from datetime import date, timedelta

import click

from volunteer_hub.accounts.models import RoleGrant, User
from volunteer_hub.db import db, transaction
from volunteer_hub.orgs import credit_code
from volunteer_hub.orgs.models import Org, Team, TeamMember
from volunteer_hub.orgs.services import create_org
from volunteer_hub.security import encrypt, hash_password, keyed_hash
from volunteer_hub.volunteers import idnumbers
from volunteer_hub.volunteers.catalogue import SKILLS
from volunteer_hub.volunteers.models import (
    AvailabilityWindow, Certification, Consent, Volunteer, VolunteerSkill,
)

DEMO_PASSWORD = "demo2026"
AREA_CODE = "110105"  # Beijing, Chaoyang
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红鹏建华飞鑫波宇浩凯健俊帆帅旭宁龙林欣怡子涵梓轩雨桐佳琪思远晨曦"
STREETS = [("JX", "劲松街道", "Jinsong Street"), ("PJY", "潘家园街道", "Panjiayuan Street"),
           ("SLT", "双井街道", "Shuangjing Street")]
COMMUNITY_NAMES = ["劲松一区", "劲松二区", "农光里", "和平村", "华威西里", "潘家园东里",
                   "松榆里", "武圣东里", "九龙", "广和里", "富力城", "百子湾"]
CENTER = (39.8843, 116.4578)


def database_is_empty() -> bool:
    return db.session.execute(db.select(Org.id).limit(1)).first() is None


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def demo_id_number(rng: random.Random, birth: date, gender: str) -> str:
    sequence = rng.randrange(0, 499) * 2 + (1 if gender == "male" else 0)
    first17 = f"{AREA_CODE}{birth:%Y%m%d}{sequence:03d}"
    return first17 + idnumbers.check_char(first17)


def _build_orgs(rng: random.Random):
    city = create_org(None, level="city", code="BJ", name_zh="北京市", name_en="Beijing")
    district = create_org(city, level="district", code="BJ-CY", name_zh="朝阳区",
                          name_en="Chaoyang District")
    communities = []
    for s_index, (code, zh, en) in enumerate(STREETS):
        street = create_org(district, level="street", code=f"CY-{code}", name_zh=zh, name_en=en)
        for c_index in range(4):
            number = s_index * 4 + c_index
            lat = CENTER[0] + rng.uniform(-0.03, 0.03)
            lon = CENTER[1] + rng.uniform(-0.03, 0.03)
            community = create_org(
                street, level="community", code=f"{street.code}-{c_index + 1:02d}",
                name_zh=f"{COMMUNITY_NAMES[number]}社区", name_en=f"Community {number + 1}",
                lat=lat, lon=lon, resident_population=rng.randrange(6000, 15000),
                requires_approval=True)
            _sign_certificates(community, rng, number)
            for g_index in range(3):
                create_org(community, level="grid", code=f"{community.code}-G{g_index + 1}",
                           name_zh=f"第{g_index + 1}网格", name_en=f"Grid {g_index + 1}",
                           lat=lat + rng.uniform(-0.003, 0.003),
                           lon=lon + rng.uniform(-0.003, 0.003))
            communities.append(community)
    return city, district, communities


ISSUER_PEOPLE = ("王建国", "李秀英", "张志强", "刘桂兰", "陈德明", "杨丽华", "赵国庆", "黄淑芬")


def _sign_certificates(community: Org, rng: random.Random, number: int) -> None:
    """The fields a certificate cannot be issued without (负责人, 经办人, 联系方式) and a
    credit code whose check characters are right, so the demo's volunteers can download one."""
    community.person_in_charge = rng.choice(ISSUER_PEOPLE)
    community.handler = rng.choice(ISSUER_PEOPLE)
    community.contact = f"010-6500{number:04d}"
    org_code = _org_code(f"MB{number:06d}")
    first17 = f"55{AREA_CODE}{org_code}"
    community.credit_code = first17 + credit_code.check_character(first17)


def _org_code(body: str) -> str:
    """A GB 11714 organization code: 8 characters and their check character."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(char, 36) * weight for char, weight in zip(body, weights))
    check = 11 - total % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def _staff(org: Org, role: str, phone: str, name: str, password_hash: str) -> User:
    user = User(phone=phone, display_name=name, password_hash=password_hash)
    db.session.add(user)
    db.session.flush()
    db.session.add(RoleGrant(user_id=user.id, org_id=org.id, role=role))
    return user


def _volunteer(rng, index, community, password_hash, today, used_ids: set) -> Volunteer:
    gender = rng.choice(("male", "female"))
    age = rng.choice([rng.randrange(18, 35), rng.randrange(35, 60), rng.randrange(60, 75),
                      rng.randrange(16, 18)])
    birth = today - timedelta(days=age * 365 + rng.randrange(0, 360))
    number = demo_id_number(rng, birth, gender)
    while number in used_ids:  # one ID, one account holds for the demo too
        birth -= timedelta(days=1)
        number = demo_id_number(rng, birth, gender)
    used_ids.add(number)
    grid = rng.choice(community.children)
    phone = f"139{index:08d}"
    user = User(phone=phone, display_name="", password_hash=password_hash)
    name = _name(rng)
    user.display_name = name
    volunteer = Volunteer(
        user=user, volunteer_number=f"{community.code}-{index:06d}", real_name=name,
        gender=gender, birth_date=birth, id_type="mainland_id",
        id_number_encrypted=encrypt(number), id_number_hash=keyed_hash(f"mainland_id:{number}"),
        id_number_masked=idnumbers.mask(number), phone=phone, community=community, grid=grid,
        org_path=grid.path, lat=grid.lat + rng.gauss(0, 0.002), lon=grid.lon + rng.gauss(0, 0.002),
        languages="zh" if rng.random() > 0.1 else "zh,en",
        status=rng.choices(("active", "pending", "suspended"), (90, 8, 2))[0],
    )
    for code in rng.sample(sorted(SKILLS), rng.randrange(1, 4)):
        level = rng.choice((1, 1, 2, 2, 3))
        volunteer.skills.append(VolunteerSkill(
            skill_code=code, level=level, confirmed_level=level if rng.random() < 0.5 else None))
    if rng.random() < 0.35:
        issued = today - timedelta(days=rng.randrange(100, 1500))
        volunteer.certifications.append(Certification(
            kind=rng.choice(("first_aid", "first_aid", "water_rescue_licence", "driving_licence",
                             "background_check")),
            issuer="北京市红十字会", number=f"C{index:07d}", issued_on=issued,
            expires_on=issued + timedelta(days=3 * 365)))  # some have expired already
    for weekday in rng.sample(range(7), rng.randrange(1, 4)):
        start = rng.choice((8, 9, 14, 18)) * 60
        volunteer.availability.append(AvailabilityWindow(
            weekday=weekday, start_minute=start, end_minute=start + rng.choice((120, 180, 240))))
    for kind in ("service_terms", "sensitive_data"):
        volunteer.consents.append(Consent(kind=kind, text_version="2026-11"))
    if age < 18:
        volunteer.consents.append(Consent(kind="guardian", text_version="2026-11",
                                          guardian_name=_name(rng), guardian_phone=f"138{index:08d}",
                                          guardian_relationship="父母"))
    return volunteer


# The certificate and skill each emergency team's members hold in the demo, so that the
# demo flood plan finds qualified people to call.
TEAM_QUALIFICATIONS = {"flood_water": ("water_rescue_licence", "water_rescue"),
                       "medical": ("first_aid", "first_aid")}


def _qualify(volunteer: Volunteer, team_type: str, today: date) -> None:
    kind, skill = TEAM_QUALIFICATIONS.get(team_type, (None, None))
    if kind is None:
        return
    if not any(c.kind == kind and (c.expires_on is None or c.expires_on >= today)
               for c in volunteer.certifications):
        volunteer.certifications.append(Certification(
            kind=kind, issuer="北京市应急管理局", issued_on=today - timedelta(days=200),
            expires_on=today + timedelta(days=900)))
    if not any(s.skill_code == skill for s in volunteer.skills):
        volunteer.skills.append(VolunteerSkill(skill_code=skill, level=2, confirmed_level=2))
    volunteer.status = "active"


def _teams(rng, district, communities, volunteers):
    adults = [v for v in volunteers if (date.today() - v.birth_date).days >= 18 * 366]
    specs = [(district, "朝阳区水务应急队", "flood_water"), (district, "朝阳区医疗救护队", "medical"),
             (communities[0].parent, "劲松街道消防应急队", "fire"),
             (communities[4].parent, "潘家园地震救援队", "earthquake_rescue"),
             (communities[0], "劲松一区助老服务队", "professional")]
    teams = {}
    for org, name, type_ in specs:
        team = teams[type_] = Team(org=org, name=name, type=type_)
        db.session.add(team)
        pool = [v for v in adults if v.org_path.startswith(org.path)]
        for position, volunteer in enumerate(rng.sample(pool, min(25, len(pool)))):
            team.members.append(TeamMember(volunteer=volunteer,
                                           role="leader" if position == 0 else "member"))
            _qualify(volunteer, type_, date.today())
    return teams


def _demo_plan(district, station: Org, teams):
    """A flood plan of the district that the demo coordinator can call out as a drill."""
    from volunteer_hub.emergency import plans

    roles = [
        {"code": "rescue", "label_zh": "水上救援", "label_en": "Water rescue", "count": 6,
         "skill": "water_rescue", "min_level": 2, "certification": "water_rescue_licence"},
        {"code": "first_aid", "label_zh": "急救", "label_en": "First aid", "count": 2,
         "skill": "first_aid", "min_level": 1, "certification": "first_aid"},
    ]
    level = {"roles": roles, "team_ids": [teams["flood_water"].id, teams["medical"].id],
             "radius_km": 15.0, "area_org_id": None, "initial_teams": 2,
             "escalation": [{"after_minutes": 10, "action": "renotify", "value": None},
                            {"after_minutes": 20, "action": "widen_radius", "value": 25.0},
                            {"after_minutes": 30, "action": "page_coordinator", "value": None}]}
    return plans.create_plan(district, {
        "name": "朝阳区防汛应急预案", "category": "natural_disaster",
        "description": "暴雨内涝时的人员转移、救援与独居老人安全确认",
        "levels": {"3": level, "4": {**level, "initial_teams": 1}},
        "assembly_points": [{"name": "劲松街道应急站", "address": "劲松街道办事处院内",
                             "lat": station.lat, "lon": station.lon}],
    }, by=None)


DEMO_NEEDS = [  # (category, name, address, care notes, need type, title, skill, weekday, hour)
    ("elderly_alone", "王秀兰", "劲松一区 103 号楼 2 单元 401", "高血压，腿脚不便", "home_visit",
     "每周探访王奶奶", "companionship", 1, 9),
    ("empty_nest", "李建国", "劲松一区 108 号楼 1 单元 602", "需要帮忙买菜", "meal_delivery",
     "为李爷爷送餐", "driving", 3, 11),
    ("disability", "赵明", "劲松一区 110 号楼 3 单元 101", "轮椅使用者", "escort_hospital",
     "陪同赵先生复诊", "first_aid", 4, 8),
]


def _demo_needs(community, rng: random.Random, today: date) -> None:
    """A few beneficiaries of the organizer's community, each with an open weekly need."""
    from volunteer_hub.needs import services as needs

    for category, name, address, notes, need_type, title, skill, weekday, hour in DEMO_NEEDS:
        lat = community.lat + rng.uniform(-0.002, 0.002)
        lon = community.lon + rng.uniform(-0.002, 0.002)
        person = needs.create_beneficiary({
            "category": category, "name": name, "gender": rng.choice(("male", "female")),
            "community_id": community.id, "address": address, "phone": "13800138000",
            "care_notes": notes, "lat": lat, "lon": lon}, by=None)
        first = today + timedelta(days=(weekday - today.weekday()) % 7 or 7)
        need = needs.create_need({
            "org_id": community.id, "beneficiary_id": person.id, "type": need_type,
            "title": title, "first_date": first, "start_minute": hour * 60,
            "end_minute": hour * 60 + 120, "lat": lat, "lon": lon, "max_distance_km": 5.0,
            "required_skills": [{"code": skill, "level": 1}]}, by=None)
        needs.set_need_state(need, "open", by=None)


# --- a past: six months of service, a few starred volunteers, an earlier drill ----------------

HISTORY_WEEKS = 26
STARRED = 4  # regulars of 劲松一区 who came every week: over 100 hours, one star
WEEKLY_HOURS = 4


def _served(activity, volunteer) -> None:
    """Checked in and out with the activity's code at its start and end (the volunteer's own
    taps, as on their phone); verified later in one batch."""
    from volunteer_hub.records import services as records

    code = {"code": activity.checkin_code}
    records.check_in(activity, volunteer, "code", code, by=None, now=activity.starts_at)
    records.check_out(activity, volunteer, "code", code, by=None, now=activity.ends_at)


def _demo_history(rng: random.Random, communities, volunteers, organizer, today: date, *,
                  regular) -> None:
    """A weekly service morning in 劲松一区 and a monthly one in three other communities over
    the last six months, checked in by code and verified through the records service, so
    the hours, the ledger (a valid chain) and the star levels are those of real use."""
    from datetime import UTC, datetime

    from volunteer_hub.records import services as records

    def morning(day: date, hours: int) -> tuple[datetime, datetime]:
        start = datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)  # 09:00 Beijing
        return start, start + timedelta(hours=hours)

    home = communities[0]
    regulars = [regular] + [v for v in volunteers if v.community is home and v is not regular
                            and v.status == "active" and (today - v.birth_date).days >= 18 * 366]
    stars, occasional = regulars[:STARRED], regulars[STARRED:]
    pending = []
    for week in range(HISTORY_WEEKS, 0, -1):
        day = today - timedelta(days=7 * week + (today.weekday() - 5) % 7)  # a Saturday
        start, end = morning(day, WEEKLY_HOURS)
        activity = records.create_activity(home, {
            "name": "周末社区服务：环境整治与助老", "service_type": "community",
            "place": "劲松一区居委会", "starts_at": start, "ends_at": end}, by=None)
        for volunteer in stars + rng.sample(occasional, min(len(occasional), 3)):
            _served(activity, volunteer)
        pending.append(activity)
    for community in communities[1:4]:
        members = [v for v in volunteers if v.community is community and v.status == "active"]
        for month in range(6, 0, -1):
            start, end = morning(today - timedelta(days=30 * month + 2), 3)
            activity = records.create_activity(community, {
                "name": f"{community.name_zh}月度义诊与宣传", "service_type": "community",
                "starts_at": start, "ends_at": end}, by=None)
            for volunteer in rng.sample(members, min(len(members), 4)):
                _served(activity, volunteer)
            pending.append(activity)
    db.session.flush()
    from volunteer_hub.records.models import ServiceRecord

    record_ids = list(db.session.execute(db.select(ServiceRecord.id).where(
        ServiceRecord.activity_id.in_([a.id for a in pending]),
        ServiceRecord.status == "pending").order_by(ServiceRecord.id)).scalars())
    records.verify_records(record_ids, by=organizer)


def _past_drill(plan, coordinator, rng: random.Random) -> None:
    """The flood plan's drill of earlier today: called out two hours ago, answered through
    the links, roll-called and stood down, so its after-action report has a story."""
    from volunteer_hub.emergency import activation as activations
    from volunteer_hub.emergency import responses, rollcall
    from volunteer_hub.emergency.models import ActivationEvent, Responder

    activation = activations.activate(plan, level=3, is_drill=True, address="劲松街道应急站",
                                      note="夜间内涝转移演练", by=coordinator)
    start = activation.activated_at - timedelta(hours=2)
    _move_call_out_to(activation, start)
    people = list(db.session.execute(db.select(Responder).where(
        Responder.activation_id == activation.id).order_by(Responder.id)).scalars())
    for index, responder in enumerate(people):
        if index % 5 == 4:
            continue  # a fifth never answered
        answered = start + timedelta(minutes=2 + rng.random() * 20)
        if index % 5 == 3:
            responses.answer(responder, "cannot", channel="sms", now=answered)
            continue
        eta = rng.choice((10, 20, 30))
        responses.answer(responder, "coming", eta, channel="link", now=answered)
        responder.assigned_at = responder.assigned_at and answered
        if index % 7 != 6:  # one in seven of those coming did not turn up
            arrived = answered + timedelta(minutes=eta + rng.randint(-5, 10))
            rollcall.mark_arrived(activation, responder.id, by=coordinator, now=arrived)
            rollcall.confirm_safe(responder, by=coordinator, now=arrived + timedelta(minutes=80))
            rollcall.check_out(responder, by=coordinator, now=arrived + timedelta(minutes=85))
    for role in activation.roles:
        role.filled_at = role.filled_at and start + timedelta(minutes=25)
    for event in db.session.execute(db.select(ActivationEvent).where(
            ActivationEvent.activation_id == activation.id,
            ActivationEvent.kind == "assigned")).scalars():
        event.at = start + timedelta(minutes=5)
    activations.stand_down(activation, note="演练结束，全员安全。", by=coordinator)


def _move_call_out_to(activation, start) -> None:
    """Date a call-out written just now as having started at `start` (the demo's past)."""
    from volunteer_hub.emergency.models import ActivationEvent, Responder
    from volunteer_hub.notify.models import OutboxContent, OutboxMessage

    shift = activation.activated_at - start  # the outbox's naive UTC times shift alike
    activation.activated_at = start
    for event in db.session.execute(db.select(ActivationEvent).where(
            ActivationEvent.activation_id == activation.id)).scalars():
        event.at = event.at - shift
    for responder in db.session.execute(db.select(Responder).where(
            Responder.activation_id == activation.id)).scalars():
        responder.notified_at = responder.notified_at - shift
    prefix = f"emergency:{activation.id}:"
    for message in db.session.execute(db.select(OutboxMessage).where(
            OutboxMessage.event_key.startswith(prefix))).scalars():
        for column in ("created_at", "sent_at", "delivered_at", "next_attempt_at"):
            if getattr(message, column) is not None:
                setattr(message, column, getattr(message, column) - shift)
    for content in db.session.execute(db.select(OutboxContent).where(
            OutboxContent.event_key.startswith(prefix))).scalars():
        content.created_at = content.created_at - shift
    db.session.flush()


def build_demo(*, volunteers: int = 2000, seed: int = 2026, progress: bool = False) -> dict:
    """Create the demo and return the logins to print."""
    rng = random.Random(seed)
    today = date.today()
    password_hash = hash_password(DEMO_PASSWORD)  # one hash for all: argon2 is slow on purpose
    with transaction():
        city, district, communities = _build_orgs(rng)
        admin = _staff(city, "admin", "13000000001", "系统管理员", password_hash)
        organizer = _staff(communities[0], "organizer", "13000000002", "劲松一区组织者",
                           password_hash)
        coordinator = _staff(district, "coordinator", "13000000003", "朝阳区应急协调员",
                             password_hash)
        created, used_ids = [], set()
        bar = click.progressbar(range(1, volunteers + 1), label="Volunteers") if progress \
            else None
        iterator = bar.__enter__() if bar else range(1, volunteers + 1)
        for index in iterator:
            created.append(_volunteer(rng, index, communities[index % len(communities)],
                                      password_hash, today, used_ids))
            db.session.add(created[-1])
            if index % 500 == 0:
                db.session.flush()
        if bar:
            bar.__exit__(None, None, None)
        # The volunteer login printed by `make run`: an adult, and one of the regulars whose
        # hours, star and certificate the first visit shows.
        first = next(v for v in created if v.community is communities[0]
                     and (today - v.birth_date).days >= 18 * 366)
        first.status = "active"
        teams = _teams(rng, district, communities, created)
        db.session.flush()
        plan = _demo_plan(district, communities[0], teams)
        _demo_needs(communities[0], rng, today)
        _demo_history(rng, communities, created, organizer, today, regular=first)
        _past_drill(plan, coordinator, rng)
    return {"password": DEMO_PASSWORD, "admin": admin.phone, "organizer": organizer.phone,
            "coordinator": coordinator.phone, "volunteer": first.phone}
