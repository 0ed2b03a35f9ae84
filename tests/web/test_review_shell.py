"""Review fixes: the phone shell's tab bar leaves room under the page."""
from __future__ import annotations

from tests.web.helpers import login, text


def test_a_volunteer_page_body_leaves_room_for_the_tab_bar(client, tree, make_volunteer):
    volunteer = make_volunteer(tree["a"])
    login(client, volunteer.user)
    page = text(client.get("/me/tasks"))
    assert '<body class="with-tabbar">' in page
