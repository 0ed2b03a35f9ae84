"""Certificates as the rules describe them (issue 16 item 2): the recording org issues,
with its person in charge, handler, contact, credit code and seal."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest

from tests.records import builders
from tests.timebank.test_certificates import _earn, _embedded, ready_issuer
from tests.web.helpers import login, post_form
from volunteer_hub.orgs import credit_code

# Real codes as printed on business licences (Huawei, Tencent, Xiaomi, Alibaba, a public body).
REAL_CODES = ["914403001922038216", "9144030071526726XG", "91110108551385082Q",
              "91330100799655058B", "11100000000013127D"]


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_credit_codes_pass_the_check(code):
    assert credit_code.is_valid(code)
    assert credit_code.is_valid(code.lower())


@pytest.mark.parametrize("code", [
    "914403001922038217",  # last character changed
    "9144030071526726XF",
    "91440300192203821",   # 17 characters
    "914403001922O38216",  # letter O is not in the alphabet
    "91A40300192203821X",  # division code must be digits
    "",
])
def test_wrong_credit_codes_fail(code):
    assert not credit_code.is_valid(code)


def _png(size=200, colour=(200, 0, 0, 255)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGBA", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def checkpoint_dir(app, monkeypatch, tmp_path):
    """Issuing makes checkpoints: keep them out of the session-wide instance folder."""
    monkeypatch.setitem(app.config, "LEDGER_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))


@pytest.fixture
def served(db, tree, make_staff, make_volunteer):
    organizer_a = make_staff(tree["a"], "organizer")
    organizer_b = make_staff(tree["b"], "organizer")
    volunteer = make_volunteer(tree["b"], real_name="陈思远")
    _earn(db, tree, organizer_a, volunteer, 120)
    row = builders.activity(tree["b"], organizer_b, name="乙社区助老",
                            start=builders.START + timedelta(days=2))
    record = builders.checked_out(row, volunteer, minutes=60)
    from volunteer_hub.records import services as records

    records.verify_record(record, by=organizer_b)
    db.session.commit()
    return {"volunteer": volunteer}


def _certificate(client, headers, volunteer, **query):
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return client.get(f"/api/v1/volunteers/{volunteer.id}/certificate.pdf?{params}",
                      headers=headers)


def test_no_certificate_while_person_in_charge_is_empty(client, db, tree, served, auth_header):
    volunteer = served["volunteer"]
    ready_issuer(db, tree["a"], person_in_charge="")
    headers = auth_header(volunteer.user)
    response = _certificate(client, {**headers, "Accept-Language": "zh-CN"}, volunteer,
                            org_id=tree["a"].id)
    assert response.status_code == 409
    body = response.get_json()
    assert body["error"] == "ISSUER_INCOMPLETE"
    assert set(body["errors"]["issuer"]) == {"person_in_charge"}
    message = body["errors"]["issuer"]["person_in_charge"][0]
    assert "负责人" in message and "甲社区" in message
    assert f"/org/{tree['a'].id}/certificate-settings" in message
    english = _certificate(client, {**headers, "Accept-Language": "en"}, volunteer,
                           org_id=tree["a"].id).get_json()
    assert "Person in charge" in english["errors"]["issuer"]["person_in_charge"][0]
    ready_issuer(db, tree["a"])
    assert _certificate(client, headers, volunteer, org_id=tree["a"].id).status_code == 200


def test_each_recording_org_issues_its_own_certificate(client, db, tree, served, auth_header):
    volunteer = served["volunteer"]
    ready_issuer(db, tree["a"])
    ready_issuer(db, tree["b"], person_in_charge="孙主任", credit_code="914403001922038216")
    headers = auth_header(volunteer.user)
    listed = client.get(f"/api/v1/volunteers/{volunteer.id}/certificates",
                        headers=headers).get_json()
    assert {(row["org_id"], row["verified_minutes"]) for row in listed} == {
        (tree["a"].id, 120), (tree["b"].id, 60)}
    unchosen = _certificate(client, headers, volunteer)
    assert unchosen.status_code == 422 and "org_id" in unchosen.get_json()["errors"]["query"]
    first = _embedded(_certificate(client, headers, volunteer, org_id=tree["a"].id).data)
    second = _embedded(_certificate(client, headers, volunteer, org_id=tree["b"].id).data)
    assert first["issuer"]["organization"] == "甲社区" and first["service"]["total_minutes"] == 120
    assert second["issuer"]["organization"] == "乙社区" and second["service"]["total_minutes"] == 60
    assert second["issuer"]["person_in_charge"] == "孙主任"
    assert second["issuer"]["credit_code"] == "914403001922038216"
    assert first["number"] != second["number"]
    for content in (first, second):  # both numbers resolve on the public page
        page = client.get(f"/certificates/{content['number']}").get_data(as_text=True)
        assert 'data-certificate-valid="true"' in page
        assert content["issuer"]["organization"] in page
    # an org that recorded nothing for this volunteer cannot be chosen
    assert _certificate(client, headers, volunteer,
                        org_id=tree["street"].id).status_code == 422


def test_issuer_fields_by_the_orgs_admins_only(client, db, tree, make_staff, auth_header):
    admin = auth_header(make_staff(tree["a"], "admin"))
    url = f"/api/v1/orgs/{tree['a'].id}/issuer"
    assert client.get(url, headers=admin).get_json()["missing"] == [
        "person_in_charge", "handler", "contact"]
    response = client.patch(url, headers=admin, json={
        "person_in_charge": "王主任", "handler": "赵经办", "contact": "010-12345678",
        "credit_code": "91110108551385082q"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["missing"] == []
    assert response.get_json()["credit_code"] == "91110108551385082Q"
    bad = client.patch(url, headers={**admin, "Accept-Language": "zh-CN"},
                       json={"credit_code": "91110108551385082R"})
    assert bad.status_code == 422 and "统一社会信用代码" in bad.get_json()["errors"][
        "json"]["credit_code"][0]
    db.session.expire_all()
    assert tree["a"].credit_code == "91110108551385082Q"  # the bad one saved nothing
    # an organizer of the org, or an admin of a sibling, does not see it at all
    for user in (make_staff(tree["a"], "organizer"), make_staff(tree["b"], "admin")):
        headers = auth_header(user)
        assert client.get(url, headers=headers).status_code == 404
        assert client.patch(url, headers=headers, json={"handler": "x"}).status_code == 404
    assert client.get(url).status_code == 401


def test_seal_upload_validated_private_and_printed(client, db, tree, make_staff, served,
                                                   auth_header):
    admin = auth_header(make_staff(tree["a"], "admin"))
    ready_issuer(db, tree["a"])
    url = f"/api/v1/orgs/{tree['a'].id}/seal"
    png = _png()
    for body in (b"not an image", b"GIF89a" + b"\0" * 100, _png(size=8),
                 b"\x89PNG\r\n\x1a\n" + b"\0" * 700_000):
        response = client.put(url, headers={**admin, "Content-Type": "image/png"}, data=body)
        assert response.status_code == 422 and "seal" in response.get_json()["errors"]["json"]
    response = client.put(url, headers={**admin, "Content-Type": "image/png"}, data=png)
    assert response.status_code == 200 and response.get_json()["has_seal"] is True
    assert client.get(url, headers=admin).data == png
    volunteer = served["volunteer"]
    # the seal never leaves except inside certificates: not to the volunteer, not anonymously
    assert client.get(url, headers=auth_header(volunteer.user)).status_code == 404
    assert client.get(url).status_code == 401
    assert client.get(f"/org/{tree['a'].id}/seal").status_code in (302, 401)
    pdf = _certificate(client, auth_header(volunteer.user), volunteer, org_id=tree["a"].id)
    content = _embedded(pdf.data)
    import hashlib

    assert content["issuer"]["seal_sha256"] == hashlib.sha256(png).hexdigest()
    assert pdf.data.count(b"/Subtype /Image") == 3  # QR code, seal and its alpha mask
    assert client.delete(url, headers=admin).get_json()["has_seal"] is False
    unsealed = _certificate(client, auth_header(volunteer.user), volunteer, org_id=tree["a"].id)
    assert unsealed.data.count(b"/Subtype /Image") == 1


def test_settings_page_saves_and_shows_field_errors(client, db, tree, make_staff):
    admin = make_staff(tree["a"], "admin")
    login(client, admin)
    listing = client.get("/org/certificate-settings").get_data(as_text=True)
    assert f'data-org="{tree["a"].id}"' in listing and "甲社区" in listing
    page_url = f"/org/{tree['a'].id}/certificate-settings"
    page = client.get(page_url).get_data(as_text=True)
    assert "data-issuer-missing" in page and "负责人" in page
    bad = post_form(client, page_url, {"person_in_charge": "王主任", "handler": "赵经办",
                                       "contact": "010-1", "credit_code": "123"})
    assert bad.status_code == 422 and "统一社会信用代码" in bad.get_data(as_text=True)
    good = post_form(client, page_url, {
        "person_in_charge": "王主任", "handler": "赵经办", "contact": "010-12345678",
        "credit_code": "914403001922038216",
        "seal": (io.BytesIO(_png()), "seal.png")}, content_type="multipart/form-data")
    assert good.status_code == 302
    db.session.expire_all()
    assert tree["a"].missing_issuer_fields() == [] and tree["a"].seal_mime == "image/png"
    assert "data-issuer-missing" not in client.get(page_url).get_data(as_text=True)


def test_settings_page_is_for_the_orgs_admins(client, tree, make_staff):
    login(client, make_staff(tree["a"], "organizer"))
    assert client.get(f"/org/{tree['a'].id}/certificate-settings").status_code == 404


def test_a_pixel_bomb_seal_is_refused_before_its_pixels_are_decoded(app, monkeypatch):
    """A small file can declare a huge image (a 12,000 px square PNG of one colour is a few
    hundred KB and ~576 MB once decoded, below Pillow's own bomb limit): its size is
    refused from the header, the pixels are never decoded."""
    import struct
    import zlib

    from PIL import ImageFile

    from volunteer_hub.errors import ValidationFailed
    from volunteer_hub.orgs import issuer

    side = 12_000
    row = b"\0" + b"\0" * side  # filter byte + one grey byte per pixel
    raw = zlib.compress(row * side, 9)

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0,
                                                             0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))
    assert len(bomb) < app.config["ORG_SEAL_MAX_BYTES"]

    def no_decoding(self, *args, **kwargs):
        raise AssertionError("the seal's pixels were decoded before its size was checked")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with app.test_request_context(), pytest.raises(ValidationFailed) as refused:
        issuer.validated_seal_type(bomb)
    assert refused.value.code == "SEAL_INVALID"
    assert "2000" in str(refused.value.message)


def test_a_reversed_record_leaves_only_the_other_orgs_certificate(client, db, tree, served,
                                                                  make_staff, auth_header):
    """Org A's record is reversed after its certificate was issued: A no longer certifies
    anything for the volunteer, A's certificate reads as superseded, B's is untouched."""
    from sqlalchemy import select

    from volunteer_hub.timebank import services
    from volunteer_hub.timebank.models import LedgerTransaction

    volunteer = served["volunteer"]
    ready_issuer(db, tree["a"])
    ready_issuer(db, tree["b"])
    headers = auth_header(volunteer.user)
    first = _embedded(_certificate(client, headers, volunteer, org_id=tree["a"].id).data)
    second = _embedded(_certificate(client, headers, volunteer, org_id=tree["b"].id).data)
    mint = first["service"]["records"][0]["transaction_id"]
    assert db.session.execute(select(LedgerTransaction.kind).where(
        LedgerTransaction.id == mint)).scalar() == "MINT"
    services.reverse(mint, "recorded twice", by=make_staff(tree["a"], "admin"))
    db.session.commit()

    listed = client.get(f"/api/v1/volunteers/{volunteer.id}/certificates",
                        headers=headers).get_json()
    assert {(row["org_id"], row["verified_minutes"]) for row in listed} == {(tree["b"].id, 60)}
    assert _certificate(client, headers, volunteer).status_code == 200  # the only one left
    assert _certificate(client, headers, volunteer, org_id=tree["a"].id).status_code == 422
    superseded = client.get(f"/certificates/{first['number']}").get_data(as_text=True)
    assert 'data-certificate-valid="false"' in superseded
    untouched = client.get(f"/certificates/{second['number']}").get_data(as_text=True)
    assert 'data-certificate-valid="true"' in untouched
