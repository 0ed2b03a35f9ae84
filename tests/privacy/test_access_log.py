"""Revealing a full ID number is an access-log row: admins of the org and the person see it."""
from __future__ import annotations

from sqlalchemy import select

from tests.web.helpers import login, post_form, text
from volunteer_hub.privacy.models import PersonalDataAccess


def _rows(db):
    return db.session.execute(select(PersonalDataAccess).order_by(PersonalDataAccess.id)) \
        .scalars().all()


def test_an_organizer_reveal_is_recorded_the_persons_own_is_not(client, db, tree,
                                                                make_volunteer, make_staff,
                                                                auth_header):
    volunteer = make_volunteer(tree["b"], real_name="赵六")
    organizer = make_staff(tree["b"], "organizer", name="乙社区组织者")
    own = client.get(f"/api/v1/volunteers/{volunteer.id}/id-number",
                     headers=auth_header(volunteer.user))
    assert own.status_code == 200 and _rows(db) == []
    seen = client.get(f"/api/v1/volunteers/{volunteer.id}/id-number",
                      headers=auth_header(organizer))
    assert seen.status_code == 200
    (row,) = _rows(db)
    assert (row.kind, row.subject_user_id, row.actor_user_id, row.route) == (
        "id_reveal", volunteer.user_id, organizer.id, "api.volunteers.id-number")
    assert row.org_path == volunteer.org_path
    # a refused reveal (out of scope) records nothing
    stranger = make_staff(tree["a"], "organizer")
    assert client.get(f"/api/v1/volunteers/{volunteer.id}/id-number",
                      headers=auth_header(stranger)).status_code == 404
    assert len(_rows(db)) == 1


def test_the_org_page_reveal_is_recorded(client, db, tree, make_volunteer, make_staff):
    volunteer = make_volunteer(tree["b"])
    organizer = make_staff(tree["b"], "organizer")
    login(client, organizer)
    response = post_form(client, f"/org/volunteers/{volunteer.id}/reveal-id", {},
                         form_url=f"/org/volunteers/{volunteer.id}")
    assert response.status_code == 200
    assert [row.route for row in _rows(db)] == ["web.org.volunteers.reveal-id"]


def test_admins_see_their_orgs_log_and_the_person_sees_who(client, db, tree, make_volunteer,
                                                           make_staff, auth_header):
    volunteer = make_volunteer(tree["b"], real_name="赵六")
    organizer = make_staff(tree["b"], "organizer", name="乙社区组织者")
    client.get(f"/api/v1/volunteers/{volunteer.id}/id-number", headers=auth_header(organizer))
    street_admin = make_staff(tree["street"], "admin")
    other_admin = make_staff(tree["a"], "admin")
    listed = client.get("/api/v1/access-log", headers=auth_header(street_admin)).get_json()
    assert [(e["kind"], e["actor_name"]) for e in listed] == [("id_reveal", "乙社区组织者")]
    assert listed[0]["at"].endswith("+00:00")
    assert client.get("/api/v1/access-log", headers=auth_header(other_admin)).get_json() == []
    mine = client.get("/api/v1/me/access-log", headers=auth_header(volunteer.user)).get_json()
    assert [e["actor_name"] for e in mine] == ["乙社区组织者"]
    coordinator = make_staff(tree["b"], "coordinator")
    assert client.get("/api/v1/access-log",
                      headers=auth_header(coordinator)).status_code == 403
    login(client, street_admin)
    assert "/org/privacy" in text(client.get("/account"))
    page = text(client.get("/org/privacy"))
    assert "乙社区组织者" in page and "赵六" in page
    client.post("/logout")
    login(client, volunteer.user)
    assert "乙社区组织者" in text(client.get("/account/privacy"))


def test_nothing_is_recorded_as_seen_once_the_account_is_closed(client, db, tree,
                                                                make_volunteer, make_staff,
                                                                auth_header, caplog):
    """The closed profile holds no ID number: the log must not claim one was viewed."""
    from volunteer_hub.privacy.closure import close_account

    volunteer = make_volunteer(tree["b"])
    organizer = make_staff(tree["b"], "organizer")
    close_account(volunteer.user, reason="self")
    db.session.commit()
    seen = client.get(f"/api/v1/volunteers/{volunteer.id}/id-number",
                      headers=auth_header(organizer))
    assert seen.status_code == 200 and seen.get_json()["id_number"] == ""
    assert _rows(db) == []
    assert "DATA_ENCRYPTION_KEY" not in caplog.text  # no false alarm about the key
    stranger = make_staff(tree["a"], "organizer")  # the scope is still checked
    assert client.get(f"/api/v1/volunteers/{volunteer.id}/id-number",
                      headers=auth_header(stranger)).status_code == 404
