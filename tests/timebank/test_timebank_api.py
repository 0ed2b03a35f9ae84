"""Time-bank API: balances, history, idempotent transfers, scope."""
from __future__ import annotations

from tests.records import builders
from volunteer_hub.records import services as records


def _earn(db, tree, organizer, volunteer, minutes=180):
    activity = builders.activity(tree["a"], organizer)
    record = builders.checked_out(activity, volunteer, minutes=minutes)
    records.verify_record(record, by=organizer)
    db.session.commit()
    return record


def test_volunteer_cannot_read_another_volunteers_ledger(client, db, tree, make_staff,
                                                         make_volunteer, auth_header):
    organizer = make_staff(tree["a"], "organizer")
    mine, other = make_volunteer(tree["b"]), make_volunteer(tree["b"])
    _earn(db, tree, organizer, other)
    me = auth_header(mine.user)
    for path in ("balance", "ledger", "records"):
        response = client.get(f"/api/v1/volunteers/{other.id}/{path}", headers=me)
        assert response.status_code == 404, path
    response = client.post(f"/api/v1/volunteers/{other.id}/donations", headers={
        **me, "Idempotency-Key": "x"}, json={"minutes": 10})
    assert response.status_code == 404
    # an organizer of another community cannot either; one over B can
    assert client.get(f"/api/v1/volunteers/{other.id}/ledger",
                      headers=auth_header(organizer)).status_code == 404
    street = auth_header(make_staff(tree["street"], "organizer"))
    assert client.get(f"/api/v1/volunteers/{other.id}/ledger", headers=street).status_code == 200


def test_balance_history_and_idempotent_donation(client, db, tree, make_staff, make_volunteer,
                                                 auth_header):
    organizer = make_staff(tree["a"], "organizer")
    volunteer = make_volunteer(tree["b"])
    record = _earn(db, tree, organizer, volunteer)
    me = auth_header(volunteer.user)
    balance = client.get(f"/api/v1/volunteers/{volunteer.id}/balance", headers=me).get_json()
    assert balance == {"volunteer_id": volunteer.id, "individual_minutes": 180,
                       "group_minutes": 0, "total_minutes": 180, "service_minutes": 180,
                       "star_level": 0, "final_star_level": 0, "star_notice_ends_at": None}
    assert client.post(f"/api/v1/volunteers/{volunteer.id}/donations", headers=me,
                       json={"minutes": 30}).status_code == 428
    headers = {**me, "Idempotency-Key": "don-1"}
    first = client.post(f"/api/v1/volunteers/{volunteer.id}/donations", headers=headers,
                        json={"minutes": 30})
    again = client.post(f"/api/v1/volunteers/{volunteer.id}/donations", headers=headers,
                        json={"minutes": 30})
    assert first.status_code == again.status_code == 201
    assert first.get_json()["id"] == again.get_json()["id"]
    changed = client.post(f"/api/v1/volunteers/{volunteer.id}/donations", headers=headers,
                          json={"minutes": 40})
    assert changed.status_code == 409
    too_much = client.post(f"/api/v1/volunteers/{volunteer.id}/donations",
                           headers={**me, "Idempotency-Key": "don-2"}, json={"minutes": 999})
    assert too_much.status_code == 409
    assert too_much.get_json()["error"] == "INSUFFICIENT_BALANCE"
    history = client.get(f"/api/v1/volunteers/{volunteer.id}/ledger", headers=me).get_json()
    assert [(e["kind"], e["minutes"]) for e in history["items"]] == [("DONATION", -30),
                                                                     ("MINT", 180)]
    assert history["items"][1]["provenance"]["record_id"] == record.id
    assert history["items"][1]["provenance"]["method"] == "code"


def test_reversal_over_http_needs_an_administrator(client, db, tree, make_staff,
                                                   make_volunteer, auth_header):
    organizer = make_staff(tree["a"], "organizer")
    volunteer = make_volunteer(tree["b"])
    record = _earn(db, tree, organizer, volunteer)
    path = f"/api/v1/ledger-transactions/{record.ledger_transaction_id}/reversal"
    assert client.post(path, headers=auth_header(volunteer.user),
                       json={"reason": "x"}).status_code == 404
    admin = auth_header(make_staff(tree["city"], "admin"))
    response = client.post(path, headers=admin, json={"reason": "entered twice"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["reverses_id"] == record.ledger_transaction_id
    again = client.post(path, headers=admin, json={"reason": "entered twice"})
    assert again.get_json()["id"] == response.get_json()["id"]  # retry-safe
    assert client.get(f"/api/v1/volunteers/{volunteer.id}/balance",
                      headers=admin).get_json()["total_minutes"] == 0
