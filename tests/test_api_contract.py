"""The API says what it does: error shape, documented errors, auth and headers, timestamps
with their offset, field messages in the request's language, idempotency keys."""
from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy import text

from tests.needs import helpers
from volunteer_hub.db import db
from volunteer_hub.openapi import PUBLIC_OPERATIONS

ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def spec(client):
    return client.get("/api/openapi.json").get_json()


def _operations(spec):
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def _error_schema(spec):
    return spec["components"]["schemas"]["Error"]


def _conforms(body: dict, schema: dict) -> bool:
    known = set(schema["properties"])
    return set(schema["required"]) <= set(body) and (
        schema.get("additionalProperties", True) or set(body) <= known)


def test_real_errors_conform_to_the_documented_error_schema(client, spec, tree):
    schema = _error_schema(spec)
    assert {"code", "status", "error", "message", "errors"} <= set(schema["properties"])
    not_found = client.get("/api/v1/nothing-here").get_json()
    unauthenticated = client.get("/api/v1/me").get_json()
    invalid = client.post("/api/v1/tokens", json={"login": 5}).get_json()
    for body in (not_found, unauthenticated, invalid):
        assert _conforms(body, schema), body
    assert invalid["error"] == "VALIDATION_ERROR" and "json" in invalid["errors"]


def test_every_operation_documents_its_errors(spec):
    for path, method, operation in _operations(spec):
        statuses = set(operation["responses"])
        assert {"429", "default"} <= statuses, (method, path)
        if operation.get("security") != []:
            assert {"401", "403"} <= statuses, (method, path)
        if "{" in path:
            assert "404" in statuses, (method, path)
        if method != "get":
            assert "409" in statuses, (method, path)
        if "requestBody" in operation:
            assert {"400", "422"} <= statuses, (method, path)


def test_anonymous_operations_declare_no_bearer_auth(spec, app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert {endpoint for endpoint, _method in PUBLIC_OPERATIONS} <= endpoints
    login = spec["paths"]["/api/v1/tokens"]["post"]
    assert login["security"] == []
    assert spec["paths"]["/api/v1/skills"]["get"]["security"] == []
    assert spec["paths"]["/api/v1/emergency/respond/{token}"]["post"]["security"] == []
    assert spec["paths"]["/api/v1/notify/sms/inbound"]["post"]["security"] == [
        {"gatewaySecret": []}]
    assert "security" not in spec["paths"]["/api/v1/volunteers"]["get"]  # bearer, the default
    assert spec["security"] == [{"bearerAuth": []}]


def test_public_operations_answer_without_a_token(client, tree):
    assert client.get("/api/v1/skills").status_code == 200
    assert client.get("/api/v1/certification-kinds").status_code == 200
    assert client.get("/api/v1/volunteers").status_code == 401


def test_idempotency_key_and_pagination_headers_are_documented(spec):
    key = {"$ref": "#/components/parameters/IDEMPOTENCY_KEY"}
    create = spec["paths"]["/api/v1/beneficiaries"]["post"]
    assert key in create["parameters"]
    assert spec["components"]["parameters"]["IDEMPOTENCY_KEY"]["schema"]["maxLength"] == 255
    assert key not in spec["paths"]["/api/v1/beneficiaries"]["get"].get("parameters", [])
    listing = spec["paths"]["/api/v1/beneficiaries"]["get"]["responses"]["200"]
    assert "X-Pagination" in listing["headers"]
    one = spec["paths"]["/api/v1/emergency/respond/{token}"]["get"]["responses"]["200"]
    assert "X-Pagination" not in one.get("headers", {})


def _strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def test_every_timestamp_in_api_responses_has_an_offset(client, tree, auth_header, make_staff):
    organizer = make_staff(tree["b"], "organizer")
    headers = auth_header(organizer)
    beneficiary = helpers.beneficiary(tree["b"])
    need = helpers.need(tree["b"], beneficiary_id=beneficiary.id)
    volunteer = helpers.volunteer(tree["b"])
    urls = ["/api/v1/me", "/api/v1/tokens", "/api/v1/volunteers",
            f"/api/v1/volunteers/{volunteer.id}", "/api/v1/beneficiaries",
            f"/api/v1/beneficiaries/{beneficiary.id}/access-log", "/api/v1/needs",
            f"/api/v1/needs/{need.id}", f"/api/v1/needs/{need.id}/slots",
            f"/api/v1/volunteers/{volunteer.id}/consents"]
    moments = []
    for url in urls:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.get_json())
        moments += [s for s in _strings(response.get_json()) if ISO_MOMENT.match(s)]
    assert len(moments) >= 10
    for moment in moments:
        assert datetime.fromisoformat(moment).utcoffset() is not None, moment


