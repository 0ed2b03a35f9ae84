"""Download everything about me: one ZIP, data.json + CSVs + README, logged, limited."""
from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC
from zoneinfo import ZoneInfo

from tests.web.helpers import login
from volunteer_hub.privacy.models import PersonalDataAccess
from volunteer_hub.privacy.registry import SECTIONS
from volunteer_hub.volunteers import services as volunteers


def _zip(response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/zip"
    return zipfile.ZipFile(io.BytesIO(response.data))


def test_api_export_holds_every_section_with_my_own_data(client, db, served, auth_header,
                                                         make_staff, tree):
    volunteer = served["volunteer"]
    clear_id = volunteers.reveal_id_number(volunteer, by=volunteer.user)
    admin = make_staff(tree["street"], "admin", name="街道管理员")
    volunteers.reveal_id_number(volunteer, by=admin, route="test")
    db.session.commit()
    archive = _zip(client.get("/api/v1/me/data-export", headers=auth_header(volunteer.user)))
    names = set(archive.namelist())
    assert {"data.json", "README.txt"} <= names
    assert {f"{section.name}.csv" for section in SECTIONS} <= names
    data = json.loads(archive.read("data.json"))
    sections = data["sections"]
    assert data["format"] == "vh-personal-data/1"
    profile = sections["profile"][0]
    assert profile["real_name"] == "李小梅" and profile["id_number"] == clear_id
    assert "id_number_hash" not in profile and "id_number_encrypted" not in profile
    assert "password_hash" not in sections["account"][0]
    assert sections["account"][0]["email"] == "li@example.com"
    assert {row["kind"] for row in sections["consents"]} >= {"service_terms", "sensitive_data"}
    assert [row["minutes"] for row in sections["service_records"]] == [180]
    assert sum(row["minutes"] for row in sections["ledger_transactions"]) == 180
    assert sections["ledger_balance"][0]["balance_minutes"] == 180
    assert sorted((row["kind"], row["actor_user_id"]) for row in sections["access_log"]) == [
        ("data_export", volunteer.user_id), ("id_reveal", admin.id)]
    # times read as the person reads them elsewhere: Beijing time, with the offset
    assert sections["access_log"][0]["at"].endswith("+08:00")
    record = served["record"]
    check_in = record.check_in_at.replace(tzinfo=record.check_in_at.tzinfo or UTC)
    assert sections["service_records"][0]["check_in_at"] == \
        check_in.astimezone(ZoneInfo("Asia/Shanghai")).isoformat(timespec="seconds")
    assert data["generated_at"].endswith("+08:00")
    # the CSV of a section has the same rows, with a BOM for Excel
    raw = archive.read("service_records.csv").decode("utf-8")
    assert raw.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(raw.lstrip("\ufeff"))))
    assert [row["minutes"] for row in rows] == ["180"]
    readme = archive.read("README.txt").decode("utf-8")
    assert "服务记录" in readme and "Service records" in readme and "+08:00" in readme


def test_export_never_holds_someone_elses_rows(client, db, served, make_volunteer, tree,
                                               auth_header):
    other = make_volunteer(tree["b"], real_name="王五")
    data = json.loads(_zip(client.get("/api/v1/me/data-export",
                                      headers=auth_header(other.user))).read("data.json"))
    assert data["sections"]["service_records"] == []
    assert data["sections"]["profile"][0]["real_name"] == "王五"
    assert "李小梅" not in json.dumps(data, ensure_ascii=False)


def test_export_is_logged_and_rate_limited(app, client, db, served, auth_header):
    volunteer = served["volunteer"]
    headers = auth_header(volunteer.user)
    app.config["DATA_EXPORT_RATE_LIMIT"] = "2 per hour"
    try:
        assert client.get("/api/v1/me/data-export", headers=headers).status_code == 200
        assert client.get("/api/v1/me/data-export", headers=headers).status_code == 200
        refused = client.get("/api/v1/me/data-export", headers=headers)
        assert refused.status_code == 429
    finally:
        app.config["DATA_EXPORT_RATE_LIMIT"] = "5 per hour;20 per day"
    kinds = db.session.execute(db.select(PersonalDataAccess.kind).filter_by(
        subject_user_id=volunteer.user_id)).scalars().all()
    assert kinds == ["data_export", "data_export"]


def test_export_needs_a_login(client, db):
    assert client.get("/api/v1/me/data-export").status_code == 401


def test_account_page_downloads_my_data(client, db, served):
    volunteer = served["volunteer"]
    login(client, volunteer.user)
    page = client.get("/account").get_data(as_text=True)
    assert "/account/data-export" in page
    archive = _zip(client.get("/account/data-export"))
    data = json.loads(archive.read("data.json"))
    assert data["sections"]["profile"][0]["real_name"] == "李小梅"
