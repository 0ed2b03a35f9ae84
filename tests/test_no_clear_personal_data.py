"""No personal value is stored in clear: walk the demo and the main journeys, then read every
column of every table (on the engine under test) looking for each value the walk used.

Values looked for: ID numbers (as typed and normalized), guardians' names and phones,
beneficiaries' names, addresses and phones. Not looked for, by design: a volunteer's own
name and mobile number, which are their public display name and their login (users.phone,
unique, and the address the notification fan-out sends SMS to in SQL).
"""
from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa

from tests.factories import PASSWORD, make_id_number, unique_phone
from tests.needs.helpers import next_weekday
from volunteer_hub.demo import DEMO_PASSWORD, build_demo
from volunteer_hub.needs.models import Beneficiary
from volunteer_hub.accounts.models import User
from volunteer_hub.security import decrypt
from volunteer_hub.volunteers.models import Consent, Volunteer

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")

# Distinctive values, so that a hit can only be the value itself.
GUARDIAN_AT_REGISTRATION = {"name": "欧阳守护甲", "phone": "13812340001"}
GUARDIAN_LATER = {"name": "司马监护乙", "phone": "13812340002", "relationship": "母亲"}
BENEFICIARY = {"name": "诸葛测试丙", "address": "清晰路 99 号 7 单元 301 室",
               "phone": "13812340003", "care_notes": "糖尿病，每天注射胰岛素"}


def _token(client, login: str, password: str) -> dict:
    response = client.post("/api/v1/tokens", json={"login": login, "password": password})
    assert response.status_code == 201, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def _ok(response, status=(200, 201)):
    assert response.status_code in ((status,) if isinstance(status, int) else status), \
        response.get_json()
    return response.get_json()


def _register(client, community_id: int, id_number: str, *, headers=None, **extra) -> dict:
    body = {"real_name": "测试志愿者", "id_type": "mainland_id", "id_number": id_number,
            "phone": unique_phone(), "password": PASSWORD, "community_id": community_id,
            "agree_terms": True, "agree_sensitive_data": True, **extra}
    return _ok(client.post("/api/v1/volunteers", json=body, headers=headers or {}), 201)


def walk_the_journeys(client, db) -> set[str]:
    """Registration with an ID, a minor with a guardian, a later guardian consent, a
    beneficiary (with an Idempotency-Key), a need, matching, a sign-up, the task view."""
    logins = build_demo(volunteers=60, seed=11)
    organizer = _token(client, logins["organizer"], DEMO_PASSWORD)
    community = db.session.scalars(sa.select(User).where(User.phone == logins["organizer"])
                                   ).one().grants[0].org  # the demo's 劲松一区社区

    adult_id = make_id_number()
    adult = _register(client, community.id, adult_id[:17].translate(FULL_WIDTH) + adult_id[17])
    _ok(client.put(f"/api/v1/volunteers/{adult['id']}/status", json={"status": "active"},
                   headers=organizer))
    minor_id = make_id_number(birth=next_weekday(0).replace(year=next_weekday(0).year - 16))
    minor = _register(client, community.id, minor_id, headers=organizer,
                      guardian=dict(GUARDIAN_AT_REGISTRATION))
    _ok(client.post(f"/api/v1/volunteers/{minor['id']}/consents", headers=organizer,
                    json={"kind": "guardian", "guardian": dict(GUARDIAN_LATER)}), 201)

    beneficiary = _ok(client.post(
        "/api/v1/beneficiaries", headers={**organizer, "Idempotency-Key": "journey-ben-1"},
        json={"category": "elderly_alone", "gender": "female", "community_id": community.id,
              "lat": community.lat, "lon": community.lon, **BENEFICIARY}), 201)
    volunteer = _token(client, adult["phone"], PASSWORD)
    _ok(client.put(f"/api/v1/volunteers/{adult['id']}/availability", headers=volunteer, json={
        "windows": [{"weekday": d, "start_minute": 0, "end_minute": 1440} for d in range(7)]}))
    _ok(client.patch(f"/api/v1/volunteers/{adult['id']}", headers=volunteer,
                     json={"lat": community.lat, "lon": community.lon}))

    day = next_weekday(2)
    need = _ok(client.post("/api/v1/needs", headers=organizer, json={
        "org_id": community.id, "beneficiary_id": beneficiary["id"], "type": "home_visit",
        "title": "陪伴聊天", "first_date": day.isoformat(), "start_minute": 9 * 60,
        "end_minute": 11 * 60, "max_distance_km": 50, "volunteers_per_occurrence": 3,
        "publish": True}), 201)
    run = _ok(client.post("/api/v1/matching-runs", headers=organizer, json={
        "org_id": community.id, "start": (day - timedelta(days=1)).isoformat(),
        "end": (day + timedelta(days=1)).isoformat()}), 201)
    proposals = _ok(client.get(f"/api/v1/assignments?run_id={run['id']}",
                               headers=organizer))["items"]
    assert proposals, "matching proposed nobody: the journey would skip the confirmations"
    for assignment in proposals:  # each confirmation notifies a volunteer
        _ok(client.post(f"/api/v1/assignments/{assignment['id']}/confirm", headers=organizer))
    mine = [a for a in proposals if a["volunteer_id"] == adult["id"]]
    if mine:
        _ok(client.post(f"/api/v1/assignments/{mine[0]['id']}/accept", headers=volunteer))
    else:
        _ok(client.get("/api/v1/me/open-needs", headers=volunteer))
        _ok(client.post(f"/api/v1/needs/{need['id']}/signups", headers=volunteer, json={}), 201)
    task = _ok(client.get(f"/api/v1/beneficiaries/{beneficiary['id']}", headers=volunteer))
    assert task["access"] == "task" and task.get("address") == BENEFICIARY["address"]
    _ok(client.get("/api/v1/me/notifications", headers=volunteer))
    db.session.expire_all()
    return _personal_values(db) | {adult_id[:17].translate(FULL_WIDTH) + adult_id[17]}