@pytest.mark.parametrize("language, expected", [
    ("zh-CN", {"login": ["不是有效的字符串。"], "password": ["缺少必填字段。"]}),
    ("en", {"login": ["Not a valid string."], "password": ["Missing data for required field."]}),
])
def test_field_messages_speak_the_request_language(client, language, expected):
    response = client.post("/api/v1/tokens", json={"login": 5},
                           headers={"Accept-Language": language})
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"] == expected


def test_filled_in_field_messages_keep_their_values_in_chinese(client, tree, auth_header,
                                                               make_staff):
    headers = auth_header(make_staff(tree["b"], "organizer"))
    response = client.get("/api/v1/volunteers?page_size=500",
                          headers={**headers, "Accept-Language": "zh-CN"})
    assert response.get_json()["errors"]["query"]["page_size"] == ["必须大于或等于 1 且小于或等于 200。"]
    body = client.post("/api/v1/tokens", data="{", content_type="application/json",
                       headers={"Accept-Language": "zh-CN"}).get_json()
    assert body["errors"] == {"json": ["请求体不是有效的 JSON。"]}


def test_an_idempotency_key_over_255_characters_is_refused_not_cut(client, tree, auth_header,
                                                                   make_staff):
    headers = auth_header(make_staff(tree["b"], "organizer"))
    data = {"category": "disability", "name": "赵叔叔", "community_id": tree["b"].id}
    response = client.post("/api/v1/beneficiaries", json=data,
                           headers={**headers, "Idempotency-Key": "k" * 256,
                                    "Accept-Language": "en"})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "headers": {"Idempotency-Key": ["Longer than maximum length 255."]}}
    assert db.session.execute(text("SELECT count(*) FROM beneficiaries")).scalar() == 0
    accepted = client.post("/api/v1/beneficiaries", json=data,
                           headers={**headers, "Idempotency-Key": "k" * 255})
    assert accepted.status_code == 201


def test_a_replayed_create_keeps_no_personal_data_in_clear(client, tree, auth_header,
                                                           make_staff):
    headers = {**auth_header(make_staff(tree["b"], "organizer")), "Idempotency-Key": "create-1"}
    name, phone, address = "钱阿姨", "13912345678", "和平里 5 号楼"
    data = {"category": "elderly_alone", "name": name, "phone": phone, "address": address,
            "community_id": tree["b"].id}
    first = client.post("/api/v1/beneficiaries", json=data, headers=headers)
    assert first.status_code == 201 and first.get_json()["name"] == name
    stored = db.session.execute(text("SELECT * FROM idempotency_records")).mappings().all()
    assert len(stored) == 1
    dumped = " ".join(str(value) for row in stored for value in row.values())
    for clear in (name, phone, address, "\\u94b1"):  # JSON may escape the name
        assert clear not in dumped
    again = client.post("/api/v1/beneficiaries", json=data, headers=headers)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert db.session.execute(text("SELECT count(*) FROM beneficiaries")).scalar() == 1


def test_a_stored_request_digest_cannot_be_checked_against_a_guess(client, tree, auth_header,
                                                                   make_staff):
    """A body may hold a password (closing an account): whoever reads the table must not be
    able to test guesses against the stored digest, yet a retry is still recognised."""
    import hashlib
    import json

    headers = {**auth_header(make_staff(tree["b"], "organizer")), "Idempotency-Key": "digest-1",
               "Content-Type": "application/json"}
    body = json.dumps({"category": "disability", "name": "赵叔叔",
                       "community_id": tree["b"].id}).encode()
    first = client.post("/api/v1/beneficiaries", data=body, headers=headers)
    assert first.status_code == 201
    stored = db.session.execute(text("SELECT request_hash FROM idempotency_records")).scalar()
    assert stored != hashlib.sha256(body).hexdigest()
    again = client.post("/api/v1/beneficiaries", data=body, headers=headers)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()


def test_a_record_stored_with_the_old_unkeyed_digest_still_replays(client, tree, auth_header,
                                                                  make_staff):
    import hashlib
    import json

    headers = {**auth_header(make_staff(tree["b"], "organizer")), "Idempotency-Key": "digest-2",
               "Content-Type": "application/json"}
    body = json.dumps({"category": "disability", "name": "孙奶奶",
                       "community_id": tree["b"].id}).encode()
    first = client.post("/api/v1/beneficiaries", data=body, headers=headers)
    db.session.execute(text("UPDATE idempotency_records SET request_hash = :old"),
                       {"old": hashlib.sha256(body).hexdigest()})
    db.session.commit()
    again = client.post("/api/v1/beneficiaries", data=body, headers=headers)
    assert again.status_code == 201 and again.get_json() == first.get_json()
