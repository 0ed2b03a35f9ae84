from datetime import date

from tests import factories
from tests.web.helpers import login, post_form, text
from volunteer_hub.orgs.models import Team


def test_team_list_needs_a_role(client, tree, make_volunteer):
    assert client.get("/org/teams").status_code == 302
    login(client, make_volunteer(tree["a"]).user)
    assert client.get("/org/teams").status_code == 403


def test_create_team_and_add_remove_member(client, db, tree, make_staff, make_volunteer):
    volunteer = make_volunteer(tree["a"], real_name="队员甲")
    login(client, make_staff(tree["a"], "organizer"))
    assert client.get("/org/teams").status_code == 200
    response = post_form(client, "/org/teams", {
        "name": "医疗队", "org_id": str(tree["a"].id), "type": "medical"})
    assert response.status_code == 302, text(response)[:2000]
    team = db.session.execute(db.select(Team)).scalar_one()
    url = f"/org/teams/{team.id}"
    response = post_form(client, url, {"volunteer": volunteer.volunteer_number.lower(),
                                       "role": "leader"})
    assert response.status_code == 302, text(response)[:2000]
    html = text(client.get(url))
    assert "队员甲" in html and "Leader" in html
    response = post_form(client, f"{url}/members/{volunteer.id}/remove", {}, form_url=url)
    assert response.status_code == 302
    assert "队员甲" not in text(client.get(url))


def test_emergency_team_refuses_minor(client, db, tree, make_staff, make_volunteer):
    birth = date(date.today().year - 16, 1, 1)
    minor = make_volunteer(tree["a"], id_number=factories.make_id_number(birth=birth),
                           guardian={"name": "家长", "phone": factories.unique_phone()})
    login(client, make_staff(tree["a"], "organizer"))
    post_form(client, "/org/teams", {"name": "水上救援", "org_id": str(tree["a"].id),
                                     "type": "flood_water"})
    team = db.session.execute(db.select(Team)).scalar_one()
    response = post_form(client, f"/org/teams/{team.id}", {"volunteer": str(minor.id),
                                                            "role": "member"})
    assert response.status_code == 422
    assert "adults only" in text(response)


def test_member_out_of_scope_reads_as_unknown(client, db, tree, make_staff, make_volunteer):
    other = make_volunteer(tree["b"])
    login(client, make_staff(tree["a"], "organizer"))
    post_form(client, "/org/teams", {"name": "T", "org_id": str(tree["a"].id),
                                     "type": "professional"})
    team = db.session.execute(db.select(Team)).scalar_one()
    response = post_form(client, f"/org/teams/{team.id}", {"volunteer": other.volunteer_number,
                                                            "role": "member"})
    assert response.status_code == 422
    assert "No volunteer with this number in your area." in text(response)


def test_team_of_other_scope_is_404(client, db, tree, make_staff):
    from volunteer_hub.orgs.services import create_team

    team = create_team(tree["b"], name="B队", type="fire", by=None)
    db.session.commit()
    login(client, make_staff(tree["a"], "organizer"))
    assert client.get(f"/org/teams/{team.id}").status_code == 404
