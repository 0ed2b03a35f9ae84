"""Personal data shown only to whom it is for: birth dates, guardians, home moves, distances."""
from datetime import date, timedelta

from sqlalchemy import text as sql

from tests.factories import make_id_number
from tests.needs import helpers as needs_helpers
from tests.web.helpers import login, text
from volunteer_hub.db import db as _db, utcnow
from volunteer_hub.volunteers.idnumbers import age_on
from volunteer_hub.volunteers.models import HomeLocationChange

BIRTH = date(1985, 3, 9)


# --- birth date or age ----------------------------------------------------------------------

def test_whoever_may_not_reveal_the_id_sees_an_age_not_the_birth_date(
        client, tree, make_volunteer, make_staff, auth_header):
    volunteer = make_volunteer(tree["a"], id_number=make_id_number(birth=BIRTH))
    coordinator = make_staff(tree["district"], "coordinator")
    body = client.get(f"/api/v1/volunteers/{volunteer.id}",
                      headers=auth_header(coordinator)).get_json()
    assert body["birth_date"] is None
    assert body["age"] == age_on(BIRTH, date.today())
    assert BIRTH.isoformat() not in str(body) and BIRTH.strftime("%Y%m%d") not in str(body)


def test_organizers_and_the_volunteer_see_the_birth_date(
        client, tree, make_volunteer, make_staff, auth_header):
    volunteer = make_volunteer(tree["a"], id_number=make_id_number(birth=BIRTH))
    organizer = make_staff(tree["a"], "organizer")
    for user in (organizer, volunteer.user):
        body = client.get(f"/api/v1/volunteers/{volunteer.id}",
                          headers=auth_header(user)).get_json()
        assert body["birth_date"] == BIRTH.isoformat()


def test_the_volunteer_page_shows_a_coordinator_the_age_only(client, tree, make_volunteer,
                                                              make_staff):
    volunteer = make_volunteer(tree["a"], id_number=make_id_number(birth=BIRTH))
    coordinator = make_staff(tree["district"], "coordinator")
    coordinator.locale = "en"
    _db.session.commit()
    login(client, coordinator)
    page = text(client.get(f"/org/volunteers/{volunteer.id}"))
    assert BIRTH.isoformat() not in page and "Date of birth" not in page
    assert f"<dt>Age</dt><dd>{age_on(BIRTH, date.today())}</dd>" in page


# --- the guardian of a minor ----------------------------------------------------------------

def _minor(make_volunteer, community, **guardian):
    birth = date.today().replace(year=date.today().year - 16) - timedelta(days=3)
    return make_volunteer(community, id_number=make_id_number(birth=birth),
                          guardian={"name": "赵监护", "phone": "13912345678", **guardian})


def test_a_guardians_name_and_phone_are_stored_encrypted(tree, make_volunteer, db):
    volunteer = _minor(make_volunteer, tree["b"])
    rows = db.session.execute(sql(
        "SELECT guardian_name_encrypted, guardian_phone_encrypted FROM consents "
        "WHERE kind = 'guardian'")).all()
    assert len(rows) == 1
    assert "赵监护" not in str(rows) and "13912345678" not in str(rows)
    guardian = next(c for c in volunteer.consents if c.kind == "guardian")
    assert (guardian.guardian_name, guardian.guardian_phone) == ("赵监护", "13912345678")


def test_the_volunteer_still_reads_the_guardians_name(client, tree, make_volunteer,
                                                      auth_header):
    volunteer = _minor(make_volunteer, tree["b"])
    consents = client.get(f"/api/v1/volunteers/{volunteer.id}/consents",
                          headers=auth_header(volunteer.user)).get_json()
    assert [c["guardian_name"] for c in consents if c["kind"] == "guardian"] == ["赵监护"]


def test_a_guardian_phone_in_full_width_digits_is_stored_in_ascii(tree, make_volunteer):
    volunteer = _minor(make_volunteer, tree["b"], phone="１３９１２３４５６７８")
    guardian = next(c for c in volunteer.consents if c.kind == "guardian")
    assert guardian.guardian_phone == "13912345678"


# --- moving one's home ----------------------------------------------------------------------

def _move(client, volunteer, headers, step):
    return client.patch(f"/api/v1/volunteers/{volunteer.id}", headers=headers,
                        json={"lat": 31.2 + step / 100, "lon": 121.47})


def test_a_volunteer_may_move_home_three_times_in_thirty_days(client, tree, make_volunteer,
                                                               auth_header):
    volunteer = make_volunteer(tree["b"], lat=31.2, lon=121.47)
    headers = {**auth_header(volunteer.user), "Accept-Language": "zh-CN"}
    assert [_move(client, volunteer, headers, step).status_code for step in (1, 2, 3)] == \
        [200, 200, 200]
    refused = _move(client, volunteer, headers, 4)
    assert refused.status_code == 429
    body = refused.get_json()
    assert body["error"] == "HOME_LOCATION_CHANGE_LIMIT"
    assert "30 天内最多可修改 3 次" in body["errors"]["json"]["lat"][0]
    me = client.get(f"/api/v1/volunteers/{volunteer.id}", headers=headers).get_json()
    assert me["lat"] == 31.23  # the refused move changed nothing


