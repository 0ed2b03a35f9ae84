"""Mobile pages: my hours, and the organizer's queue with bulk approval."""
from __future__ import annotations

import re

import pytest

from tests.records import builders
from tests.web.helpers import login, post_form, text


@pytest.fixture(autouse=True)
def _english(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


def test_queue_bulk_approve_then_my_hours(client, db, tree, make_staff, make_volunteer):
    organizer = make_staff(tree["a"], "organizer")
    volunteer = make_volunteer(tree["b"], real_name="王五")
    activity = builders.activity(tree["a"], organizer)
    record = builders.checked_out(activity, volunteer, minutes=150)
    login(client, organizer)
    page = text(client.get("/org/verification"))
    assert "王五" in page and f'value="{record.id}"' in page
    response = post_form(client, "/org/verification", {"record_id": [str(record.id)]})
    assert response.status_code == 302
    assert "Nothing to verify" in text(client.get("/org/verification"))
    post_form(client, "/logout", {}, form_url="/account")
    login(client, volunteer.user)
    page = text(client.get("/me/hours"))
    assert 'data-balance="150"' in page
    assert "敬老院陪伴" in page and re.search(r"Service hours credited</strong> \+2:30", page)


def test_queue_needs_a_role(client, db, tree, make_volunteer):
    volunteer = make_volunteer(tree["b"])
    login(client, volunteer.user)
    assert client.get("/org/verification").status_code == 403
