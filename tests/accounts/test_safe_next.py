"""After login the user lands on a page of this site, whatever `next` says."""
import pytest

from tests import factories
from tests.web.helpers import post_form


def _login(client, volunteer, target):
    return post_form(client, "/login?next=" + target,
                     {"login": volunteer.user.phone, "password": factories.PASSWORD},
                     form_url="/login")


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example", "/\\evil.example", "\\\\evil.example",
    "/\t/evil.example", "/\n/evil.example", "evil.example",
])
def test_login_never_redirects_off_site(client, tree, make_volunteer, target):
    volunteer = make_volunteer(tree["a"])
    response = _login(client, volunteer, target)
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]


def test_login_follows_a_same_site_next(client, tree, make_volunteer):
    volunteer = make_volunteer(tree["a"])
    response = _login(client, volunteer, "/me/hours")
    assert response.headers["Location"].endswith("/me/hours")
