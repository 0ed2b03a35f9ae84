"""The organizer's report dashboard: both languages, charts with tables, exports, form."""
from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook

from tests.reports import builders
from tests.web.helpers import login, post_form, text

QUARTER = "from=2026-01&to=2026-03"


@pytest.fixture
def world(db, tree):
    return builders.build(tree)


@pytest.fixture
def organizer(world, make_staff):
    return make_staff(world.tree["a"], "organizer")


def _page(client, world, query=QUARTER):
    return client.get(f"/org/reports?org_id={world.tree['a'].id}&{query}")


@pytest.mark.parametrize(("language", "html_lang", "community"), [
    ("en", "en", "Community A"), ("zh-CN", "zh-Hans", "甲社区")])
def test_dashboard_renders_in_both_languages(client, world, organizer, language, html_lang,
                                             community):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    login(client, organizer)
    response = _page(client, world)
    page = text(response)
    assert response.status_code == 200
    assert f'lang="{html_lang}"' in page and community in page
    assert 'data-total-minutes="450"' in page
    march = re.search(r'<tr data-month="2026-03">(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r"<td>([^<]*)</td>", march)[:3] == ["0.0", "3.0", "1.0"]


def test_charts_are_inline_svg_with_title_and_a_table(client, world, organizer):
    login(client, organizer)
    page = text(_page(client, world))
    charts = re.findall(r'<svg class="chart".*?</svg>', page, re.S)
    assert len(charts) == 2
    for chart in charts:
        assert 'role="img"' in chart and "<title id=" in chart and "<desc id=" in chart
    assert charts[0].count("<rect") == 3  # Jan: elderly care; Mar: community + environment
    # The site-wide service worker registration is the page's only script: the charts need none.
    shell = '<script src="/static/js/offline.js" data-sw="/sw.js" defer></script>'
    assert "<script" not in page.replace(shell, "") and "cdn" not in page.lower()
    assert page.count('<table class="report"') == 2
    assert '<tr data-band="70+"><th scope="row">70+</th><td>1</td>' in page


def test_bad_months_show_field_messages(client, world, organizer):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(client, organizer)
    response = _page(client, world, "from=2026-05&to=2026-02")
    assert response.status_code == 422
    assert re.search(r'id="month-from-error" role="alert">[^<]+</p>', text(response))
    response = _page(client, world, "from=May")
    assert response.status_code == 422 and 'id="month-from-error"' in text(response)


def test_scope_on_pages(client, world, make_staff):
    login(client, make_staff(world.tree["b"], "organizer"))
    assert _page(client, world).status_code == 403
    assert client.get(f"/org/reports/{world.tree['a'].id}/liability.csv").status_code == 403
    page = text(client.get("/org/reports"))
    assert "Community B" in page or "乙社区" in page


def test_volunteer_gets_403(client, world):
    login(client, world.v1.user)
    assert client.get("/org/reports").status_code == 403


def test_page_exports(client, world, organizer):
    login(client, organizer)
    a = world.tree["a"].id
    response = client.get(f"/org/reports/{a}/monthly.xlsx?{QUARTER}")
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.get_data())).active.iter_rows(values_only=True))
    assert [row[0] for row in rows[1:]] == ["2026-01", "2026-02", "2026-03"]
    csv = client.get(f"/org/reports/{a}/liability.csv").get_data()
    assert csv.startswith(b"\xef\xbb\xbf") and "70+".encode() in csv
    assert client.get(f"/org/reports/{a}/monthly.pdf").status_code == 404


def test_organizer_records_the_population(client, world, organizer):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(client, organizer)
    a = world.tree["a"].id
    form_url = f"/org/reports?org_id={a}"
    response = post_form(client, f"/org/reports/{a}/population",
                         {"resident_population": "3000"}, form_url=form_url)
    assert response.status_code == 302
    page = text(_page(client, world))
    assert "0.10%" in page  # 3 active residents in January out of 3000
    post_form(client, f"/org/reports/{a}/population", {"resident_population": "-1"},
              form_url=form_url)
    assert "3000" in text(_page(client, world))  # refused: unchanged


def test_coordinator_reads_but_cannot_set_the_population(client, db, world, make_staff):
    login(client, make_staff(world.tree["a"], "coordinator"))
    page = text(_page(client, world))
    assert 'data-total-minutes="450"' in page
    assert "/population" not in page
    response = post_form(client, f"/org/reports/{world.tree['a'].id}/population",
                         {"resident_population": "5"},
                         form_url=f"/org/reports?org_id={world.tree['a'].id}")
    assert response.status_code == 403
    db.session.expire_all()
    assert world.tree["a"].resident_population == 1000
