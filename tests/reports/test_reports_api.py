"""Reports API: JSON numbers, scope, exports parsed back, bad input."""
from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from tests.reports import builders

QUARTER = "from=2026-01&to=2026-03"


@pytest.fixture
def world(db, tree):
    return builders.build(tree)


@pytest.fixture
def organizer_a(world, make_staff, auth_header):
    return auth_header(make_staff(world.tree["a"], "organizer"))


def test_monthly_json(client, world, organizer_a):
    a = world.tree["a"]
    response = client.get(f"/api/v1/reports/orgs/{a.id}/monthly?{QUARTER}", headers=organizer_a)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["from"], body["to"], body["resident_population"]) == ("2026-01", "2026-03",
                                                                       1000)
    months = {row["month"]: row for row in body["months"]}
    assert months["2026-01"]["minutes_by_type"]["elderly_care"] == 210
    assert months["2026-01"]["participation_rate"] == pytest.approx(0.003)
    assert months["2026-02"]["total_minutes"] == 0
    assert months["2026-03"]["total_minutes"] == 240
    assert body["totals"]["total_minutes"] == 450
    assert {t["code"] for t in body["service_types"]} >= {"elderly_care", "community"}


def test_liability_json(client, world, organizer_a):
    body = client.get(f"/api/v1/reports/orgs/{world.tree['a'].id}/liability",
                      headers=organizer_a).get_json()
    assert [band["band"] for band in body["bands"]] == ["<30", "30-44", "45-59", "60-69", "70+"]
    assert body["redeemable_minutes"] == 450 and body["group_minutes"] == 60
    assert body["pool_minutes"] == 60 and body["redemption_age"] == 60


def test_monthly_csv_has_a_bom_and_the_numbers(client, world, organizer_a):
    a = world.tree["a"]
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    response = client.get(f"/api/v1/reports/orgs/{a.id}/monthly/export?{QUARTER}&format=csv",
                          headers=organizer_a)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert f"volunteer-hub_{a.code}_monthly_2026-01_2026-03.csv" in \
        response.headers["Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header, data = rows[0], {row[0]: row for row in rows[1:]}
    assert list(data) == ["2026-01", "2026-02", "2026-03"]
    # Month, one column per service type, then total hours and six counts
    total = len(header) - 7
    assert float(data["2026-01"][total]) == 3.5
    assert data["2026-01"][-1] == "0.3"  # participation in percent
    assert data["2026-02"][total:] == ["0.0", "0", "0", "2", "0", "0", "0.0"]


def test_monthly_xlsx_reads_back(client, world, organizer_a):
    a = world.tree["a"]
    response = client.get(f"/api/v1/reports/orgs/{a.id}/monthly/export?{QUARTER}&format=xlsx",
                          headers=organizer_a)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].endswith('_2026-01_2026-03.xlsx"')
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    march = next(row for row in rows[1:] if row[0] == "2026-03")
    total = len(header) - 7  # after the month and one column per service type
    assert march[total] == 4.0
    assert isinstance(march[total + 1], int) and march[total + 1] == 2  # active volunteers


def test_liability_exports(client, world, organizer_a):
    a = world.tree["a"]
    url = f"/api/v1/reports/orgs/{a.id}/liability/export"
    sheet = load_workbook(io.BytesIO(client.get(f"{url}?format=xlsx",
                                                headers=organizer_a).get_data())).active
    rows = {row[0]: row for row in sheet.iter_rows(values_only=True)}
    assert rows["70+"][1:4] == (1, 4.0, 0)
    assert rows["60-69"][1:4] == (1, 1.5, 1.0)
    text = client.get(f"{url}?format=csv", headers=organizer_a).get_data().decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    assert ["<30", "1", "2.0", "0.0", "2.0"] in lines


def test_organizer_of_another_community_is_refused(client, world, make_staff, auth_header):
    other = auth_header(make_staff(world.tree["b"], "organizer"))
    a = world.tree["a"].id
    for path in (f"monthly?{QUARTER}", "liability", "monthly/export?format=csv",
                 "liability/export?format=xlsx"):
        response = client.get(f"/api/v1/reports/orgs/{a}/{path}", headers=other)
        assert response.status_code == 403, path
        assert response.get_json()["error"] == "FORBIDDEN"


def test_volunteer_is_refused(client, world, auth_header):
    header = auth_header(world.v1.user)
    response = client.get(f"/api/v1/reports/orgs/{world.tree['a'].id}/monthly", headers=header)
    assert response.status_code == 403


def test_anonymous_and_unknown_org(client, world, organizer_a):
    assert client.get(f"/api/v1/reports/orgs/{world.tree['a'].id}/liability").status_code == 401
    assert client.get("/api/v1/reports/orgs/999999/liability",
                      headers=organizer_a).status_code == 404


@pytest.mark.parametrize(("query", "field"), [
    ("from=2026-04&to=2026-03", "from"),
    ("from=2026-13", "from"),
    ("to=March", "to"),
    ("from=2020-01&to=2026-03", "to"),
])
def test_bad_ranges_give_field_messages(client, world, organizer_a, query, field):
    response = client.get(f"/api/v1/reports/orgs/{world.tree['a'].id}/monthly?{query}",
                          headers=organizer_a)
    assert response.status_code == 422
    messages = response.get_json()["errors"]["query"][field]
    assert messages and all(isinstance(m, str) and m for m in messages)


def test_unknown_export_format(client, world, organizer_a):
    response = client.get(f"/api/v1/reports/orgs/{world.tree['a'].id}/liability/export"
                          "?format=pdf", headers=organizer_a)
    assert response.status_code == 422 and "format" in response.get_json()["errors"]["query"]


def test_resident_population_is_set_by_organizers_only(client, world, organizer_a,
                                                       make_staff, auth_header):
    a = world.tree["a"].id
    url = f"/api/v1/reports/orgs/{a}/resident-population"
    coordinator = auth_header(make_staff(world.tree["a"], "coordinator"))
    assert client.put(url, json={"resident_population": 5}, headers=coordinator) \
        .status_code == 403
    assert client.put(url, json={"resident_population": -5}, headers=organizer_a) \
        .status_code == 422
    response = client.put(url, json={"resident_population": 2000}, headers=organizer_a)
    assert response.get_json() == {"org_id": a, "resident_population": 2000}
    body = client.get(f"/api/v1/reports/orgs/{a}/monthly?{QUARTER}", headers=organizer_a) \
        .get_json()
    assert body["months"][0]["participation_rate"] == pytest.approx(3 / 2000)


def test_openapi_documents_the_reports(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    monthly = paths["/api/v1/reports/orgs/{org_id}/monthly"]["get"]
    assert {p["name"] for p in monthly["parameters"]} >= {"from", "to"}
    assert "text/csv; charset=utf-8" in \
        paths["/api/v1/reports/orgs/{org_id}/monthly/export"]["get"]["responses"]["200"]["content"]