def _personal_values(db) -> set[str]:
    """Every personal value now held, read back through decryption (the demo's too)."""
    values = set()
    for volunteer in db.session.scalars(sa.select(Volunteer)):
        values.add(decrypt(volunteer.id_number_encrypted))
    for consent in db.session.scalars(sa.select(Consent).where(Consent.kind == "guardian")):
        values |= {consent.guardian_name, consent.guardian_phone}
    for person in db.session.scalars(sa.select(Beneficiary)):
        values |= {decrypt(person.name_encrypted), decrypt(person.address_encrypted),
                   decrypt(person.phone_encrypted), decrypt(person.guardian_name_encrypted),
                   decrypt(person.guardian_phone_encrypted)}
    values.discard(None)
    expected = {GUARDIAN_AT_REGISTRATION["name"], GUARDIAN_LATER["phone"],
                BENEFICIARY["name"], BENEFICIARY["address"], BENEFICIARY["phone"]}
    assert expected <= values, "the journeys did not store what they should have"
    return values


def _cell_texts(value) -> list[str]:
    """A cell as text, JSON also with its \\u escapes undone (SQLite stores JSON as text)."""
    if value is None or isinstance(value, (int, float, bool)):
        return []
    if isinstance(value, (dict, list)):
        return [json.dumps(value, ensure_ascii=False, default=str)]
    if isinstance(value, (bytes, memoryview)):
        value = bytes(value).decode("utf-8", "replace")
    text = str(value)
    texts = [text]
    if text[:1] in "[{\"":
        try:
            texts.append(json.dumps(json.loads(text), ensure_ascii=False))
        except ValueError:
            pass
    return texts


def clear_occurrences(db, values: set[str], names_by_design: set[str]) -> list[tuple]:
    """(table, column, value) for every cell of every table that holds a value in clear."""
    found = []
    inspector = sa.inspect(db.engine)
    with db.engine.connect() as connection:
        for table in inspector.get_table_names():
            result = connection.execute(sa.text(f'SELECT * FROM "{table}"'))
            columns = list(result.keys())
            for row in result:
                for column, cell in zip(columns, row):
                    for text in _cell_texts(cell):
                        found += [(table, column, value) for value in values
                                  if value in text and text not in names_by_design]
    return sorted(set(found))


def test_no_personal_value_is_stored_in_clear_anywhere(client, db):
    values = walk_the_journeys(client, db)
    # A volunteer's own name is shown to everyone who manages them: not secret, and a short
    # beneficiary or guardian name of the demo may equal one of them.
    names_by_design = set(db.session.scalars(sa.select(Volunteer.real_name))) | set(
        db.session.scalars(sa.text("SELECT display_name FROM users")))
    assert clear_occurrences(db, values, names_by_design) == []
