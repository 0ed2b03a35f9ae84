"""A run's proposals in the API reply are what AssignmentSchema gives for each (the reply
takes a faster path for the rows read back in one query)."""
from __future__ import annotations

from datetime import timedelta

from tests.needs import helpers
from volunteer_hub.db import db
from volunteer_hub.matching import services as matching
from volunteer_hub.matching.schemas import AssignmentSchema, MatchingRunSchema


def test_the_read_back_proposals_dump_as_assignment_schema_does(tree, app):
    people = [helpers.volunteer(tree["b"], lat=helpers.LAT + 0.003 * i) for i in range(3)]
    day = helpers.next_weekday(1)
    helpers.need(tree["b"], first_date=day, volunteers_per_occurrence=2)
    helpers.need(tree["b"], first_date=day + timedelta(days=1), title="访视 王奶奶")
    run = matching.run_matching(tree["b"], day, day + timedelta(days=1), by=None)
    db.session.commit()
    view = matching.run_view(run)
    with app.test_request_context():
        fast = MatchingRunSchema().dump(view)["proposals"]
        each = AssignmentSchema(many=True).dump(view["assignments"])
    assert len(fast) == 3 and {p["volunteer_id"] for p in fast} <= {v.id for v in people}
    assert fast == each
    assert fast[0]["start"].endswith("+08:00") and fast[0]["created_at"].endswith("+00:00")
