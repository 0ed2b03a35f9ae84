"""Awards: granted by an organizer over the volunteer, shown until revoked."""
from __future__ import annotations


def _award(org, **overrides) -> dict:
    data = {"org_id": org.id, "title": "2026年度优秀志愿者", "level": "district",
            "awarded_on": "2026-05-04", "reason": "全年服务超过200小时"}
    data.update(overrides)
    return data


def _grant(client, headers, volunteer, data, **kwargs):
    return client.post(f"/api/v1/volunteers/{volunteer.id}/awards", headers=headers, json=data,
                       **kwargs)


def test_grant_show_and_revoke_an_award(client, tree, people, auth_header):
    volunteer = people["volunteer"]
    staff, me = auth_header(people["organizer"]), auth_header(volunteer.user)
    response = _grant(client, staff, volunteer, _award(tree["b"]))
    assert response.status_code == 201, response.get_json()
    award = response.get_json()
    assert award["issuer"] == tree["b"].name_zh  # defaults to the organization's name
    url = f"/api/v1/volunteers/{volunteer.id}/awards"
    assert [a["title"] for a in client.get(url, headers=me).get_json()["items"]] == \
        ["2026年度优秀志愿者"]
    assert client.post(f"/api/v1/awards/{award['id']}/revocation", headers=me,
                       json={"reason": "x"}).status_code == 403
    revoked = client.post(f"/api/v1/awards/{award['id']}/revocation", headers=staff,
                          json={"reason": "Granted to the wrong person"})
    assert revoked.status_code == 200 and revoked.get_json()["status"] == "revoked"
    assert client.get(url, headers=me).get_json()["items"] == []
    everything = client.get(f"{url}?include_revoked=true", headers=me).get_json()["items"]
    assert [a["status"] for a in everything] == ["revoked"]


def test_award_fields_are_checked(client, tree, people, auth_header):
    staff = auth_header(people["organizer"])
    volunteer = people["volunteer"]
    bad_level = _grant(client, staff, volunteer, _award(tree["b"], level="galactic"))
    assert bad_level.status_code == 422 and "level" in bad_level.get_json()["errors"]["json"]
    future = _grant(client, staff, volunteer, _award(tree["b"], awarded_on="2999-01-01"))
    assert future.status_code == 422 and "awarded_on" in future.get_json()["errors"]["json"]


def test_award_scope(client, tree, people, auth_header):
    volunteer = people["volunteer"]
    award = _grant(client, auth_header(people["street"]), volunteer,
                   _award(tree["street"], level="street")).get_json()
    stranger = auth_header(people["stranger"])
    assert _grant(client, stranger, volunteer, _award(tree["a"])).status_code == 404
    assert client.get(f"/api/v1/awards/{award['id']}", headers=stranger).status_code == 404
    assert client.get(f"/api/v1/awards/{award['id']}",
                      headers=auth_header(people["other"].user)).status_code == 404
    # B's organizer manages the volunteer but cannot record in the street's name.
    assert _grant(client, auth_header(people["organizer"]), volunteer,
                  _award(tree["street"])).status_code == 403


def test_a_retried_grant_with_the_same_key_records_once(client, tree, people, auth_header):
    headers = {**auth_header(people["organizer"]), "Idempotency-Key": "award-7"}
    first = _grant(client, headers, people["volunteer"], _award(tree["b"]))
    second = _grant(client, headers, people["volunteer"], _award(tree["b"]))
    assert first.get_json()["id"] == second.get_json()["id"]
    listed = client.get(f"/api/v1/volunteers/{people['volunteer'].id}/awards", headers=headers)
    assert listed.get_json()["pagination"]["total"] == 1
