"""People and a verified service record for the recognition tests.

Community B approves volunteers automatically (they are active); community A is a sibling
under the same street, so A's organizer is out of scope for B's volunteers.
"""
from __future__ import annotations

import pytest

from tests.records import builders
from volunteer_hub.records import services as records


@pytest.fixture
def people(tree, make_staff, make_volunteer):
    return {
        "organizer": make_staff(tree["b"], "organizer", "乙社区组织者"),
        "street": make_staff(tree["street"], "organizer", "街道组织者"),
        "stranger": make_staff(tree["a"], "organizer", "甲社区组织者"),
        "coordinator": make_staff(tree["b"], "coordinator", "乙社区协调员"),
        "volunteer": make_volunteer(tree["b"], real_name="王五"),
        "other": make_volunteer(tree["b"], real_name="赵六"),
    }


@pytest.fixture
def verified_record(db, tree, people):
    """A record of 2 h of service by `volunteer`, verified by B's organizer."""
    activity = builders.activity(tree["b"], people["organizer"])
    record = builders.checked_out(activity, people["volunteer"], minutes=120)
    records.verify_record(record, by=people["organizer"])
    db.session.commit()
    return record
