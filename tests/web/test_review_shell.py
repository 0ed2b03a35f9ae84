"""Review fixes: the phone shell's tab bar leaves room under the page."""
from __future__ import annotations

from tests.web.helpers import login, text


def test_a_volunteer_page_body_leaves_room_for_the_tab_bar(client, tree, make_volunteer):
    volunteer = make_volunteer(tree["a"])
    login(client, volunteer.user)
    page = text(client.get("/me/tasks"))
    assert '<body class="with-tabbar">' in page


def test_person_search_ignores_the_case_of_a_code_or_name_on_every_engine(
        client, tree, make_staff, make_volunteer):
    mine = make_volunteer(tree["a"], real_name="Anna Li")
    login(client, make_staff(tree["a"], "organizer"))
    for query in (mine.volunteer_number.lower(), "anna"):
        items = client.get("/people/search", query_string={"q": query}).get_json()["items"]
        assert [item["id"] for item in items] == [mine.id], query
