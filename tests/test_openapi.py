"""The OpenAPI document and the offline docs page."""
import re


def test_openapi_document_lists_the_endpoints(client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["info"]["title"] == "Volunteer Hub API"
    assert "/api/v1/volunteers" in spec["paths"]
    assert "/api/v1/teams/{team_id}/members/{volunteer_id}" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_docs_page_loads_only_local_assets(client):
    page = client.get("/api/docs").get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("/static/") for s in sources)
    for source in sources:
        assert client.get(source).status_code == 200


def test_unknown_api_path_gives_the_error_shape(client):
    body = client.get("/api/v1/nothing-here").get_json()
    assert body["error"] == "NOT_FOUND" and body["code"] == 404


def test_language_switch_never_redirects_to_another_site(client):
    from tests.web.helpers import csrf_token

    token = csrf_token(client, "/login")
    response = client.post("/lang/en", data={"csrf_token": token, "next": "//evil.example/x"})
    assert response.headers["Location"] == "/"
    page = client.get("/login").get_data(as_text=True)
    assert 'lang="en"' in page


def test_a_start_refused_for_a_bad_setting_leaves_the_running_apps_document_whole(client,
                                                                                  tmp_path):
    """The API object is shared by every app of a process: a second app refused for a bad
    setting must fail before it registers anything, or /api/openapi.json loses paths."""
    import pytest

    from volunteer_hub import create_app

    before = set(client.get("/api/openapi.json").get_json()["paths"])
    with pytest.raises(ValueError):
        create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
                    "WORKDAYS_EXTRA_HOLIDAYS": ["2026-11-31"]})
    assert set(client.get("/api/openapi.json").get_json()["paths"]) == before
