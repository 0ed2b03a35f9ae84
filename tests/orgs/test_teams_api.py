"""Teams and organization nodes through the API."""
from datetime import date, timedelta

from tests.factories import make_id_number


def test_emergency_teams_take_adults_only(client, tree, make_staff, make_volunteer, auth_header):
    organizer = make_staff(tree["a"], "organizer")
    headers = auth_header(organizer)
    minor = make_volunteer(tree["a"], id_number=make_id_number(
        birth=date.today() - timedelta(days=16 * 365)),
        guardian={"name": "王芳", "phone": "13912345678"})
    adult = make_volunteer(tree["a"])
    team = client.post(f"/api/v1/orgs/{tree['a'].id}/teams", headers=headers,
                       json={"name": "水务应急队", "type": "flood_water"}).get_json()
    refused = client.put(f"/api/v1/teams/{team['id']}/members/{minor.id}", headers=headers,
                         json={"role": "member"})
    assert refused.status_code == 422
    assert refused.get_json()["error"] == "TEAM_ADULTS_ONLY"
    added = client.put(f"/api/v1/teams/{team['id']}/members/{adult.id}", headers=headers,
                       json={"role": "leader"})
    assert added.status_code == 200
    detail = client.get(f"/api/v1/teams/{team['id']}", headers=headers).get_json()
    assert [(m["volunteer_id"], m["role"]) for m in detail["members"]] == [(adult.id, "leader")]
    listed = client.get(f"/api/v1/volunteers?team_id={team['id']}", headers=headers).get_json()
    assert [item["id"] for item in listed["items"]] == [adult.id]


def test_a_custom_team_needs_its_type_named(client, tree, make_staff, auth_header):
    headers = auth_header(make_staff(tree["a"], "organizer"))
    response = client.post(f"/api/v1/orgs/{tree['a'].id}/teams", headers=headers,
                           json={"name": "特色队", "type": "custom"})
    assert response.get_json()["error"] == "TEAM_CUSTOM_TYPE"


def test_org_levels_follow_the_hierarchy(client, tree, make_staff, auth_header):
    headers = auth_header(make_staff(tree["city"], "admin"))
    wrong = client.post("/api/v1/orgs", headers=headers, json={
        "parent_id": tree["street"].id, "level": "grid", "code": "X1", "name_zh": "错层"})
    assert wrong.status_code == 422 and wrong.get_json()["error"] == "ORG_LEVEL"
    ok = client.post("/api/v1/orgs", headers=headers, json={
        "parent_id": tree["street"].id, "level": "community", "code": "CC", "name_zh": "丙社区"})
    assert ok.status_code == 201
    duplicate = client.post("/api/v1/orgs", headers=headers, json={
        "parent_id": tree["street"].id, "level": "community", "code": "CC", "name_zh": "丁社区"})
    assert duplicate.status_code == 409


def test_org_list_is_limited_to_the_callers_subtree(client, tree, make_staff, auth_header):
    headers = auth_header(make_staff(tree["a"], "organizer"))
    body = client.get("/api/v1/orgs", headers=headers).get_json()
    assert {item["code"] for item in body["items"]} == {"CA", "CA-G1"}