def test_saving_the_same_point_again_is_not_a_move(client, tree, make_volunteer, auth_header):
    volunteer = make_volunteer(tree["b"], lat=31.2, lon=121.47)
    headers = auth_header(volunteer.user)
    for _ in range(5):
        response = client.patch(f"/api/v1/volunteers/{volunteer.id}", headers=headers,
                                json={"lat": 31.2, "lon": 121.47, "real_name": "王五"})
        assert response.status_code == 200


def test_moves_older_than_the_window_no_longer_count(client, tree, make_volunteer, auth_header,
                                                     db):
    volunteer = make_volunteer(tree["b"], lat=31.2, lon=121.47)
    headers = auth_header(volunteer.user)
    for step in (1, 2, 3):
        assert _move(client, volunteer, headers, step).status_code == 200
    db.session.execute(HomeLocationChange.__table__.update().values(
        changed_at=utcnow() - timedelta(days=31)))
    db.session.commit()
    assert _move(client, volunteer, headers, 4).status_code == 200


def test_an_organizer_correcting_a_home_is_not_limited(client, tree, make_volunteer,
                                                       make_staff, auth_header):
    volunteer = make_volunteer(tree["b"], lat=31.2, lon=121.47)
    headers = auth_header(make_staff(tree["b"], "organizer"))
    assert {_move(client, volunteer, headers, step).status_code
            for step in range(1, 6)} == {200}


# --- distance to an open need ---------------------------------------------------------------

def _need_far_from_its_community_centre(tree):
    """The community's centre 4.4 km north of the need's own point (a beneficiary's home)."""
    tree["b"].lat, tree["b"].lon = needs_helpers.LAT + 0.04, needs_helpers.LON
    need = needs_helpers.need(tree["b"], lat=needs_helpers.LAT, lon=needs_helpers.LON,
                              max_distance_km=10)
    return need


def test_open_needs_give_a_band_from_the_community_centre_not_from_the_point(
        client, tree, auth_header):
    need = _need_far_from_its_community_centre(tree)
    # Standing on the need's own point: the band still says 3-5 km (to the centre).
    volunteer = needs_helpers.volunteer(tree["b"], lat=needs_helpers.LAT, lon=needs_helpers.LON)
    headers = {**auth_header(volunteer.user), "Accept-Language": "zh-CN"}
    items = client.get("/api/v1/me/open-needs", headers=headers).get_json()
    assert [(i["need"]["id"], i["distance_band"]) for i in items] == [(need.id, "3_to_5_km")]
    assert items[0]["distance_label"] == "3-5 公里"
    assert "distance_km" not in items[0]


def test_the_band_follows_the_grid_centre_when_the_need_has_a_grid(client, tree, auth_header):
    tree["b"].lat, tree["b"].lon = needs_helpers.LAT + 0.2, needs_helpers.LON
    tree["grid_b"].lat, tree["grid_b"].lon = needs_helpers.LAT + 0.005, needs_helpers.LON
    needs_helpers.need(tree["grid_b"], max_distance_km=10)
    volunteer = needs_helpers.volunteer(tree["b"])
    items = client.get("/api/v1/me/open-needs", headers=auth_header(volunteer.user)).get_json()
    assert [i["distance_band"] for i in items] == ["under_1_km"]


def test_the_open_needs_page_shows_the_band(client, tree):
    _need_far_from_its_community_centre(tree)
    volunteer = needs_helpers.volunteer(tree["b"], lat=needs_helpers.LAT, lon=needs_helpers.LON)
    login(client, volunteer.user)
    page = text(client.get("/me/open-needs"))
    assert "3-5 km" in page and "about 0.5 km" not in page


def test_a_beneficiarys_need_is_listed_as_if_at_its_area_centre(client, tree, auth_header):
    """Tuning max_travel_km from one home must not measure the distance to the home served."""
    tree["b"].lat, tree["b"].lon = needs_helpers.LAT + 0.04, needs_helpers.LON  # 4.4 km north
    person = needs_helpers.beneficiary(tree["b"], lat=needs_helpers.LAT, lon=needs_helpers.LON)
    need = needs_helpers.need(tree["b"], beneficiary_id=person.id, lat=needs_helpers.LAT,
                              lon=needs_helpers.LON, max_distance_km=10)
    volunteer = needs_helpers.volunteer(tree["b"], lat=needs_helpers.LAT, lon=needs_helpers.LON)
    headers = auth_header(volunteer.user)

    def listed_within(km):
        client.put("/api/v1/me/matching-preferences", headers=headers,
                   json={"max_travel_km": km})
        return [i["need"]["id"] for i in
                client.get("/api/v1/me/open-needs", headers=headers).get_json()]

    assert listed_within(1) == []  # next door to the point, 4.4 km from the centre
    assert listed_within(5) == [need.id]
