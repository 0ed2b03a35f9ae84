"""Retention: the nightly rules delete or close what is past its time, and report it."""
from __future__ import annotations

import json
from datetime import timedelta

from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import func, select, update

from volunteer_hub.accounts.models import IdempotencyRecord, User
from volunteer_hub.cli import main
from volunteer_hub.db import utcnow
from volunteer_hub.notify.models import OutboxMessage
from volunteer_hub.privacy.models import ClosedAccount, PersonalDataAccess, RetentionRun
from volunteer_hub.privacy.retention import run_retention
from volunteer_hub.volunteers.models import Volunteer


def _ago(days: int):
    return (utcnow() - timedelta(days=days)).replace(tzinfo=None)


def _count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _seed(db, tree, make_volunteer, make_staff):
    """An old and a fresh row of each kind; one long-inactive volunteer, one active."""
    idle = make_volunteer(tree["b"], real_name="钱七")
    active = make_volunteer(tree["b"])
    staff = make_staff(tree["b"], "organizer")
    db.session.execute(update(User).where(User.id.in_([idle.user_id, staff.id]))
                       .values(created_at=_ago(2000), last_login_at=_ago(1500)))
    for days in (1200, 800, 10):
        db.session.add(PersonalDataAccess(kind="id_reveal", subject_user_id=active.user_id,
                                          route="test", at=_ago(days)))
    for days, status in ((400, "sent"), (400, "pending"), (5, "sent")):
        db.session.add(OutboxMessage(event_key=f"e{days}{status}", recipient_id=active.user_id,
                                     channel="sms", status=status, created_at=_ago(days)))
    for days in (30, 1):
        db.session.add(IdempotencyRecord(scope="user:1", key=f"k{days}", method="POST",
                                         path="/x", request_hash="h", status=201, body="",
                                         created_at=_ago(days)))
    db.session.commit()
    return idle, active, staff


def test_a_run_applies_each_rule_and_stores_what_it_did(app, db, tree, make_volunteer,
                                                        make_staff):
    idle, active, staff = _seed(db, tree, make_volunteer, make_staff)
    run = run_retention(trigger="test")
    db.session.commit()
    assert json.loads(run.counts) == {"access_logs": 1, "idempotency": 1,
                                      "inactive_accounts": 0, "inactive_warnings": 1,
                                      "messages": 1}
    # access records: 3 years kept (1200 days gone, 800 kept)
    assert _count(db, PersonalDataAccess) == 2
    # messages: the old sent one gone, the old pending one kept, the warning written
    assert sorted(m.event_key for m in db.session.execute(select(OutboxMessage).where(
        OutboxMessage.recipient_id == active.user_id)).scalars()) == ["e400pending", "e5sent"]
    (warning,) = db.session.execute(select(OutboxMessage).where(
        OutboxMessage.recipient_id == idle.user_id)).scalars().all()
    assert "注销" in warning.body  # SMS when a gateway is set up, else the inbox
    assert _count(db, IdempotencyRecord) == 1
    assert _count(db, ClosedAccount) == 0  # warned first, closed a month later

    db.session.execute(update(OutboxMessage).where(OutboxMessage.id == warning.id)
                       .values(created_at=_ago(31)))
    db.session.commit()
    again = run_retention(trigger="test")
    db.session.commit()
    assert json.loads(again.counts)["inactive_accounts"] == 1
    assert json.loads(again.counts)["inactive_warnings"] == 0
    # the idle volunteer is closed (pseudonymized); staff with a role and the active one not
    closed = db.session.execute(select(ClosedAccount)).scalar_one()
    assert (closed.user_id, closed.reason) == (idle.user_id, "inactive")
    assert db.session.get(Volunteer, idle.id).real_name.startswith("已注销志愿者 #")
    assert db.session.get(User, staff.id).active
    assert db.session.get(Volunteer, active.id).real_name == "张三"
    assert _count(db, RetentionRun) == 2


def test_a_login_after_the_warning_keeps_the_account(app, db, tree, make_volunteer,
                                                     make_staff, client, auth_header):
    idle, _active, _staff = _seed(db, tree, make_volunteer, make_staff)
    run_retention(trigger="test")
    db.session.commit()
    db.session.execute(update(OutboxMessage).where(OutboxMessage.recipient_id == idle.user_id)
                       .values(created_at=_ago(31)))
    db.session.commit()
    auth_header(idle.user)  # logs in
    run = run_retention(trigger="test")
    db.session.commit()
    assert json.loads(run.counts)["inactive_accounts"] == 0
    assert _count(db, ClosedAccount) == 0


def test_the_access_log_minimum_cannot_be_lowered(app, db, tree, make_volunteer, make_staff):
    _seed(db, tree, make_volunteer, make_staff)
    app.config["RETENTION_ACCESS_LOG_DAYS"] = 30
    try:
        run = run_retention(trigger="test")
    finally:
        app.config["RETENTION_ACCESS_LOG_DAYS"] = 1095
    db.session.commit()
    assert json.loads(run.counts)["access_logs"] == 1
    assert _count(db, PersonalDataAccess) == 2


def test_dry_run_command_counts_and_changes_nothing(app, db, tree, make_volunteer, make_staff,
                                                   client, auth_header):
    _seed(db, tree, make_volunteer, make_staff)
    runner = CliRunner()
    result = runner.invoke(main, ["privacy", "retention", "--dry-run"],
                           obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    assert "Dry run" in result.output and "inactive_accounts" in result.output
    assert "RETENTION_ACCESS_LOG_DAYS=1095: 1" in result.output
    assert _count(db, PersonalDataAccess) == 3 and _count(db, ClosedAccount) == 0
    admin = make_staff(tree["street"], "admin")
    runs = client.get("/api/v1/retention-runs", headers=auth_header(admin)).get_json()
    assert runs[0]["dry_run"] is True and runs[0]["counts"]["messages"] == 1
    organizer = make_staff(tree["b"], "organizer")
    assert client.get("/api/v1/retention-runs",
                      headers=auth_header(organizer)).status_code == 403
