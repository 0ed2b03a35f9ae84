"""Consent texts by version: a changed text is asked again at the next login."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests import factories
from tests.web.helpers import login, post_form, text
from volunteer_hub.db import utcnow
from volunteer_hub.privacy.consents import publish_text
from volunteer_hub.volunteers.models import Consent


def _publish(db, version="2027-01", kinds=("service_terms",)):
    for kind in kinds:
        publish_text(kind, version, "zh_Hans", f"新版{kind}条款正文",
                     published_at=utcnow() - timedelta(minutes=1))
        publish_text(kind, version, "en", f"New {kind} terms")
    db.session.commit()


def _versions(db, volunteer, kind):
    return [row.text_version for row in db.session.execute(
        select(Consent).filter_by(volunteer_id=volunteer.id, kind=kind)
        .order_by(Consent.id)).scalars()]


def test_nothing_is_asked_while_the_text_is_unchanged(client, db, tree, make_volunteer):
    volunteer = make_volunteer(tree["b"])
    response = login(client, volunteer.user)
    assert "/account/consent" not in response.headers["Location"]


def test_the_web_asks_after_login_before_anything_else(client, db, tree, make_volunteer):
    volunteer = make_volunteer(tree["b"])
    _publish(db)
    response = login(client, volunteer.user)
    assert "/account/consent" in response.headers["Location"]
    # every other page leads back to the question until it is answered
    held = client.get("/me/hours")
    assert held.status_code == 302 and "/account/consent" in held.headers["Location"]
    page = client.get("/account/consent")
    assert page.status_code == 200 and "新版service_terms条款正文" in text(page)
    shown = {"versions": "service_terms=2027-01"}  # the page's hidden field
    unticked = post_form(client, "/account/consent", shown)
    assert unticked.status_code == 422
    assert _versions(db, volunteer, "service_terms") == ["2026-11"]
    agreed = post_form(client, "/account/consent", {**shown, "agree": "y"})
    assert agreed.status_code == 302
    assert _versions(db, volunteer, "service_terms") == ["2026-11", "2027-01"]
    assert client.get("/me/hours").status_code == 200
    # the next login asks nothing more
    client.post("/logout", data={"csrf_token": ""})
    assert "/account/consent" not in login(client, volunteer.user).headers["Location"]


def test_the_api_answers_403_until_accepted(client, db, tree, make_volunteer, auth_header):
    volunteer = make_volunteer(tree["b"])
    headers = auth_header(volunteer.user)
    _publish(db, kinds=("service_terms", "sensitive_data"))
    refused = client.get("/api/v1/volunteers/me", headers=headers)
    assert refused.status_code == 403 and refused.get_json()["error"] == "CONSENT_REQUIRED"
    status = client.get("/api/v1/me/consents", headers=headers).get_json()
    assert sorted((p["kind"], p["version"]) for p in status["pending"]) == [
        ("sensitive_data", "2027-01"), ("service_terms", "2027-01")]
    stale = client.post("/api/v1/me/consents", headers=headers,
                        json={"accepted": {"service_terms": "2027-01"}})
    assert stale.status_code == 422 and stale.get_json()["error"] == "CONSENT_VERSION"
    accepted = client.post("/api/v1/me/consents", headers=headers, json={"accepted": {
        "service_terms": "2027-01", "sensitive_data": "2027-01"}})
    assert accepted.status_code == 201, accepted.get_json()
    assert {row["text_version"] for row in accepted.get_json()} == {"2027-01"}
    assert all(row["granted_at"].endswith("+00:00") for row in accepted.get_json())
    assert client.get("/api/v1/volunteers/me", headers=headers).status_code == 200
    given = client.get("/api/v1/me/consents", headers=headers).get_json()
    assert given["pending"] == []
    assert sorted((g["kind"], g["text_version"]) for g in given["given"]) == [
        ("sensitive_data", "2026-11"), ("sensitive_data", "2027-01"),
        ("service_terms", "2026-11"), ("service_terms", "2027-01")]


def test_staff_and_new_registrations_are_not_asked(client, db, tree, make_staff, auth_header):
    _publish(db)
    admin = make_staff(tree["street"], "admin")
    assert client.get("/api/v1/volunteers", headers=auth_header(admin)).status_code == 200
    newcomer = factories.make_volunteer(tree["b"])
    db.session.commit()
    assert _versions(db, newcomer, "service_terms") == ["2027-01"]
    assert client.get("/api/v1/volunteers/me",
                      headers=auth_header(newcomer.user)).status_code == 200


def test_a_text_published_later_is_not_current_yet(client, db, tree, make_volunteer,
                                                   auth_header):
    volunteer = make_volunteer(tree["b"])
    publish_text("service_terms", "2027-06", "zh_Hans", "未来条款",
                 published_at=utcnow() + timedelta(days=30))
    db.session.commit()
    assert client.get("/api/v1/volunteers/me",
                      headers=auth_header(volunteer.user)).status_code == 200


def test_a_person_who_does_not_agree_can_still_take_their_data_or_close(
        client, db, tree, make_volunteer):
    """The question offers it, and the API allows it: the web must not hold these pages."""
    volunteer = make_volunteer(tree["b"])
    _publish(db)
    assert "/account/consent" in login(client, volunteer.user).headers["Location"]
    page = client.get("/account/consent")
    assert "/account/privacy" in text(page)
    assert client.get("/account/privacy").status_code == 200
    download = client.get("/account/data-export")
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert client.get("/account/close").status_code == 200
    # anything else still leads back to the question
    assert "/account/consent" in client.get("/account").headers["Location"]
