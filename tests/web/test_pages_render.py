import pytest

from tests.web.helpers import login, post_form, text


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_public_pages_render_in_both_languages(client, tree, language):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    for url in ("/", "/login", "/signup"):
        response = client.get(url)
        assert response.status_code == 200, url
    expected = 'lang="zh-Hans"' if language == "zh-CN" else 'lang="en"'
    assert expected in text(client.get("/signup"))


def test_organizer_pages_render_with_filters(client, tree, make_staff, make_volunteer):
    make_volunteer(tree["a"], skills=[{"code": "first_aid", "level": 1}])
    login(client, make_staff(tree["street"], "admin"))
    response = client.get("/org/volunteers?q=x&status=pending&skill=first_aid&min_level=1"
                          f"&org_id={tree['a'].id}&certification=first_aid"
                          "&certification_expiring_before=2030-01-01&page=3")
    assert response.status_code == 200
    assert client.get("/org/teams").status_code == 200


def test_guardian_consent_is_recorded(client, db, tree, make_volunteer):
    volunteer = make_volunteer(tree["a"])
    login(client, volunteer.user)
    response = post_form(client, "/me/consents", {"kind": "guardian"})
    assert response.status_code == 422
    assert "guardian" in text(response)
    response = post_form(client, "/me/consents", {
        "kind": "guardian", "guardian_name": "母亲", "guardian_phone": "13900000000",
        "guardian_relationship": "mother"})
    assert response.status_code == 302
    assert "母亲" in text(client.get("/me"))
