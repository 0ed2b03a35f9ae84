"""The export reads a fixed number of statements whatever the person's history."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import event

from tests.records import builders
from volunteer_hub.db import db
from volunteer_hub.privacy.export import build_zip, person_of
from volunteer_hub.records import services as records


@contextmanager
def counted():
    seen = []

    def count(*args, **kwargs):
        seen.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def _statements(user) -> int:
    db.session.expire_all()
    with counted() as seen:
        build_zip(person_of(user))
    return len(seen)


def _serve(served, days) -> None:
    volunteer, organizer = served["volunteer"], served["organizer"]
    for day in days:
        row = builders.activity(served["activity"].org, organizer,
                                start=builders.START + timedelta(days=day))
        records.verify_record(builders.checked_out(row, volunteer, minutes=60), by=organizer)
        db.session.commit()


def test_statements_do_not_grow_with_the_records(db, served):
    user = served["volunteer"].user
    _statements(user)  # reads made once per process (keys, caches)
    _serve(served, [1])
    two_records = _statements(user)
    _serve(served, range(2, 7))
    assert _statements(user) == two_records, two_records
