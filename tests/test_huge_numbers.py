"""Numbers no database column can hold are bad input (404 or 422), never a 500."""
HUGE = 10**30


def test_a_huge_id_in_a_path_is_not_found(client, tree, make_staff, auth_header):
    headers = auth_header(make_staff(tree["city"], "admin"))
    for path in (f"/api/v1/emergency/activations/{HUGE}", f"/api/v1/emergency/plans/{HUGE}",
                 f"/api/v1/volunteers/{HUGE}", f"/api/v1/orgs/{HUGE}"):
        response = client.get(path, headers=headers)
        assert response.status_code == 404, (path, response.status_code)
        assert response.get_json()["error"] == "NOT_FOUND"


def test_a_huge_id_in_a_query_or_body_is_a_validation_error(client, tree, make_staff,
                                                            auth_header):
    headers = auth_header(make_staff(tree["city"], "admin"))
    listed = client.get(f"/api/v1/emergency/plans?org_id={HUGE}", headers=headers)
    assert listed.status_code in (404, 422), listed.get_json()
    created = client.post("/api/v1/emergency/plans", headers=headers,
                          json={"org_id": HUGE, "name": "x", "category": "accident",
                                "levels": {}})
    assert created.status_code in (404, 422), created.get_json()
