from datetime import date

from tests import factories
from tests.web.helpers import login, post_form, signup_data, text
from volunteer_hub.volunteers.models import Volunteer


def test_signup_page_renders_for_anonymous(client, tree):
    response = client.get("/signup")
    assert response.status_code == 200
    html = text(response)
    assert "Only for volunteers under 18" in html
    assert 'name="agree_sensitive_data"' in html
    assert "甲一网格" in html  # grids listed, grouped by community


def test_signup_without_csrf_is_rejected(client, tree):
    response = client.post("/signup", data=signup_data(tree["a"]))
    assert response.status_code == 400


def test_signup_with_bad_id_shows_checksum_message_and_keeps_values(client, tree):
    good = factories.make_id_number()
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    response = post_form(client, "/signup", signup_data(
        tree["a"], id_number=bad, real_name="王小明", password="secret123"))
    assert response.status_code == 422
    html = text(response)
    assert "The last character does not match" in html
    assert 'value="王小明"' in html
    assert f'value="{bad}"' in html
    assert "secret123" not in html


def test_signup_needs_both_consents(client, tree):
    data = signup_data(tree["a"])
    del data["agree_sensitive_data"]
    response = post_form(client, "/signup", data)
    assert response.status_code == 422
    assert "Please agree to the service terms" in text(response)


def test_signup_minor_without_guardian_is_refused(client, tree):
    today = date.today()
    birth = date(today.year - 15, 1, 1)
    response = post_form(client, "/signup", signup_data(
        tree["a"], id_number=factories.make_id_number(birth=birth)))
    assert response.status_code == 422
    assert "need a guardian" in text(response)


def test_signup_success_logs_in_and_shows_pending_profile(client, db, tree):
    data = signup_data(tree["a"], grid_id=str(tree["grid_a"].id), skill_first_aid="2",
                       languages=["zh", "en"])
    response = post_form(client, "/signup", data)
    assert response.status_code == 302, text(response)[:3000]
    assert response.headers["Location"].endswith("/me")
    volunteer = db.session.execute(db.select(Volunteer)).scalar_one()
    assert volunteer.grid_id == tree["grid_a"].id
    assert [s.skill_code for s in volunteer.skills] == ["first_aid"]
    profile = client.get("/me")
    html = text(profile)
    assert profile.status_code == 200
    assert "pending approval" in html
    assert 'data-status="pending"' in html
    assert volunteer.id_number_masked in html
    assert data["id_number"] not in html


def test_profile_requires_login(client):
    response = client.get("/me")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_profile_editors_render(client, tree, make_volunteer):
    volunteer = make_volunteer(tree["a"])
    login(client, volunteer.user)
    for url in ("/me", "/me/edit", "/me/skills", "/me/certifications", "/me/availability",
                "/me/consents"):
        assert client.get(url).status_code == 200, url


def test_volunteer_cannot_open_organizer_pages(client, tree, make_volunteer):
    volunteer = make_volunteer(tree["a"])
    login(client, volunteer.user)
    assert client.get("/org/volunteers").status_code == 403
    assert client.get(f"/org/volunteers/{volunteer.id}").status_code == 403
    assert client.get("/org/teams").status_code == 403


def test_edit_profile_and_skills(client, db, tree, make_volunteer):
    volunteer = make_volunteer(tree["a"])
    login(client, volunteer.user)
    response = post_form(client, "/me/edit", {
        "real_name": "张三丰", "phone": volunteer.phone, "community_id": str(tree["a"].id),
        "grid_id": str(tree["grid_a"].id), "languages": ["zh", "yue"]})
    assert response.status_code == 302, text(response)[:2000]
    response = post_form(client, "/me/skills", {"skill_driving": "3", "skill_cooking": "1"})
    assert response.status_code == 302
    db.session.expire_all()
    volunteer = db.session.get(Volunteer, volunteer.id)
    assert volunteer.real_name == "张三丰"
    assert volunteer.grid_id == tree["grid_a"].id
    assert volunteer.language_list == ["zh", "yue"]
    assert {s.skill_code: s.level for s in volunteer.skills} == {"driving": 3, "cooking": 1}


def test_certifications_add_mark_expired_and_remove(client, db, tree, make_volunteer):
    volunteer = make_volunteer(tree["a"])
    login(client, volunteer.user)
    response = post_form(client, "/me/certifications", {
        "kind": "first_aid", "issuer": "红十字会", "issued_on": "2020-01-01",
        "expires_on": "2021-01-01"})
    assert response.status_code == 302, text(response)[:2000]
    page = text(client.get("/me"))
    assert "Expired" in page
    cert_id = db.session.get(Volunteer, volunteer.id).certifications[0].id
    response = post_form(client, f"/me/certifications/{cert_id}/delete", {},
                         form_url="/me/certifications")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Volunteer, volunteer.id).certifications == []


def test_certification_future_issue_date_shows_error(client, tree, make_volunteer):
    volunteer = make_volunteer(tree["a"])
    login(client, volunteer.user)
    response = post_form(client, "/me/certifications", {
        "kind": "first_aid", "issuer": "x", "issued_on": f"{date.today().year + 1}-01-01"})
    assert response.status_code == 422
    assert "cannot be in the future" in text(response)


def test_availability_rows(client, db, tree, make_volunteer):
    volunteer = make_volunteer(tree["a"])
    login(client, volunteer.user)
    response = post_form(client, "/me/availability", {
        "windows-0-weekday": "0", "windows-0-start": "08:00", "windows-0-end": "12:00",
        "windows-1-weekday": "5", "windows-1-start": "14:00", "windows-1-end": "18:30",
        "windows-2-weekday": "", "windows-2-start": "", "windows-2-end": "",
        "exceptions-0-day": "2030-10-01", "exceptions-0-available": "0",
        "exceptions-0-note": "holiday"})
    assert response.status_code == 302, text(response)[:3000]
    db.session.expire_all()
    v = db.session.get(Volunteer, volunteer.id)
    assert [(w.weekday, w.start_minute, w.end_minute) for w in v.availability] == [
        (0, 480, 720), (5, 840, 1110)]
    assert v.exceptions[0].day == date(2030, 10, 1)
    page = text(client.get("/me"))
    assert "08:00–12:00" in page

    response = post_form(client, "/me/availability", {
        "windows-0-weekday": "0", "windows-0-start": "08:00", "windows-0-end": "12:00",
        "windows-1-weekday": "0", "windows-1-start": "11:00", "windows-1-end": "13:00"})
    assert response.status_code == 422
    assert "overlap" in text(response)


def test_withdrawing_sensitive_consent_ends_service(client, db, tree, make_volunteer):
    volunteer = make_volunteer(tree["a"])
    login(client, volunteer.user)
    page = text(client.get("/me/consents"))
    assert "ends your active service" in page
    consent = next(c for c in volunteer.consents if c.kind == "sensitive_data")
    response = post_form(client, f"/me/consents/{consent.id}/withdraw", {},
                         form_url="/me/consents")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Volunteer, volunteer.id).status == "left"
