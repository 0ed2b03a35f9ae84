"""A volunteer's task list reads the same in the API as on the page: current and coming
tasks soonest first, then past ones latest first (oldest first put years of past tasks
before today's)."""
from __future__ import annotations

import re
from datetime import timedelta

from tests.needs import helpers
from tests.web.helpers import login
from volunteer_hub.db import db
from volunteer_hub.matching import services as matching
from volunteer_hub.needs import services as needs


def _five_weekly_tasks(tree):
    """Five confirmed weekly tasks of one volunteer; two then moved into the past."""
    v = helpers.volunteer(tree["b"])
    first = helpers.next_weekday(2)
    need = helpers.need(tree["b"], first_date=first, recurrence="weekly", weekdays=[first.weekday()],
                        until=first + timedelta(weeks=4))
    run = matching.run_matching(tree["b"], first, first + timedelta(weeks=4), by=None)
    proposals = sorted(run.assignments, key=lambda a: a.slot.start)
    assert len(proposals) == 5 and {a.volunteer_id for a in proposals} == {v.id}
    for proposal in proposals:
        matching.confirm_assignment(proposal, by=None)
    now = needs.local_now()
    # Week 1 was long ago, week 2 last week: past tasks, the older one listed last.
    for assignment, weeks_ago in ((proposals[0], 30), (proposals[1], 1)):
        slot = assignment.slot
        length = slot.end - slot.start
        slot.start = now.replace(microsecond=0) - timedelta(weeks=weeks_ago)
        slot.end = slot.start + length
    db.session.commit()
    assert need.id
    return v, proposals


def test_the_api_lists_coming_tasks_soonest_first_then_the_latest_past(tree, client, auth_header):
    v, tasks = _five_weekly_tasks(tree)
    listed = client.get("/api/v1/me/assignments", headers=auth_header(v.user)).get_json()["items"]
    coming, last_week, long_ago = tasks[2:], tasks[1], tasks[0]
    assert [item["id"] for item in listed] == [a.id for a in coming] + [last_week.id, long_ago.id]


def test_the_api_and_the_page_list_tasks_in_the_same_order(tree, client, auth_header):
    v, _tasks = _five_weekly_tasks(tree)
    listed = client.get("/api/v1/me/assignments", headers=auth_header(v.user)).get_json()["items"]
    login(client, v.user)
    page = client.get("/me/tasks")
    assert page.status_code == 200
    on_page = [int(i) for i in dict.fromkeys(re.findall(r'/me/tasks/(\d+)"', page.get_data(as_text=True)))]
    assert on_page == [item["id"] for item in listed]
