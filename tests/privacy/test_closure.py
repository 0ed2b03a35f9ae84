"""Closing an account: personal data gone or pseudonymized, hours and certificates kept."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from tests import factories
from tests.web.helpers import csrf_token, login, post_form, text
from volunteer_hub.accounts.models import ApiToken, IdempotencyRecord, User
from volunteer_hub.notify.models import OutboxMessage, PushSubscription
from volunteer_hub.privacy.models import ClosedAccount, PersonalDataAccess
from volunteer_hub.reports.services import liability_report, month_range, monthly_report
from volunteer_hub.timebank.models import Account
from volunteer_hub.volunteers import services as volunteers
from volunteer_hub.volunteers.models import Consent, Volunteer, VolunteerSkill


def _close(client, headers, password=factories.PASSWORD):
    return client.post("/api/v1/me/account-closure", json={"password": password},
                       headers=headers)


def _subscribe(db, user):
    db.session.add(PushSubscription(user_id=user.id, endpoint=f"https://push.example/{user.id}",
                                    p256dh="k" * 10, auth="a" * 10))
    db.session.commit()


def test_a_wrong_password_closes_nothing(client, db, served, auth_header):
    volunteer = served["volunteer"]
    headers = auth_header(volunteer.user)
    response = _close(client, headers, password="not-my-password1")
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"]["password"]
    assert db.session.get(Volunteer, volunteer.id).real_name == "李小梅"
    assert client.get("/api/v1/me", headers=headers).status_code == 200


def test_closing_pseudonymizes_and_refuses_logins(client, db, served, auth_header, tree,
                                                  make_staff):
    volunteer = served["volunteer"]
    user_id, phone, number = volunteer.user_id, volunteer.user.phone, volunteer.volunteer_number
    clear_id = volunteers.reveal_id_number(volunteer, by=volunteer.user)
    volunteers.set_skills(volunteer, [{"code": "companionship", "level": 2}],
                          by=volunteer.user)
    db.session.commit()
    _subscribe(db, volunteer.user)
    db.session.add_all([
        OutboxMessage(event_key="own", recipient_id=user_id, channel="sms", status="sent",
                      address=phone, body="李小梅您好，明天9点见"),
        OutboxMessage(event_key="box", recipient_id=user_id, channel="inbox", body="李小梅"),
        IdempotencyRecord(scope=f"user:{user_id}", key="k", method="PATCH", path="/x",
                          request_hash="h", status=200, body="sealed")])
    db.session.commit()
    admin = make_staff(tree["street"], "admin")
    volunteers.reveal_id_number(volunteer, by=admin)
    db.session.commit()
    headers = auth_header(volunteer.user)

    response = _close(client, headers)
    assert response.status_code == 200, response.get_json()
    closed = db.session.execute(select(ClosedAccount)).scalar_one()
    assert response.get_json()["pseudonym"] == f"已注销志愿者 #{closed.id}"
    assert closed.certificate_name == "李*梅"

    db.session.expire_all()
    user, row = db.session.get(User, user_id), db.session.get(Volunteer, volunteer.id)
    assert user.display_name == row.real_name == f"已注销志愿者 #{closed.id}"
    assert (user.phone, user.email, user.password_hash, user.active) == (None, None, None, False)
    assert row.phone == "" and row.id_number_encrypted == "" and row.id_number_masked == ""
    assert row.volunteer_number == number  # issued certificates name it
    assert (row.lat, row.lon) == (None, None) and row.birth_date.month == row.birth_date.day == 1
    assert db.session.scalar(select(func.count()).select_from(VolunteerSkill)) == 0
    assert db.session.scalar(select(func.count()).select_from(PushSubscription)) == 0
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0
    assert all(c.guardian_name_encrypted is None for c in
               db.session.execute(select(Consent)).scalars())
    (sms,) = db.session.execute(select(OutboxMessage)).scalars().all()  # inbox row gone
    assert (sms.channel, sms.address, sms.body) == ("sms", None, "")  # kept for its cost
    assert db.session.scalar(select(func.count()).select_from(IdempotencyRecord).where(
        IdempotencyRecord.scope == f"user:{user_id}")) == 0
    # the access log stays (3 years), under the pseudonym
    assert db.session.scalar(select(func.count()).select_from(PersonalDataAccess)) == 1
    # no login any more, by token or by password
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    again = client.post("/api/v1/tokens", json={"login": phone, "password": factories.PASSWORD})
    assert again.status_code == 401
    # nothing of the person is left in clear anywhere in the two rows
    dumped = json.dumps([str(getattr(row, c.name)) for c in Volunteer.__table__.columns]
                        + [str(getattr(user, c.name)) for c in User.__table__.columns],
                        ensure_ascii=False)
    assert "李小梅" not in dumped and phone not in dumped and clear_id not in dumped


def test_the_same_id_number_may_register_again_after_closing(client, db, served, auth_header,
                                                              tree):
    volunteer = served["volunteer"]
    clear_id = volunteers.reveal_id_number(volunteer, by=volunteer.user)
    assert _close(client, auth_header(volunteer.user)).status_code == 200
    response = client.post("/api/v1/volunteers", json=factories.registration_data(
        tree["b"], id_number=clear_id, real_name="李小梅", community_id=tree["b"].id))
    assert response.status_code == 201, response.get_json()


def test_hours_still_sum_in_org_and_monthly_reports(client, db, served, auth_header, tree):
    volunteer = served["volunteer"]
    months = month_range("2026-11", "2026-11")
    before = monthly_report(tree["city"], months, by=None)
    liability_before = liability_report(tree["city"], by=None)
    assert before.total_minutes == 180
    assert _close(client, auth_header(volunteer.user)).status_code == 200
    db.session.expire_all()
    after = monthly_report(tree["city"], months, by=None)
    assert after.total_minutes == before.total_minutes == 180
    assert after.months[0].active_volunteers == before.months[0].active_volunteers == 1
    assert liability_report(tree["city"], by=None).total_minutes == \
        liability_before.total_minutes
    account = db.session.execute(select(Account).filter_by(
        kind="VOLUNTEER", owner_id=str(volunteer.id))).scalar_one()
    assert account.balance_minutes == 180


def test_issued_certificate_still_checks_with_the_masked_name(client, db, served,
                                                               auth_header):
    volunteer = served["volunteer"]
    pdf = client.get(f"/api/v1/volunteers/{volunteer.id}/certificate.pdf",
                     headers=auth_header(volunteer.user))
    assert pdf.status_code == 200, pdf.get_data(as_text=True)[:300]
    from volunteer_hub.timebank.certificates import extract

    number = json.loads(extract(pdf.data)[0])["number"]
    assert _close(client, auth_header(volunteer.user)).status_code == 200
    page = client.get(f"/certificates/{number}")
    assert page.status_code == 200
    html = text(page)
    assert 'data-certificate-valid="true"' in html
    assert "李*梅" in html and "已注销" not in html


def test_org_admins_see_the_closed_account_in_lists(client, db, served, auth_header, tree,
                                                    make_staff):
    volunteer = served["volunteer"]
    admin = make_staff(tree["street"], "admin")
    assert _close(client, auth_header(volunteer.user)).status_code == 200
    listed = client.get("/api/v1/volunteers", headers=auth_header(admin)).get_json()
    names = [item["real_name"] for item in listed["items"]]
    assert any(name.startswith("已注销志愿者 #") for name in names)
    login(client, admin)
    assert "已注销志愿者 #" in text(client.get("/org/volunteers?status=left"))


def test_account_page_closes_after_the_password(client, db, served):
    volunteer = served["volunteer"]
    login(client, volunteer.user)
    assert "/account/privacy" in text(client.get("/account"))
    assert "/account/close" in text(client.get("/account/privacy"))
    wrong = post_form(client, "/account/close", {"password": "wrong-one-1", "understood": "y"})
    assert wrong.status_code == 422
    assert db.session.get(Volunteer, volunteer.id).real_name == "李小梅"
    done = post_form(client, "/account/close", {"password": factories.PASSWORD,
                                                "understood": "y"})
    assert done.status_code == 200 and "已注销志愿者 #" in text(done)
    # logged out: the account page asks for a login again
    assert client.get("/account").status_code == 302
    assert csrf_token(client, "/login")


def test_a_staff_account_without_a_profile_closes_too(client, db, tree, make_staff,
                                                      auth_header):
    from volunteer_hub.accounts.models import RoleGrant

    coordinator = make_staff(tree["b"], "coordinator")
    phone = coordinator.phone
    response = _close(client, auth_header(coordinator))
    assert response.status_code == 200, response.get_json()
    db.session.expire_all()
    user = db.session.get(User, coordinator.id)
    assert user.display_name.startswith("已注销志愿者 #") and user.phone is None
    assert db.session.scalar(select(func.count()).select_from(RoleGrant)) == 0
    assert client.post("/api/v1/tokens", json={"login": phone, "password": factories.PASSWORD}
                       ).status_code == 401


def test_closing_ends_the_sessions_on_other_devices(client, db, served, auth_header):
    """A browser logged in elsewhere loads its user from the session on each request."""
    from volunteer_hub.extensions import login_manager

    volunteer = served["volunteer"]
    load_session_user = login_manager._user_callback
    assert load_session_user(str(volunteer.user_id)).id == volunteer.user_id
    assert _close(client, auth_header(volunteer.user)).status_code == 200
    db.session.expire_all()
    assert load_session_user(str(volunteer.user_id)) is None


def test_closing_forgets_the_national_number_and_the_sms_sent_from_the_phone(
        client, db, served, auth_header):
    """The 志愿者编号 would tie the pseudonymized hours back to the person in the national
    system; SMS replies from their phone (also those stored before the phone matched an
    account) hold the number and the person's own words."""
    from volunteer_hub.notify.models import InboundSms
    from volunteer_hub.notify.services import receive_sms

    volunteer = served["volunteer"]
    phone = volunteer.user.phone
    volunteer.national_number = "A1100000012345"
    db.session.add(InboundSms(from_phone=phone, text="我是李小梅，明天不能来", user_id=None))
    db.session.commit()
    receive_sms(from_phone="+86" + phone, text="收到")
    db.session.add(InboundSms(from_phone="13900000000", text="someone else", user_id=None))
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(InboundSms)) == 3

    assert _close(client, auth_header(volunteer.user)).status_code == 200
    db.session.expire_all()
    assert db.session.get(Volunteer, volunteer.id).national_number is None
    left = db.session.execute(select(InboundSms)).scalars().all()
    assert [row.from_phone for row in left] == ["13900000000"]
