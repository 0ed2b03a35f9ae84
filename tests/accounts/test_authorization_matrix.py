"""Every role, in its own scope and in another's, against each endpoint.

Actors: the volunteer V of community A themself, another volunteer W (community B), the
organizer of A, the organizer of B, a coordinator on the street above both, the city
admin, and an anonymous caller. Targets belong to community A.
"""
import pytest

ACTORS = ("self", "other_volunteer", "organizer_a", "organizer_b", "coordinator", "admin",
          "anonymous")

# (method, path, json, expected status per actor in ACTORS order)
MATRIX = [
    ("GET", "/volunteers/{v}", None, (200, 404, 200, 404, 200, 200, 401)),
    ("PATCH", "/volunteers/{v}", {"languages": ["zh", "en"]}, (200, 404, 200, 404, 403, 200, 401)),
    ("GET", "/volunteers/{v}/id-number", None, (200, 404, 200, 404, 404, 200, 401)),
    ("PUT", "/volunteers/{v}/status", {"status": "active"}, (403, 404, 200, 404, 403, 200, 401)),
    ("PUT", "/volunteers/{v}/skills", {"skills": [{"code": "first_aid", "level": 2}]},
     (200, 404, 200, 404, 403, 200, 401)),
    ("PUT", "/volunteers/{v}/skills/driving/confirmation", {"level": 2},
     (403, 404, 200, 404, 403, 200, 401)),
    ("POST", "/volunteers/{v}/certifications",
     {"kind": "first_aid", "issuer": "红十字会", "issued_on": "2025-01-01"},
     (201, 404, 201, 404, 403, 201, 401)),
    ("GET", "/volunteers/{v}/consents", None, (200, 404, 200, 404, 200, 200, 401)),
    ("PUT", "/volunteers/{v}/availability",
     {"windows": [{"weekday": 1, "start_minute": 540, "end_minute": 660}]},
     (200, 404, 200, 404, 403, 200, 401)),
    ("POST", "/users/{u}/password-reset", None, (404, 404, 201, 404, 404, 201, 401)),
    ("GET", "/orgs/{a}", None, (404, 404, 200, 404, 200, 200, 401)),
    ("PATCH", "/orgs/{a}", {"name_en": "A"}, (403, 403, 403, 403, 403, 200, 401)),
    ("POST", "/orgs", {"parent_id": "{a}", "level": "grid", "code": "NEW-G", "name_zh": "新网格"},
     (403, 403, 403, 403, 403, 201, 401)),
    ("POST", "/orgs/{a}/teams", {"name": "助老队", "type": "professional"},
     (403, 403, 201, 403, 201, 201, 401)),
    ("GET", "/orgs/{a}/role-grants", None, (403, 403, 403, 403, 403, 200, 401)),
]


@pytest.fixture
def world(tree, make_staff, make_volunteer, auth_header, db):
    v = make_volunteer(tree["a"], skills=[{"code": "driving", "level": 1}])
    w = make_volunteer(tree["b"])
    users = {
        "self": v.user, "other_volunteer": w.user,
        "organizer_a": make_staff(tree["a"], "organizer"),
        "organizer_b": make_staff(tree["b"], "organizer"),
        "coordinator": make_staff(tree["street"], "coordinator"),
        "admin": make_staff(tree["city"], "admin"),
    }
    headers = {name: auth_header(user) for name, user in users.items()}
    headers["anonymous"] = {}
    ids = {"v": v.id, "u": v.user_id, "a": tree["a"].id}
    return headers, ids


def _fill(value, ids):
    if isinstance(value, str):
        formatted = value.format(**ids)
        return int(formatted) if value.startswith("{") and formatted.isdigit() else formatted
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


@pytest.mark.parametrize("actor_index,actor", list(enumerate(ACTORS)))
@pytest.mark.parametrize("method,path,body,expected", MATRIX,
                         ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
def test_authorization(client, world, method, path, body, expected, actor_index, actor):
    headers, ids = world
    response = client.open("/api/v1" + path.format(**ids), method=method,
                           json=_fill(body, ids), headers=headers[actor])
    assert response.status_code == expected[actor_index], (actor, response.get_json())
    if response.status_code >= 400:
        assert response.get_json()["error"]  # the one error shape, always with a code


def test_lists_only_show_the_callers_scope(client, world, make_volunteer, tree):
    headers, ids = world
    def listed(actor):
        body = client.get("/api/v1/volunteers", headers=headers[actor]).get_json()
        return {item["community_id"] for item in body["items"]}
    assert listed("organizer_a") == {tree["a"].id}
    assert listed("organizer_b") == {tree["b"].id}
    assert listed("admin") == {tree["a"].id, tree["b"].id}
    assert listed("self") == set()


def test_a_revoked_token_stops_working(client, world):
    headers, _ = world
    tokens = client.get("/api/v1/tokens", headers=headers["admin"]).get_json()
    assert client.delete(f"/api/v1/tokens/{tokens[0]['id']}",
                         headers=headers["admin"]).status_code == 204
    assert client.get("/api/v1/me", headers=headers["admin"]).status_code == 401


def test_a_password_reset_revokes_tokens_and_the_temporary_password_works(client, world, db):
    from volunteer_hub.volunteers.models import Volunteer

    headers, ids = world
    response = client.post(f"/api/v1/users/{ids['u']}/password-reset",
                           headers=headers["organizer_a"])
    temporary = response.get_json()["temporary_password"]
    assert client.get("/api/v1/me", headers=headers["self"]).status_code == 401
    phone = db.session.get(Volunteer, ids["v"]).phone
    login = client.post("/api/v1/tokens", json={"login": phone, "password": temporary})
    assert login.status_code == 201
    me = client.get("/api/v1/me",
                    headers={"Authorization": f"Bearer {login.get_json()['token']}"}).get_json()
    assert me["must_change_password"] is True
