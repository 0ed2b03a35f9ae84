"""The national record (issue 16 item 4): MCA Order No. 67 Art. 4 sections, permissions,
masked identifiers, logged reveals, and national numbers that round-trip."""
from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date

import pytest

from tests.records import builders
from tests.web.helpers import login, post_form, text
from volunteer_hub.db import db
from volunteer_hub.national import format as fmt
from volunteer_hub.national import services
from volunteer_hub.records import services as records
from volunteer_hub.recognition.models import Award, Evaluation, TrainingRecord
from volunteer_hub.volunteers.models import Volunteer


@pytest.fixture
def people(tree, make_staff, make_volunteer):
    admin = make_staff(tree["b"], "admin")
    organizer = make_staff(tree["b"], "organizer")
    first = make_volunteer(tree["b"])
    second = make_volunteer(tree["b"])
    outsider = make_volunteer(tree["a"])
    activity = builders.activity(tree["b"], organizer)
    record = builders.checked_out(activity, first, minutes=120)
    records.verify_record(record, by=organizer)
    db.session.add_all([
        TrainingRecord(volunteer_id=first.id, org_id=tree["b"].id, title="急救培训",
                       kind="first_aid", content="心肺复苏", trained_on=date(2026, 10, 9),
                       minutes=180),
        Award(volunteer_id=first.id, org_id=tree["b"].id, title="优秀志愿者", level="street",
              awarded_on=date(2026, 11, 1), issuer="测试街道"),
        Evaluation(service_record_id=record.id, volunteer_id=first.id,
                   evaluator_id=organizer.id, score=5),
    ])
    db.session.commit()
    return {"admin": admin, "organizer": organizer, "first": first, "second": second,
            "outsider": outsider, "record": record}


def _zip_section(body: bytes, section: str) -> list[dict]:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        raw = archive.read(f"{section}.csv").decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(raw)))


def test_org_export_has_every_art_4_section_and_only_the_orgs_volunteers(client, tree, people,
                                                                         auth_header):
    response = client.get(f"/api/v1/national/orgs/{tree['b'].id}/export",
                          headers={**auth_header(people["admin"]), "Accept-Language": "en"})
    assert response.status_code == 200
    document = json.loads(response.data)
    assert (document["format"], document["version"]) == (fmt.FORMAT_NAME, fmt.FORMAT_VERSION)
    assert document["exported_at"].endswith("+08:00")  # Beijing time, like every other time
    numbers = {row["volunteer_number"] for row in document["volunteers"]}
    assert numbers == {people["first"].volunteer_number, people["second"].volunteer_number}
    [service] = document["service"]
    assert (service["hours"], service["activity_name"], service["organiser"]) == \
        ("2.00", "敬老院陪伴", "乙社区")
    assert service["start"].endswith("+08:00")
    assert service["service_type"] == "助老服务"  # Chinese whatever the caller's language
    assert [t["title"] for t in document["training"]] == ["急救培训"]
    assert document["training"][0]["hours"] == "3.00"
    assert [a["title"] for a in document["awards"]] == ["优秀志愿者"]
    assert [e["score"] for e in document["evaluations"]] == [5]
    first = next(r for r in document["volunteers"]
                 if r["volunteer_number"] == people["first"].volunteer_number)
    assert first["service_hours"] == "2.00"


def test_the_id_number_is_clear_only_for_who_may_reveal_it_and_each_reveal_is_logged(
        client, tree, people, auth_header):
    from volunteer_hub.security import decrypt

    first = people["first"]
    clear = decrypt(first.id_number_encrypted)
    admin_doc = json.loads(client.get(f"/api/v1/national/orgs/{tree['b'].id}/export",
                                      headers=auth_header(people["admin"])).data)
    row = next(r for r in admin_doc["volunteers"] if r["volunteer_number"]
               == first.volunteer_number)
    assert row["id_number"] == clear and row["id_number_masked"] == "否"
    from volunteer_hub.privacy.models import PersonalDataAccess
    logged = db.session.query(PersonalDataAccess).filter_by(
        kind="id_reveal", subject_user_id=first.user_id, route="national.export").count()
    assert logged == 1
    # the command line (the system) exports masked identifiers only
    export = services.build_export([first], by=None, scope={})
    assert export.sections["volunteers"][0]["id_number"] == first.id_number_masked
    assert clear not in services.to_json_bytes(export).decode()


