"""Review fix: before accepting, the API gives a volunteer no exact distance to the need's
point (the task page shows a band; the distance from a few homes would locate the person)."""
from __future__ import annotations

from tests.needs import helpers
from volunteer_hub.db import db
from volunteer_hub.matching import services as matching


def test_no_exact_distance_before_acceptance_in_the_api(tree, client, auth_header):
    v = helpers.volunteer(tree["b"])
    grandma = helpers.beneficiary(tree["b"])
    need = helpers.need(tree["b"], beneficiary_id=grandma.id, title="Visit")
    run = matching.run_matching(tree["b"], need.first_date, need.first_date, by=None)
    [proposal] = run.assignments
    assert proposal.explanation["distance_km"] is not None
    matching.confirm_assignment(proposal, by=None)
    db.session.commit()
    me = auth_header(v.user)
    listed = client.get("/api/v1/me/assignments", headers=me).get_json()["items"]
    assert [item["explanation"].get("distance_km") for item in listed] == [None]
    one = client.get(f"/api/v1/assignments/{proposal.id}", headers=me).get_json()
    assert one["explanation"].get("distance_km") is None
    accepted = client.post(f"/api/v1/assignments/{proposal.id}/accept", headers=me).get_json()
    assert accepted["explanation"]["distance_km"] is not None


def test_no_place_or_description_before_acceptance_in_the_api(tree, client, auth_header):
    v = helpers.volunteer(tree["b"])
    grandma = helpers.beneficiary(tree["b"])
    need = helpers.need(tree["b"], beneficiary_id=grandma.id, title="Visit",
                        description="王奶奶，幸福路 8 号，先打电话", location_note="3 单元门口")
    run = matching.run_matching(tree["b"], need.first_date, need.first_date, by=None)
    [proposal] = run.assignments
    matching.confirm_assignment(proposal, by=None)
    db.session.commit()
    me = auth_header(v.user)
    one = client.get(f"/api/v1/assignments/{proposal.id}", headers=me).get_json()
    assert one["need"]["description"] is None and one["need"]["location_note"] is None
    client.post(f"/api/v1/assignments/{proposal.id}/accept", headers=me)
    one = client.get(f"/api/v1/assignments/{proposal.id}", headers=me).get_json()
    assert one["need"]["description"].startswith("王奶奶") and one["need"]["location_note"]
