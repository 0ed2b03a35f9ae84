"""Builders for the personal-data tests: a volunteer with verified hours."""
from __future__ import annotations

import pytest

from tests.records import builders
from volunteer_hub.records import services as records

ISSUER_FIELDS = {"person_in_charge": "王主任", "handler": "赵经办", "contact": "010-12345678",
                 "credit_code": "91110108551385082Q"}


def ready_issuer(db, org) -> None:
    """Fill the fields a certificate needs from its issuer, where the org model has them."""
    for name, value in ISSUER_FIELDS.items():
        if hasattr(org, name):
            setattr(org, name, value)
    db.session.commit()


@pytest.fixture
def served(db, tree, make_staff, make_volunteer):
    """李小梅 of community B served 3 hours for community A, verified (minted)."""
    organizer = make_staff(tree["a"], "organizer")
    volunteer = make_volunteer(tree["b"], real_name="李小梅", email="li@example.com")
    ready_issuer(db, tree["a"])
    row = builders.activity(tree["a"], organizer)
    record = builders.checked_out(row, volunteer, minutes=180)
    records.verify_record(record, by=organizer)
    db.session.commit()
    return {"organizer": organizer, "volunteer": volunteer, "record": record,
            "activity": row}
