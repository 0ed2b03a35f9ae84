from tests.web.helpers import login, post_form, text
from volunteer_hub.volunteers.models import Volunteer


def test_organizer_list_requires_login(client):
    response = client.get("/org/volunteers")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_organizer_list_shows_only_scope_and_filters(client, tree, make_staff, make_volunteer):
    mine = make_volunteer(tree["a"], real_name="甲社区人", skills=[{"code": "driving",
                                                                  "level": 2}])
    theirs = make_volunteer(tree["b"], real_name="乙社区人")
    organizer = make_staff(tree["a"], "organizer")
    login(client, organizer)
    html = text(client.get("/org/volunteers"))
    assert "甲社区人" in html and "乙社区人" not in html
    assert "Driving" in html
    assert "Pending approval" in html
    html = text(client.get("/org/volunteers?status=active"))
    assert "甲社区人" not in html
    html = text(client.get("/org/volunteers?skill=driving&min_level=3"))
    assert "甲社区人" not in html
    html = text(client.get("/org/volunteers?q=甲社区"))
    assert "甲社区人" in html
    assert theirs.id != mine.id


def test_organizer_list_paginates_20(client, tree, make_staff, make_volunteer):
    for i in range(21):
        make_volunteer(tree["a"], real_name=f"人{i:02d}")
    login(client, make_staff(tree["a"], "organizer"))
    first = text(client.get("/org/volunteers"))
    assert "21 volunteers found" in first
    assert first.count('class="rowlink"') == 20
    assert "Page 1 of 2" in first
    second = text(client.get("/org/volunteers?page=2"))
    assert second.count('class="rowlink"') == 1


def test_organizer_approves_pending_volunteer(client, db, tree, make_staff, make_volunteer):
    volunteer = make_volunteer(tree["a"])
    assert volunteer.status == "pending"
    login(client, make_staff(tree["a"], "organizer"))
    url = f"/org/volunteers/{volunteer.id}"
    assert client.get(url).status_code == 200
    response = post_form(client, f"{url}/status", {"status": "active"}, form_url=url)
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    assert 'data-status="active"' in text(page)
    db.session.expire_all()
    assert db.session.get(Volunteer, volunteer.id).status == "active"


def test_suspend_needs_a_reason(client, db, tree, make_staff, make_volunteer):
    volunteer = make_volunteer(tree["b"])  # community B needs no approval: active at once
    assert volunteer.status == "active"
    login(client, make_staff(tree["b"], "organizer"))
    url = f"/org/volunteers/{volunteer.id}"
    response = post_form(client, f"{url}/status", {"status": "suspended", "reason": ""},
                         form_url=url)
    assert response.status_code == 422
    assert "Give a reason for the suspension." in text(response)
    response = post_form(client, f"{url}/status", {"status": "suspended", "reason": "迟到"},
                         form_url=url)
    assert response.status_code == 302
    response = post_form(client, f"{url}/status", {"status": "active"}, form_url=url)
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Volunteer, volunteer.id).status == "active"


def test_organizer_of_a_gets_404_for_volunteer_of_b(client, tree, make_staff, make_volunteer):
    other = make_volunteer(tree["b"])
    login(client, make_staff(tree["a"], "organizer"))
    assert client.get(f"/org/volunteers/{other.id}").status_code == 404
    assert client.get("/org/volunteers/999999").status_code == 404
    response = post_form(client, f"/org/volunteers/{other.id}/status", {"status": "active"},
                         form_url="/org/volunteers")
    assert response.status_code == 404


def test_confirm_skill_reveal_id_and_reset_password(client, db, tree, make_staff,
                                                    make_volunteer):
    volunteer = make_volunteer(tree["a"], skills=[{"code": "first_aid", "level": 1}])
    login(client, make_staff(tree["a"], "organizer"))
    url = f"/org/volunteers/{volunteer.id}"
    response = post_form(client, f"{url}/skills/first_aid/confirm", {"level": "2"},
                         form_url=url)
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Volunteer, volunteer.id).skills[0].confirmed_level == 2

    response = post_form(client, f"{url}/reveal-id", {}, form_url=url)
    assert response.status_code == 200
    assert 'id="revealed-id"' in text(response)

    response = post_form(client, f"{url}/reset-password", {}, form_url=url)
    assert response.status_code == 200
    assert 'id="temporary-password"' in text(response)
    db.session.expire_all()
    assert db.session.get(Volunteer, volunteer.id).user.must_change_password


def test_coordinator_reads_but_cannot_approve(client, db, tree, make_staff, make_volunteer):
    volunteer = make_volunteer(tree["a"])
    login(client, make_staff(tree["district"], "coordinator"))
    url = f"/org/volunteers/{volunteer.id}"
    html = text(client.get(url))
    assert 'id="approve"' not in html
    response = post_form(client, f"{url}/status", {"status": "active"}, form_url=url)
    assert response.status_code in (403, 404)
    db.session.expire_all()
    assert db.session.get(Volunteer, volunteer.id).status == "pending"
