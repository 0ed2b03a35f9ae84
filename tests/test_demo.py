"""The demo builder makes a believable, valid district."""
from volunteer_hub.demo import build_demo
from volunteer_hub.orgs.models import Org, Team
from volunteer_hub.volunteers.idnumbers import parse_mainland_id
from volunteer_hub.security import decrypt
from volunteer_hub.volunteers.models import Volunteer


def test_demo_district(db, client):
    logins = build_demo(volunteers=120, seed=7)
    levels = [org.level for org in db.session.query(Org)]
    assert levels.count("street") == 3 and levels.count("community") == 12
    assert levels.count("grid") == 36
    volunteers = db.session.query(Volunteer).all()
    assert len(volunteers) == 120
    for volunteer in volunteers[:20]:
        parsed = parse_mainland_id(decrypt(volunteer.id_number_encrypted))
        assert parsed.birth_date == volunteer.birth_date and parsed.gender == volunteer.gender
        assert volunteer.org_path.startswith(volunteer.community.path)
    assert db.session.query(Team).count() == 5
    from volunteer_hub.needs.models import Need

    open_needs = db.session.query(Need).filter_by(state="open").all()
    assert len(open_needs) == 3 and all(need.slots for need in open_needs)
    for role in ("admin", "organizer", "coordinator", "volunteer"):
        response = client.post("/api/v1/tokens", json={"login": logins[role],
                                                       "password": logins["password"]})
        assert response.status_code == 201, role


def test_demo_volunteer_downloads_a_certificate(db, client):
    """The demo's communities carry what a certificate cannot be issued without (负责人,
    经办人, 联系方式, a valid credit code), so its regular volunteer gets one."""
    from volunteer_hub.orgs import credit_code

    logins = build_demo(volunteers=60, seed=7)
    communities = db.session.query(Org).filter_by(level="community").all()
    assert all(credit_code.is_valid(org.credit_code) and org.person_in_charge
               and org.handler and org.contact for org in communities)
    token = client.post("/api/v1/tokens", json={"login": logins["volunteer"],
                                                "password": logins["password"]}).get_json()
    headers = {"Authorization": f"Bearer {token['token']}"}
    me = client.get("/api/v1/volunteers/me", headers=headers).get_json()
    response = client.get(f"/api/v1/volunteers/{me['id']}/certificate.pdf", headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.data.startswith(b"%PDF")
