"""Registration through the API: validation, one ID one account, encryption, masking."""
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import text

from tests.factories import PASSWORD, make_id_number, registration_data, unique_phone
from volunteer_hub.volunteers.models import Volunteer


def register(client, community, **overrides):
    return client.post("/api/v1/volunteers", json=registration_data(community, **overrides))


def test_pending_when_the_community_approves_newcomers_active_otherwise(client, tree):
    assert register(client, tree["a"]).get_json()["status"] == "pending"
    assert register(client, tree["b"]).get_json()["status"] == "active"


def test_gender_and_birth_date_come_from_the_mainland_id(client, tree, auth_header, db):
    number = make_id_number(birth=date(1985, 3, 9), gender="female")
    body = register(client, tree["a"], id_number=number).get_json()
    assert body["gender"] == "female"
    volunteer = db.session.get(Volunteer, body["id"])
    me = client.get("/api/v1/volunteers/me", headers=auth_header(volunteer.user)).get_json()
    assert me["birth_date"] == "1985-03-09"


def test_wrong_check_digit_gives_a_field_message(client, tree):
    number = make_id_number()
    wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
    response = register(client, tree["a"], id_number=wrong)
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "ID_CHECKSUM"
    assert body["code"] == 422 and body["status"] == "Unprocessable Entity"
    assert "id_number" in body["errors"]["json"]


def test_error_message_follows_the_request_language(client, tree):
    data = registration_data(tree["a"], id_number="110105491231002")
    zh = client.post("/api/v1/volunteers", json=data, headers={"Accept-Language": "zh-CN"})
    en = client.post("/api/v1/volunteers", json=data, headers={"Accept-Language": "en-US"})
    assert zh.get_json()["error"] == en.get_json()["error"] == "ID_LEGACY_15"
    assert "18" in en.get_json()["message"]
    assert zh.get_json()["message"] != en.get_json()["message"]


def test_missing_fields_are_listed_per_field(client, tree):
    response = client.post("/api/v1/volunteers", json={"real_name": "李四"})
    assert response.status_code == 422
    fields = response.get_json()["errors"]["json"]
    assert {"id_number", "phone", "password", "community_id", "agree_terms"} <= set(fields)


def test_second_registration_with_the_same_id_is_refused(client, tree, db):
    number = make_id_number()
    assert register(client, tree["a"], id_number=number).status_code == 201
    again = register(client, tree["b"], id_number=number.lower(), phone=unique_phone())
    assert again.status_code == 409
    assert again.get_json()["error"] == "ID_ALREADY_REGISTERED"
    assert db.session.query(Volunteer).count() == 1


def test_the_clear_id_number_never_reaches_the_database(client, tree, db, app):
    number = make_id_number()
    assert register(client, tree["a"], id_number=number).status_code == 201
    volunteer = db.session.query(Volunteer).one()
    assert number not in volunteer.id_number_encrypted
    assert number not in volunteer.id_number_hash
    if db.engine.dialect.name == "sqlite":
        db.session.commit()  # no open snapshot may hold the WAL back
        raw = db.engine.raw_connection()
        raw.execute("PRAGMA wal_checkpoint(FULL)")
        raw.close()
        raw = Path(db.engine.url.database).read_bytes()
        assert number.encode() not in raw
        assert b"\xe5\xbc\xa0\xe4\xb8\x89" in raw  # the name (张三) is there: we read the right file
    else:
        dump = db.session.execute(text("SELECT v::text FROM volunteers v")).scalars().all()
        assert all(number not in row for row in dump)


def test_masked_number_is_shown_and_the_clear_one_only_on_request(client, tree, auth_header, db):
    number = make_id_number()
    body = register(client, tree["a"], id_number=number).get_json()
    assert body["id_number_masked"] == number[:6] + "*" * 10 + number[-2:]
    assert "id_number" not in body
    user = db.session.get(Volunteer, body["id"]).user
    revealed = client.get(f"/api/v1/volunteers/{body['id']}/id-number",
                          headers=auth_header(user))
    assert revealed.get_json() == {"id_number": number}


def test_under_14_cannot_register_alone(client, tree):
    birth = date.today() - timedelta(days=12 * 365)
    response = register(client, tree["a"], id_number=make_id_number(birth=birth),
                        guardian={"name": "王芳", "phone": "13912345678"})
    assert response.status_code == 422
    assert response.get_json()["error"] == "MINOR_NEEDS_GUARDIAN_REGISTRATION"


def test_organizer_registers_a_child_with_guardian_consent(client, tree, make_staff, auth_header):
    organizer = make_staff(tree["a"], "organizer")
    birth = date.today() - timedelta(days=12 * 365)
    response = client.post(
        "/api/v1/volunteers", headers=auth_header(organizer),
        json=registration_data(tree["a"], id_number=make_id_number(birth=birth),
                               guardian={"name": "王芳", "phone": "13912345678",
                                         "relationship": "母亲"}))
    assert response.status_code == 201, response.get_json()


def test_a_minor_needs_a_guardian(client, tree):
    birth = date.today() - timedelta(days=16 * 365)
    response = register(client, tree["a"], id_number=make_id_number(birth=birth))
    assert response.get_json()["error"] == "GUARDIAN_CONSENT_REQUIRED"
    ok = register(client, tree["a"], id_number=make_id_number(birth=birth),
                  guardian={"name": "王芳", "phone": "139 1234 5678"})
    assert ok.status_code == 201


def test_consent_is_required(client, tree):
    response = register(client, tree["a"], agree_sensitive_data=False)
    assert response.get_json()["error"] == "CONSENT_REQUIRED"


def test_bad_phone_and_weak_password(client, tree):
    assert register(client, tree["a"], phone="12345").get_json()["error"] == "PHONE_FORMAT"
    assert register(client, tree["a"], password="12345678").get_json()["error"] == "PASSWORD_WEAK"


def test_grid_must_belong_to_the_community(client, tree):
    response = register(client, tree["a"], grid_id=tree["grid_b"].id)
    assert response.get_json()["error"] == "GRID_NOT_IN_COMMUNITY"


def test_idempotency_key_replays_the_first_result(client, tree, db):
    data = registration_data(tree["a"])
    headers = {"Idempotency-Key": "signup-1"}
    first = client.post("/api/v1/volunteers", json=data, headers=headers)
    second = client.post("/api/v1/volunteers", json=data, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert db.session.query(Volunteer).count() == 1
    other = client.post("/api/v1/volunteers", json={**data, "real_name": "李四"}, headers=headers)
    assert other.status_code == 409
    assert other.get_json()["error"] == "IDEMPOTENCY_KEY_REUSED"


def test_non_mainland_ids_need_birth_date_and_gender(client, tree):
    response = register(client, tree["a"], id_type="passport", id_number="E12345678")
    assert response.get_json()["error"] == "BIRTH_DATE_REQUIRED"
    ok = register(client, tree["a"], id_type="passport", id_number="E12345678",
                  birth_date="1990-01-02", gender="male")
    assert ok.status_code == 201


def test_login_after_registration_works_with_phone(client, tree):
    data = registration_data(tree["a"])
    client.post("/api/v1/volunteers", json=data)
    response = client.post("/api/v1/tokens", json={"login": data["phone"], "password": PASSWORD})
    assert response.status_code == 201
    assert response.get_json()["token"].startswith("vh_")
