"""The phone-shaped shell: languages kept, words a person understands, times on the site's
clock, a bottom tab bar for volunteers and a compact menu for staff."""
from __future__ import annotations

from tests.web.helpers import login, post_form, text
from volunteer_hub.db import db, transaction


def test_the_language_chosen_before_login_is_kept_after_login(client, tree, make_volunteer):
    volunteer = make_volunteer(tree["a"])
    with transaction():
        volunteer.user.locale = "zh_Hans"
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    post_form(client, "/lang/en", {"next": "/login"}, form_url="/login")
    login(client, volunteer.user)
    page = text(client.get("/me/profile", follow_redirects=True))
    assert '<html lang="en">' in page
    db.session.expire_all()
    assert volunteer.user.locale == "en"


def test_an_error_page_shows_no_code_in_the_text(client, tree, make_staff):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    login(client, make_staff(tree["street"], "coordinator"))
    page = text(client.get("/emergency/activations/999999/board"))
    body = page.split("<main", 1)[1]
    assert "NOT_FOUND" not in body.replace('data-error-code="NOT_FOUND"', "")
    assert "Error code" not in body and "错误代码" not in body


def test_time_bank_history_names_the_kind_and_shows_shanghai_time(client, tree, make_volunteer):
    from datetime import timedelta

    from volunteer_hub.db import utcnow
    from volunteer_hub.records import services as records
    from volunteer_hub.timebank.models import LedgerTransaction

    volunteer = make_volunteer(tree["a"])
    start = utcnow().replace(microsecond=0) - timedelta(days=1)
    with transaction():
        activity = records.create_activity(tree["a"], {
            "name": "社区清扫", "starts_at": start, "ends_at": start + timedelta(hours=2)},
            by=None)
        record = records.record_manually(activity, volunteer,
                                         {"minutes": 90, "reason": "纸质签到表"}, by=None)
        records.verify_record(record, by=None)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(client, volunteer.user)
    page = text(client.get("/me/hours"))
    assert "Service hours credited" in page and ">MINT<" not in page
    minted = db.session.get(LedgerTransaction, record.ledger_transaction_id).created_at
    assert " UTC" not in page
    assert (minted + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M") in page


def test_labels_say_whose_and_which(client, tree, make_staff, make_volunteer):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    volunteer = make_volunteer(tree["a"])
    login(client, make_staff(tree["a"], "organizer"))
    seen_by_organizer = text(client.get(f"/org/volunteers/{volunteer.id}"))
    assert "可服务时间" in seen_by_organizer and "我的可服务时间" not in seen_by_organizer
    need_form = text(client.get("/org/needs/new"))
    assert need_form.count(">结束时间<") <= 1 and "重复截止日期" in need_form


def test_the_plan_editor_asks_for_the_plan_name(client, tree, make_staff):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    login(client, make_staff(tree["street"], "coordinator"))
    editor = text(client.get("/emergency/plans/new"))
    assert '<label for="name">预案名称</label>' in editor


def test_volunteers_get_the_bottom_tab_bar(client, tree, make_volunteer):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    volunteer = make_volunteer(tree["a"])
    login(client, volunteer.user)
    page = text(client.get("/me/tasks"))
    tabbar = page.split('<nav class="tabbar"', 1)[1].split("</nav>", 1)[0]
    for label in ("任务", "附近", "时长", "召集", "我的"):
        assert f'<span class="tab-label">{label}</span>' in tabbar
    assert 'data-tab="tasks" aria-current="page"' in tabbar
    assert 'src="/static/js/offline.js"' in page  # the service worker for every logged-in user


def test_staff_get_a_compact_menu_and_no_tab_bar(client, tree, make_staff):
    login(client, make_staff(tree["a"], "organizer"))
    page = text(client.get("/org/volunteers"))
    assert 'class="tabbar"' not in page and '<details class="menu"' in page


def test_the_offline_page_needs_no_login_and_holds_no_personal_data(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    page = client.get("/offline")
    assert page.status_code == 200 and "没有网络连接" in text(page)
    assert "csrf" not in text(page)


def test_signup_takes_availability_and_explains_a_too_long_name(client, tree, db):
    from tests.web.helpers import signup_data
    from volunteer_hub.volunteers.models import Volunteer

    form = text(client.get("/signup"))
    assert 'name="real_name"' in form and 'maxlength="50"' not in form.split(
        'name="real_name"', 1)[1].split(">", 1)[0]
    too_long = post_form(client, "/signup", signup_data(tree["b"], real_name="张" * 51),
                         form_url="/signup")
    assert too_long.status_code == 422 and "At most 50 characters." in text(too_long)
    data = signup_data(tree["b"], available_days=["1", "5"], available_parts=["morning", "evening"])
    response = post_form(client, "/signup", data, form_url="/signup")
    assert response.status_code == 302, text(response)[:3000]
    volunteer = db.session.execute(db.select(Volunteer)).scalar_one()
    assert sorted((w.weekday, w.start_minute, w.end_minute) for w in volunteer.availability) == [
        (1, 540, 720), (1, 1080, 1260), (5, 540, 720), (5, 1080, 1260)]


def test_people_are_found_by_name_code_or_phone_within_scope(client, tree, make_staff,
                                                             make_volunteer):
    mine = make_volunteer(tree["a"], real_name="王小明")
    other = make_volunteer(tree["b"], real_name="王小红")
    login(client, make_staff(tree["a"], "organizer"))
    for query in ("小明", mine.volunteer_number, mine.phone, mine.phone[-4:]):
        items = client.get("/people/search", query_string={"q": query}).get_json()["items"]
        assert [item["id"] for item in items] == [mine.id], query
    item = client.get("/people/search", query_string={"q": "王小"}).get_json()["items"][0]
    assert item["code"] == mine.volunteer_number and mine.phone not in str(item)  # masked
    assert other.id not in [i["id"] for i in client.get(
        "/people/search", query_string={"q": other.volunteer_number}).get_json()["items"]]


def test_people_search_needs_a_login(client):
    response = client.get("/people/search?q=王")
    assert response.status_code in (302, 401)


def test_the_organizer_sees_whose_answer_is_awaited(client, db):
    from volunteer_hub.demo import DEMO_PASSWORD, build_demo
    from volunteer_hub.matching.models import Assignment
    from volunteer_hub.needs.models import Need
    from volunteer_hub.volunteers.models import Volunteer

    logins = build_demo(volunteers=40, seed=5)
    need = db.session.execute(db.select(Need).order_by(Need.id)).scalars().first()
    volunteer = db.session.execute(db.select(Volunteer).order_by(Volunteer.id)).scalars().first()
    db.session.add(Assignment(slot_id=need.slots[0].id, volunteer_id=volunteer.id,
                              source="manual", state="confirmed"))
    db.session.commit()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    post_form(client, "/login", {"login": logins["organizer"], "password": DEMO_PASSWORD})
    page = text(client.get(f"/org/needs/{need.id}"))
    assert "等待志愿者回复" in page and "等待您回复" not in page


def test_dates_of_events_are_shanghai_dates(client, tree, make_volunteer):
    from datetime import datetime

    volunteer = make_volunteer(tree["a"])
    with transaction():
        for consent in volunteer.consents:
            consent.granted_at = datetime(2026, 1, 1, 17, 30)  # UTC: already 2 January there
    login(client, volunteer.user)
    page = text(client.get("/me/consents"))
    assert "2026-01-02" in page and "2026-01-01" not in page
