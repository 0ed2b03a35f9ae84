"""Review fix: the matching page shows when each run was made on the site's clock."""
from __future__ import annotations

from datetime import datetime, timedelta

from tests.web.helpers import login, text
from volunteer_hub.db import db
from volunteer_hub.matching.models import MatchingRun


def test_recent_runs_are_listed_in_shanghai_time(tree, client, make_staff):
    organizer = make_staff(tree["b"], "organizer")
    made = datetime(2026, 12, 4, 20, 30)  # UTC: 04:30 on the 5th in Shanghai
    run = MatchingRun(org_id=tree["b"].id, start_date=made.date(), end_date=made.date(),
                      created_at=made)
    db.session.add(run)
    db.session.commit()
    login(client, organizer)
    page = text(client.get("/org/matching"))
    assert "2026-12-05 04:30" in page and "2026-12-04 20:30" not in page
    assert "手动匹配" in page and "manual" not in page.split("<main", 1)[1]


def test_a_childs_guardian_consent_time_is_shown_in_shanghai_time(tree, client, make_staff):
    from datetime import date

    from tests.needs import helpers

    organizer = make_staff(tree["b"], "organizer")
    child = helpers.beneficiary(tree["b"], category="left_behind_child", name="小明",
                                birth_date=date.today() - timedelta(days=365 * 9),
                                guardian={"name": "李奶奶", "phone": "13900000009"},
                                guardian_consent=True)
    child.guardian_consent_at = datetime(2026, 12, 4, 20, 30)
    db.session.commit()
    login(client, organizer)
    page = text(client.get(f"/org/beneficiaries/{child.id}"))
    assert "2026-12-05 04:30" in page and "20:30" not in page
