"""Certificates (志愿服务记录证明): content, masking, signature, determinism, public check."""
from __future__ import annotations

import base64
import json
import re
import zlib

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo

from tests.records import builders
from volunteer_hub.records import services as records
from volunteer_hub.timebank import certificates
from volunteer_hub.timebank.certificate_commands import certificate_group


def ready_issuer(db, org, **fields):
    values = {"person_in_charge": "王主任", "handler": "赵经办", "contact": "010-12345678",
              "credit_code": "91110108551385082Q"} | fields
    for name, value in values.items():
        setattr(org, name, value)
    db.session.commit()


def _earn(db, tree, organizer, volunteer, minutes=180, **activity):
    row = builders.activity(tree["a"], organizer, **activity)
    record = builders.checked_out(row, volunteer, minutes=minutes)
    records.verify_record(record, by=organizer)
    db.session.commit()
    return record


@pytest.fixture
def earned(app, db, tree, make_staff, make_volunteer, monkeypatch, tmp_path):
    from datetime import timedelta

    # issuing makes checkpoints: keep them out of the session-wide instance folder
    monkeypatch.setitem(app.config, "LEDGER_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))

    organizer = make_staff(tree["a"], "organizer")
    volunteer = make_volunteer(tree["b"], real_name="李小梅")
    ready_issuer(db, tree["a"])
    first = _earn(db, tree, organizer, volunteer, 180)
    second = _earn(db, tree, organizer, volunteer, 90, name="社区环境清洁",
                   start=builders.START + timedelta(days=1))
    return {"organizer": organizer, "volunteer": volunteer, "records": [first, second]}


def _pdf(client, auth_header, user, volunteer, locale="zh_Hans"):
    response = client.get(f"/api/v1/volunteers/{volunteer.id}/certificate.pdf?locale={locale}",
                          headers=auth_header(user))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/pdf"
    return response.data


def _embedded(pdf: bytes) -> dict:
    canonical, _signature = certificates.extract(pdf)
    return json.loads(canonical)


def _all_text(pdf: bytes) -> bytes:
    """The raw file plus every inflated stream (page contents are compressed)."""
    parts = [pdf]
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            parts.append(zlib.decompress(match.group(1)))
        except zlib.error:
            pass
    return b"\n".join(parts)


def _clear_id(db, volunteer) -> str:
    from volunteer_hub.security import decrypt

    return decrypt(volunteer.id_number_encrypted)


def _run_verify(app, path, *extra):
    runner = CliRunner()
    return runner.invoke(certificate_group, ["verify", str(path), *extra],
                         obj=ScriptInfo(create_app=lambda: app))


def test_content_fields_are_present(client, earned, auth_header):
    volunteer = earned["volunteer"]
    content = _embedded(_pdf(client, auth_header, volunteer.user, volunteer))
    holder = content["holder"]
    assert holder["name"] == "李小梅"
    assert holder["id_type"] == "mainland_id" and holder["id_type_label"] == "居民身份证"
    assert holder["id_number_masked"] == volunteer.id_number_masked
    assert "*" in holder["id_number_masked"]
    assert holder["volunteer_number"] == volunteer.volunteer_number
    service = content["service"]
    assert service["total_minutes"] == 270 and service["total_hours"] == "4.5"
    assert [(r["record_id"], r["minutes"], r["date"]) for r in service["records"]] == [
        (earned["records"][0].id, 180, "2026-11-24"), (earned["records"][1].id, 90,
                                                       "2026-11-25")]
    assert service["records"][1]["activity"] == "社区环境清洁"
    assert service["records"][0]["organization"] == "甲社区"
    issuer = content["issuer"]
    # whoever records the hours certifies them: not the volunteer's own community (乙社区)
    assert issuer["organization"] == "甲社区"
    assert issuer["person_in_charge"] == "王主任" and issuer["handler"] == "赵经办"
    assert issuer["contact"] == "010-12345678"
    assert issuer["credit_code"] == "91110108551385082Q"
    assert content["number"].startswith(volunteer.volunteer_number + "-")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", content["issued_on"])
    assert content["verify_url"].endswith(f"/certificates/{content['number']}")
    assert content["locale"] == "zh_Hans"


def test_english_variant(app, client, earned, auth_header):
    volunteer = earned["volunteer"]
    zh = _embedded(_pdf(client, auth_header, volunteer.user, volunteer))
    en = _embedded(_pdf(client, auth_header, volunteer.user, volunteer, "en"))
    assert en["issuer"]["organization"] == "Community A"
    assert en["locale"] == "en" and en["holder"]["id_type_label"] == "Mainland resident ID"
    assert en["service"]["records"][0]["organization"] == "Community A"
    assert en["number"] == zh["number"]  # one certificate, two languages


def test_masked_id_only_never_the_clear_number(client, db, earned, auth_header):
    volunteer = earned["volunteer"]
    clear = _clear_id(db, volunteer)
    for locale in ("zh_Hans", "en"):
        text = _all_text(_pdf(client, auth_header, volunteer.user, volunteer, locale))
        for encoding in ("ascii", "utf-16-be"):
            assert clear.encode(encoding) not in text
        assert volunteer.id_number_masked.encode() in base64.urlsafe_b64decode(
            re.search(rb"vhcert1:([A-Za-z0-9_\-=]+)\.", text).group(1))


def test_signature_verifies_with_the_cli_and_one_changed_byte_fails(app, client, earned,
                                                                     auth_header, tmp_path):
    volunteer = earned["volunteer"]
    pdf = _pdf(client, auth_header, volunteer.user, volunteer)
    good = tmp_path / "certificate.pdf"
    good.write_bytes(pdf)
    result = _run_verify(app, good)
    assert result.exit_code == 0, result.output
    assert "VALID" in result.output and "4.5" in result.output
    # with the public key downloaded from the deployment, as a third party would
    key = tmp_path / "key.pem"
    key.write_bytes(client.get("/certificates/public-key.pem").data)
    assert _run_verify(app, good, "--public-key", str(key)).exit_code == 0

    # one changed byte of the signed content: 270 minutes become 970
    canonical, _sig = certificates.extract(pdf)
    forged_content = canonical.replace(b'"total_minutes":270', b'"total_minutes":970')
    assert len(forged_content) == len(canonical) and forged_content != canonical
    assert sum(a != b for a, b in zip(canonical, forged_content)) == 1
    forged = pdf.replace(base64.urlsafe_b64encode(canonical),
                         base64.urlsafe_b64encode(forged_content))
    bad = tmp_path / "forged.pdf"
    bad.write_bytes(forged)
    result = _run_verify(app, bad, "--public-key", str(key))
    assert result.exit_code == 1
    assert "INVALID" in result.output

    # a signature from another key fails too
    other = tmp_path / "other.pem"
    other.write_bytes(certificates.public_pem(
        certificates.serialization.load_pem_private_key(certificates.new_private_pem(),
                                                        None).public_key()))
    assert _run_verify(app, good, "--public-key", str(other)).exit_code == 1
    # no embedded signature at all
    plain = tmp_path / "plain.pdf"
    plain.write_bytes(b"%PDF-1.4\n%%EOF\n")
    assert _run_verify(app, plain, "--public-key", str(key)).exit_code == 1


def test_same_data_gives_identical_bytes(client, db, tree, earned, auth_header, make_staff):
    volunteer = earned["volunteer"]
    first = _pdf(client, auth_header, volunteer.user, volunteer)
    street = make_staff(tree["street"], "organizer")
    assert _pdf(client, auth_header, street, volunteer) == first  # whoever downloads it
    assert _pdf(client, auth_header, volunteer.user, volunteer) == first
    # new verified hours: a new certificate, a new number
    _earn(db, tree, earned["organizer"], volunteer, 60)
    changed = _pdf(client, auth_header, volunteer.user, volunteer)
    assert changed != first
    assert _embedded(changed)["number"] != _embedded(first)["number"]


def test_public_verification_page(client, db, tree, earned, auth_header):
    volunteer = earned["volunteer"]
    number = _embedded(_pdf(client, auth_header, volunteer.user, volunteer))["number"]
    page = client.get(f"/certificates/{number}")  # no login
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-certificate-valid="true"' in html
    assert "李*梅" in html and "李小梅" not in html
    assert 'data-hours="4.5"' in html and "甲社区" in html
    assert volunteer.id_number_masked not in html
    unknown = number[:-1] + ("0" if number[-1] != "0" else "1")
    assert client.get(f"/certificates/{unknown}").status_code == 404
    assert client.get("/certificates/nonsense").status_code == 404
    # an older certificate stays resolvable; a later correction marks it not valid
    _earn(db, tree, earned["organizer"], volunteer, 60)
    assert 'data-certificate-valid="true"' in client.get(
        f"/certificates/{number}").get_data(as_text=True)
    correction = records.request_correction(earned["records"][0], {
        "minutes": 120, "reason": "left early"}, by=earned["organizer"])
    db.session.commit()
    records.verify_record(correction, by=earned["organizer"])
    db.session.commit()
    html = client.get(f"/certificates/{number}").get_data(as_text=True)
    assert 'data-certificate-valid="false"' in html
    newest = _embedded(_pdf(client, auth_header, volunteer.user, volunteer))
    assert newest["service"]["total_minutes"] == 90 + 60 + 120
    assert 'data-certificate-valid="true"' in client.get(
        f"/certificates/{newest['number']}").get_data(as_text=True)


def test_another_volunteer_gets_404(client, tree, earned, make_volunteer, make_staff,
                                    auth_header):
    volunteer = earned["volunteer"]
    other = make_volunteer(tree["b"])
    path = f"/api/v1/volunteers/{volunteer.id}/certificate.pdf"
    assert client.get(path, headers=auth_header(other.user)).status_code == 404
    # an organizer of another community neither; unknown volunteer likewise
    assert client.get(path, headers=auth_header(earned["organizer"])).status_code == 404
    assert client.get("/api/v1/volunteers/999999/certificate.pdf",
                      headers=auth_header(volunteer.user)).status_code == 404
    assert client.get(path).status_code == 401
    # no verified hours yet: nothing to certify
    response = client.get(f"/api/v1/volunteers/{other.id}/certificate.pdf",
                          headers=auth_header(other.user))
    assert response.status_code == 409 and response.get_json()["error"] == "NO_VERIFIED_HOURS"
    assert client.get(path + "?locale=fr", headers=auth_header(volunteer.user)).status_code == 422


def test_download_button_on_my_hours(client, earned):
    from tests.web.helpers import login

    volunteer = earned["volunteer"]
    login(client, volunteer.user)
    page = client.get("/me/hours").get_data(as_text=True)
    assert 'data-certificate="zh_Hans"' in page and 'data-certificate="en"' in page
    response = client.get("/me/hours/certificate.pdf?locale=en")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert _embedded(response.data)["locale"] == "en"


def test_key_comes_from_settings_or_is_generated_once(app, db, tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = certificates.new_private_pem().decode()
    saved = app.extensions.pop("certificate_signing_key", None)
    app.config["CERTIFICATE_SIGNING_KEY"] = pem
    try:
        key = certificates.signing_key(app)
        assert isinstance(key, Ed25519PrivateKey)
        assert certificates.public_pem(key.public_key()) == certificates.public_pem(
            certificates.load_public_key(pem.encode()))
    finally:
        app.config["CERTIFICATE_SIGNING_KEY"] = None
        app.extensions.pop("certificate_signing_key", None)
        if saved is not None:
            app.extensions["certificate_signing_key"] = saved
    path = tmp_path / "k.pem"
    assert certificates.write_new_key(path, exclusive=True)
    assert not certificates.write_new_key(path, exclusive=True)  # the first one stays
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_numbers_issued_before_per_org_issuers_still_resolve(client, db, earned):
    """A certificate printed before issue 16 named the volunteer's community and every org's
    hours; its number keeps checking on the public page."""
    volunteer = earned["volunteer"]
    snapshot = certificates._snapshot_of(certificates._service_rows(volunteer), None)
    old = certificates._legacy_number(volunteer, snapshot)
    assert "-O" not in old
    html = client.get(f"/certificates/{old}").get_data(as_text=True)
    assert 'data-certificate-valid="true"' in html
    assert 'data-hours="4.5"' in html and "乙社区" in html
    forged = old[:-1] + ("0" if old[-1] != "0" else "1")
    assert client.get(f"/certificates/{forged}").status_code == 404
