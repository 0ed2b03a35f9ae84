"""Records API: an activity from posting to verified, minted hours over HTTP."""
from __future__ import annotations

from datetime import timedelta

from volunteer_hub.db import utcnow


def test_check_in_out_verify_and_balance_over_http(client, tree, make_staff, make_volunteer,
                                                    auth_header):
    organizer = make_staff(tree["a"], "organizer")
    volunteer = make_volunteer(tree["b"])
    staff, me = auth_header(organizer), auth_header(volunteer.user)
    start = utcnow() - timedelta(minutes=30)
    response = client.post("/api/v1/activities", headers=staff, json={
        "org_id": tree["a"].id, "name": "社区清洁", "service_type": "environment",
        "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=2)).isoformat()})
    assert response.status_code == 201, response.get_json()
    activity = response.get_json()
    code = activity["checkin_code"]
    assert len(code) == 6 and code.isdigit()
    seen = client.get(f"/api/v1/activities/{activity['id']}", headers=me).get_json()
    assert seen["checkin_code"] is None  # volunteers must not learn the code from the API
    wrong = client.post(f"/api/v1/activities/{activity['id']}/check-in", headers=me,
                        json={"method": "code", "code": "1234567"[:6] if code != "123456"
                              else "654321"})
    assert wrong.status_code == 422 and wrong.get_json()["error"] == "WRONG_CODE"
    token = client.get(f"/api/v1/activities/{activity['id']}/qr-token",
                       headers=staff).get_json()["token"]
    assert client.get(f"/api/v1/activities/{activity['id']}/qr-token",
                      headers=me).status_code == 403
    response = client.post(f"/api/v1/activities/{activity['id']}/check-in", headers=me,
                           json={"method": "qr", "token": token})
    assert response.status_code == 201, response.get_json()
    record_id = response.get_json()["id"]
    response = client.post(f"/api/v1/activities/{activity['id']}/check-out", headers=me,
                           json={"method": "code", "code": code})
    assert response.status_code == 200 and response.get_json()["minutes"] == 0  # minutes later
    queue = client.get("/api/v1/verification-queue", headers=staff).get_json()
    assert [item["id"] for item in queue["items"]] == [record_id]
    assert client.get("/api/v1/verification-queue", headers=me).get_json()["items"] == []
    response = client.post("/api/v1/verifications", headers=staff,
                           json={"record_ids": [record_id]})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["verified"][0]["status"] == "verified"
    records = client.get(f"/api/v1/volunteers/{volunteer.id}/records", headers=me).get_json()
    assert records["items"][0]["status"] == "verified"


def test_hand_record_and_correction_over_http(client, tree, make_staff, make_volunteer,
                                              auth_header):
    organizer = make_staff(tree["street"], "organizer")
    volunteer = make_volunteer(tree["b"])
    staff, me = auth_header(organizer), auth_header(volunteer.user)
    start = utcnow() - timedelta(hours=5)
    activity = client.post("/api/v1/activities", headers=staff, json={
        "org_id": tree["b"].id, "name": "义诊", "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=3)).isoformat()}).get_json()
    response = client.post(f"/api/v1/activities/{activity['id']}/records", headers=staff,
                           json={"volunteer_id": volunteer.id, "minutes": 200,
                                 "reason": "paper sheet"})
    assert response.status_code == 422
    assert response.get_json()["error"] == "ABOVE_ACTIVITY_LENGTH"
    record = client.post(f"/api/v1/activities/{activity['id']}/records", headers=staff,
                         json={"volunteer_id": volunteer.id, "minutes": 90,
                               "reason": "paper sheet"}).get_json()
    client.post("/api/v1/verifications", headers=staff, json={"record_ids": [record["id"]]})
    response = client.post(f"/api/v1/records/{record['id']}/corrections", headers=me,
                           json={"minutes": 120, "reason": "I stayed longer"})
    assert response.status_code == 201, response.get_json()
    correction = response.get_json()
    assert correction["corrects_id"] == record["id"] and correction["status"] == "pending"
    response = client.post(f"/api/v1/records/{correction['id']}/rejection", headers=staff,
                           json={"reason": "The sheet says 90 minutes"})
    assert response.get_json()["status"] == "rejected"
    balance = client.get(f"/api/v1/volunteers/{volunteer.id}/balance", headers=me).get_json()
    assert balance["total_minutes"] == 90


def test_guessing_the_check_in_code_is_rate_limited(client, tree, make_staff, make_volunteer,
                                                    auth_header):
    staff = auth_header(make_staff(tree["a"], "organizer"))
    me = auth_header(make_volunteer(tree["b"]).user)
    start = utcnow() - timedelta(minutes=30)
    activity = client.post("/api/v1/activities", headers=staff, json={
        "org_id": tree["a"].id, "name": "社区清洁", "service_type": "environment",
        "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=2)).isoformat()}
    ).get_json()
    wrong = "000000" if activity["checkin_code"] != "000000" else "111111"
    statuses = [client.post(f"/api/v1/activities/{activity['id']}/check-in", headers=me,
                            json={"method": "code", "code": wrong}).status_code
                for _ in range(11)]
    assert statuses[:10] == [422] * 10
    assert statuses[10] == 429