def test_who_may_export_what(client, tree, people, auth_header):
    organizer = auth_header(people["organizer"])
    assert client.get(f"/api/v1/national/orgs/{tree['b'].id}/export",
                      headers=organizer).status_code == 403
    admin = auth_header(people["admin"])
    assert client.get(f"/api/v1/national/orgs/{tree['a'].id}/export",
                      headers=admin).status_code == 403
    mine = client.get("/api/v1/national/me/export?format=csv",
                      headers=auth_header(people["first"].user))
    assert mine.status_code == 200 and mine.mimetype == "application/zip"
    [row] = _zip_section(mine.data, "volunteers")
    assert row["本系统编号"] == people["first"].volunteer_number
    assert len(_zip_section(mine.data, "service")) == 1


def test_the_export_round_trips_its_own_national_numbers(client, tree, people, auth_header):
    people["first"].national_number = "NV-3301-0001"
    people["second"].national_number = "NV-3301-0002"
    db.session.commit()
    headers = auth_header(people["admin"])
    body = client.get(f"/api/v1/national/orgs/{tree['b'].id}/export?format=csv",
                      headers=headers).data
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        volunteers_csv = archive.read("volunteers.csv")
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["version"] == fmt.FORMAT_VERSION and manifest["files"]["volunteers.csv"] == 2
    for volunteer in (people["first"], people["second"]):
        volunteer.national_number = None
    db.session.commit()
    response = client.post("/api/v1/national/numbers", data=volunteers_csv,
                           headers={**headers, "Content-Type": "text/csv",
                                    "Idempotency-Key": "numbers-1"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["updated"] == 2 and response.get_json()["problems"] == []
    db.session.expire_all()
    assert {v.volunteer_number: v.national_number for v in db.session.query(Volunteer)
            if v.national_number} == {people["first"].volunteer_number: "NV-3301-0001",
                                      people["second"].volunteer_number: "NV-3301-0002"}


def test_numbers_outside_scope_or_taken_are_refused(client, tree, people, auth_header):
    people["second"].national_number = "TAKEN-1"
    db.session.commit()
    raw = ("本系统编号,志愿者编号\n"
           f"{people['outsider'].volunteer_number},X-1\n"
           f"{people['first'].volunteer_number},TAKEN-1\n"
           f"{people['first'].volunteer_number},bad number!\n").encode("gbk")
    response = client.post("/api/v1/national/numbers", data=raw,
                           headers={**auth_header(people["admin"]),
                                    "Content-Type": "text/csv", "Idempotency-Key": "n-2"})
    result = response.get_json()
    assert result["updated"] == 0 and [p["line"] for p in result["problems"]] == [2, 3, 4]
    db.session.expire_all()
    assert db.session.get(Volunteer, people["outsider"].id).national_number is None


def test_admin_page_exports_and_imports_numbers_in_chinese(client, tree, people):
    people["admin"].locale = "zh_Hans"
    db.session.commit()
    login(client, people["admin"])
    page = text(client.get("/org/national"))
    assert "全国志愿服务信息系统" in page and "乙社区" in page
    download = client.get(f"/org/national/export?org_id={tree['b'].id}&format=json")
    assert download.status_code == 200
    assert "attachment" in download.headers["Content-Disposition"]
    raw = f"本系统编号,志愿者编号\n{people['first'].volunteer_number},PAGE-77\n".encode()
    response = post_form(client, "/org/national/numbers",
                         {"file": (io.BytesIO(raw), "numbers.csv")},
                         form_url="/org/national", content_type="multipart/form-data")
    assert response.status_code == 200, text(response)[:500]
    db.session.expire_all()
    assert db.session.get(Volunteer, people["first"].id).national_number == "PAGE-77"


def test_a_person_downloads_their_own_record_from_their_page(client, people):
    people["first"].national_number = "NV-9"
    db.session.commit()
    login(client, people["first"].user)
    page = client.get("/me/national-record")
    assert page.status_code == 200 and "NV-9" in text(page)
    assert "/me/national-record.csv" in text(page)
    document = json.loads(client.get("/me/national-record.json").data)
    assert [r["volunteer_number"] for r in document["volunteers"]] == \
        [people["first"].volunteer_number]


def test_the_commands_export_masked_and_import_numbers_back(app, tree, people, tmp_path):
    people["first"].national_number = "CLI-1"
    db.session.commit()
    runner = app.test_cli_runner()
    out = tmp_path / "export.zip"
    result = runner.invoke(args=["vh", "national", "export", "--org-code", "CB",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    [first] = [r for r in _zip_section(out.read_bytes(), "volunteers")
               if r["本系统编号"] == people["first"].volunteer_number]
    assert first["证件号码"] == people["first"].id_number_masked and first["志愿者编号"] == "CLI-1"
    people["first"].national_number = None
    db.session.commit()
    with zipfile.ZipFile(out) as archive:
        (tmp_path / "volunteers.csv").write_bytes(archive.read("volunteers.csv"))
    result = runner.invoke(args=["vh", "national", "import-numbers",
                                 str(tmp_path / "volunteers.csv")])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(Volunteer, people["first"].id).national_number == "CLI-1"


def test_csv_cells_typed_as_formulas_are_shown_as_text(client, tree, people, auth_header):
    # A name or activity typed as a formula must not run when an admin opens the CSV in Excel.
    people["first"].real_name = '=HYPERLINK("http://evil.example","点我")'
    people["record"].activity.name = "+1+cmd|' /C calc'!A0"
    db.session.commit()
    body = client.get(f"/api/v1/national/orgs/{tree['b'].id}/export?format=csv",
                      headers=auth_header(people["admin"])).data
    names = {r["本系统编号"]: r["姓名"] for r in _zip_section(body, "volunteers")}
    assert names[people["first"].volunteer_number] == \
        '\'=HYPERLINK("http://evil.example","点我")'
    [service] = _zip_section(body, "service")
    assert service["活动名称"] == "'+1+cmd|' /C calc'!A0"


def test_a_workbook_sent_as_numbers_is_a_clear_problem_not_a_500(client, people, auth_header):
    workbook = io.BytesIO()
    with zipfile.ZipFile(workbook, "w") as archive:  # an .xlsx file
        archive.writestr("xl/workbook.xml", "<workbook/>")
    for body, key in ((workbook.getvalue(), "wb-1"), (bytes(range(256)), "wb-2")):
        response = client.post("/api/v1/national/numbers", data=body,
                               headers={**auth_header(people["admin"]), "Idempotency-Key": key,
                                        "Content-Type": "text/csv", "Accept-Language": "en"})
        assert response.status_code == 200, response.data[:300]
        result = response.get_json()
        assert result["updated"] == 0 and [p["line"] for p in result["problems"]] == [1]
        assert "Excel" in result["problems"][0]["message"] \
            or "UTF-8" in result["problems"][0]["message"]


def test_the_menu_leads_a_volunteer_to_the_calendar_and_their_national_record(client, people):
    login(client, people["first"].user)
    page = text(client.get("/me/national-record"))
    assert 'href="/me/calendar"' in page and 'href="/me/national-record"' in page
    assert 'href="/org/national"' not in page


@pytest.mark.parametrize("role, shown", [("admin", True), ("organizer", False)])
def test_the_menu_shows_the_national_export_to_who_may_use_it(client, people, role, shown):
    # organizers may not export (orgs.manage): no link to a page that would answer 403
    login(client, people[role])
    assert ('href="/org/national"' in text(client.get("/org/volunteers"))) is shown


def test_a_closed_account_is_exported_without_a_reveal_logged_or_a_key_alarm(
        client, tree, people, auth_header, caplog):
    from volunteer_hub.privacy.closure import close_account
    from volunteer_hub.privacy.models import PersonalDataAccess

    second = people["second"]
    close_account(second.user, reason="test")
    db.session.commit()
    with caplog.at_level("ERROR"):
        document = json.loads(client.get(f"/api/v1/national/orgs/{tree['b'].id}/export",
                                         headers=auth_header(people["admin"])).data)
    [row] = [r for r in document["volunteers"] if r["volunteer_number"] ==
             second.volunteer_number]
    assert row["id_number"] == "" and row["phone"] in ("", "****")
    # no ID number is left to reveal: the access log must not say one was seen
    assert db.session.query(PersonalDataAccess).filter_by(
        kind="id_reveal", subject_user_id=second.user_id).count() == 0
    assert "DATA_ENCRYPTION_KEY" not in caplog.text


def test_a_grid_admin_imports_back_the_numbers_of_the_volunteers_they_export(
        client, tree, make_staff, make_volunteer, auth_header):
    # the export takes a grid's volunteers by their place; the import must accept the same
    grid_admin = make_staff(tree["grid_b"], "admin")
    volunteer = make_volunteer(tree["b"], grid_id=tree["grid_b"].id)
    volunteer.national_number = "GRID-1"
    db.session.commit()
    headers = auth_header(grid_admin)
    body = client.get(f"/api/v1/national/orgs/{tree['grid_b'].id}/export?format=csv",
                      headers=headers).data
    [row] = _zip_section(body, "volunteers")
    assert row["志愿者编号"] == "GRID-1"
    volunteer.national_number = None
    db.session.commit()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        volunteers_csv = archive.read("volunteers.csv")
    result = client.post("/api/v1/national/numbers", data=volunteers_csv,
                         headers={**headers, "Content-Type": "text/csv",
                                  "Idempotency-Key": "grid-1"}).get_json()
    assert (result["updated"], result["problems"]) == (1, [])
