"""No double booking: the partial unique index on both engines, and on PostgreSQL two
volunteers racing for the last place in separate connections give exactly one booking."""
from __future__ import annotations

import os
import threading

import pytest
from sqlalchemy.exc import IntegrityError

from tests.needs import helpers
from volunteer_hub.db import db, transaction
from volunteer_hub.errors import DomainError
from volunteer_hub.matching import services as matching
from volunteer_hub.matching.models import Assignment
from volunteer_hub.needs.models import Need
from volunteer_hub.volunteers.models import Volunteer

ON_POSTGRESQL = (os.environ.get("VOLUNTEER_HUB_TEST_DATABASE_URL") or "").startswith(
    "postgresql")


def test_the_database_refuses_a_second_active_assignment_on_a_slot(tree):
    a, b = helpers.volunteer(tree["b"]), helpers.volunteer(tree["b"])
    need = helpers.need(tree["b"])
    slot = need.slots[0]
    db.session.add(Assignment(slot_id=slot.id, volunteer_id=a.id, state="accepted"))
    db.session.commit()
    db.session.add(Assignment(slot_id=slot.id, volunteer_id=b.id, state="proposed"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    # Inactive rows (declined, cancelled) do not hold the slot.
    db.session.add(Assignment(slot_id=slot.id, volunteer_id=b.id, state="declined"))
    db.session.commit()


@pytest.mark.skipif(not ON_POSTGRESQL, reason="needs VOLUNTEER_HUB_TEST_DATABASE_URL=postgresql")
@pytest.mark.parametrize("racers", [2, 6])
def test_parallel_signups_for_the_last_place_give_exactly_one_booking(app, tree, racers):
    volunteer_ids = [helpers.volunteer(tree["b"]).id for _ in range(racers)]
    need_id = helpers.need(tree["b"]).id
    db.session.remove()  # the racers use their own sessions and connections
    barrier = threading.Barrier(racers)
    outcomes: list[str] = []
    lock = threading.Lock()

    def race(volunteer_id: int) -> None:
        with app.app_context():
            need = db.session.get(Need, need_id)
            volunteer = db.session.get(Volunteer, volunteer_id)
            barrier.wait()
            try:
                with transaction():
                    matching.sign_up(need, volunteer, by=None)
                outcome = "booked"
            except DomainError as error:
                outcome = error.code
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=race, args=(vid,)) for vid in volunteer_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["SLOT_TAKEN"] * (racers - 1) + ["booked"]
    active = db.session.execute(db.select(Assignment).where(
        Assignment.state.in_(("accepted", "pending_approval")))).scalars().all()
    assert len(active) == 1
