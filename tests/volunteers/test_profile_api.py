"""Profile editing, status changes, skills, certifications, availability and consents."""
from datetime import date, timedelta

import pytest


@pytest.fixture
def volunteer_and_headers(tree, make_volunteer, make_staff, auth_header):
    volunteer = make_volunteer(tree["a"], skills=[{"code": "first_aid", "level": 2}])
    return volunteer, auth_header(volunteer.user), auth_header(make_staff(tree["a"], "organizer"))


def test_approval_then_suspension_needs_a_reason(client, volunteer_and_headers):
    volunteer, _, organizer = volunteer_and_headers
    url = f"/api/v1/volunteers/{volunteer.id}/status"
    assert client.put(url, headers=organizer, json={"status": "active"}).status_code == 200
    no_reason = client.put(url, headers=organizer, json={"status": "suspended"})
    assert no_reason.get_json()["error"] == "REASON_REQUIRED"
    suspended = client.put(url, headers=organizer, json={"status": "suspended",
                                                         "reason": "多次未到岗"})
    assert suspended.get_json()["status"] == "suspended"
    back_to_pending = client.put(url, headers=organizer, json={"status": "pending"})
    assert back_to_pending.status_code == 409


def test_a_volunteer_may_leave_by_themself(client, volunteer_and_headers):
    volunteer, own, _ = volunteer_and_headers
    response = client.put(f"/api/v1/volunteers/{volunteer.id}/status", headers=own,
                          json={"status": "left"})
    assert response.get_json()["status"] == "left"


def test_confirmation_is_dropped_when_the_declared_level_changes(client, volunteer_and_headers):
    volunteer, own, organizer = volunteer_and_headers
    base = f"/api/v1/volunteers/{volunteer.id}"
    confirmed = client.put(f"{base}/skills/first_aid/confirmation", headers=organizer,
                           json={"level": 1}).get_json()
    assert confirmed["effective_level"] == 1
    unchanged = client.put(f"{base}/skills", headers=own, json={"skills": [
        {"code": "first_aid", "level": 2}, {"code": "driving", "level": 1}]}).get_json()
    assert {s["code"]: s["confirmed_level"] for s in unchanged} == {"first_aid": 1, "driving": None}
    raised = client.put(f"{base}/skills", headers=own, json={"skills": [
        {"code": "first_aid", "level": 3}]}).get_json()
    assert raised == [{"code": "first_aid", "level": 3, "confirmed_level": None,
                       "effective_level": 3, "confirmed_at": None}]


def test_unknown_skill_and_bad_level(client, volunteer_and_headers):
    volunteer, own, _ = volunteer_and_headers
    url = f"/api/v1/volunteers/{volunteer.id}/skills"
    assert client.put(url, headers=own, json={"skills": [{"code": "juggling", "level": 1}]}
                      ).get_json()["error"] == "SKILL_UNKNOWN"
    bad_level = client.put(url, headers=own, json={"skills": [{"code": "driving", "level": 4}]})
    assert bad_level.status_code == 422
    assert "level" in bad_level.get_json()["errors"]["json"]["skills"]["0"]


def test_certification_expiring_filter(client, volunteer_and_headers, make_volunteer, tree):
    volunteer, own, organizer = volunteer_and_headers
    soon = (date.today() + timedelta(days=20)).isoformat()
    client.post(f"/api/v1/volunteers/{volunteer.id}/certifications", headers=own, json={
        "kind": "first_aid", "issuer": "红十字会", "issued_on": "2024-01-01", "expires_on": soon})
    make_volunteer(tree["a"])
    cutoff = (date.today() + timedelta(days=30)).isoformat()
    body = client.get(f"/api/v1/volunteers?certification_expiring_before={cutoff}",
                      headers=organizer).get_json()
    assert [item["id"] for item in body["items"]] == [volunteer.id]


def test_certification_dates_are_checked(client, volunteer_and_headers):
    volunteer, own, _ = volunteer_and_headers
    response = client.post(f"/api/v1/volunteers/{volunteer.id}/certifications", headers=own,
                           json={"kind": "first_aid", "issuer": "红十字会",
                                 "issued_on": "2025-01-01", "expires_on": "2024-01-01"})
    assert response.get_json()["error"] == "CERT_DATES"


def test_overlapping_availability_windows_are_refused(client, volunteer_and_headers):
    volunteer, own, _ = volunteer_and_headers
    url = f"/api/v1/volunteers/{volunteer.id}/availability"
    overlap = client.put(url, headers=own, json={"windows": [
        {"weekday": 0, "start_minute": 540, "end_minute": 720},
        {"weekday": 0, "start_minute": 600, "end_minute": 800}]})
    assert overlap.get_json()["error"] == "AVAILABILITY_OVERLAP"
    saved = client.put(url, headers=own, json={
        "windows": [{"weekday": 2, "start_minute": 540, "end_minute": 720}],
        "exceptions": [{"day": "2026-12-02", "note": "出差"}]}).get_json()
    assert saved["windows"] == [{"weekday": 2, "start_minute": 540, "end_minute": 720}]
    assert saved["exceptions"][0]["available"] is False


def test_withdrawing_sensitive_data_consent_ends_service(client, volunteer_and_headers):
    volunteer, own, _ = volunteer_and_headers
    base = f"/api/v1/volunteers/{volunteer.id}"
    consents = client.get(f"{base}/consents", headers=own).get_json()
    sensitive = next(c for c in consents if c["kind"] == "sensitive_data")
    withdrawn = client.post(f"{base}/consents/{sensitive['id']}/withdrawal", headers=own)
    assert withdrawn.get_json()["withdrawn_at"]
    assert client.get(base, headers=own).get_json()["status"] == "left"


def test_list_pagination_in_body_and_header(client, tree, make_volunteer, make_staff,
                                            auth_header):
    for _ in range(3):
        make_volunteer(tree["b"])
    headers = auth_header(make_staff(tree["b"], "organizer"))
    response = client.get("/api/v1/volunteers?page=2&page_size=2", headers=headers)
    body = response.get_json()
    assert body["pagination"] == {"total": 3, "total_pages": 2, "page": 2, "page_size": 2}
    assert len(body["items"]) == 1
    assert '"total": 3' in response.headers["X-Pagination"]
    too_big = client.get("/api/v1/volunteers?page_size=500", headers=headers)
    assert too_big.status_code == 422


def test_api_login_is_rate_limited(client, tree, make_staff):
    user = make_staff(tree["a"], "organizer")
    statuses = [client.post("/api/v1/tokens", json={"login": user.phone, "password": "wrong1234"}
                            ).status_code for _ in range(11)]
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429
    assert client.post("/api/v1/tokens", json={"login": user.phone, "password": "x"}
                       ).get_json()["error"] == "RATE_LIMITED"
