"""The Python resolver (enqueue_many) and the SQL fan-out (enqueue_query) choose the same
channel and address for every person, whatever their preferences, addresses, push
subscriptions, WeChat binding, organization order and the server's configuration.

Both are derived from notify/registry.py; this property test is what holds them together.
Runs on SQLite, and on PostgreSQL with VOLUNTEER_HUB_TEST_DATABASE_URL.
"""
from __future__ import annotations

from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import literal, select

from tests import factories
from volunteer_hub.accounts.models import User
from volunteer_hub.notify import fanout, registry, services
from volunteer_hub.notify.models import (
    ChannelOrder, NotificationPreference, OutboxMessage, PushSubscription,
)
from volunteer_hub.wechat.models import WeChatBinding

POOL = 7  # people: five with a volunteer profile somewhere in the tree, two without
HOMES = (("a", "grid_a"), ("a", None), ("b", None), ("b", "grid_b"), ("a", None), None, None)
ORG_KEYS = ("city", "district", "street", "a", "b", "grid_a", "grid_b")
CHANNELS = list(registry.NAMES)

person = st.fixed_dictionaries({
    "phone": st.sampled_from(["own", None, ""]),
    "email": st.sampled_from(["own", None, ""]),
    "pref": st.none() | st.fixed_dictionaries(
        {name: st.booleans() for name in registry.PREFERENCES}),
    "push": st.sampled_from(["none", "live", "gone"]),
    "wechat": st.sampled_from(["none", "bound", "empty"]),
})
world = st.fixed_dictionaries({
    "people": st.lists(person, min_size=POOL, max_size=POOL),
    "sms": st.booleans(), "push": st.booleans(), "wechat": st.booleans(),
    "orders": st.dictionaries(st.sampled_from(ORG_KEYS), st.permutations(CHANNELS).flatmap(
        lambda names: st.integers(1, len(names)).map(lambda n: names[:n])), max_size=3),
    "requested": st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=4, unique=True),
})


@pytest.fixture
def pool(db, tree):
    """POOL people, committed once; each example changes them inside a transaction that is
    rolled back."""
    users = []
    for home in HOMES:
        if home is None:
            user = factories.accounts.create_user(display_name="没有档案",
                                                  password=factories.PASSWORD,
                                                  phone=factories.unique_phone())
        else:
            community, grid = home
            extra = {"grid_id": tree[grid].id} if grid else {}
            user = factories.make_volunteer(tree[community], **extra).user
        users.append(user)
    db.session.commit()
    return [(user.id, user.phone) for user in users], tree


@contextmanager
def configured(app, sms: bool, push: bool, wechat: bool):
    values = {"SMS_GATEWAY_URL": "http://127.0.0.1:9/sms" if sms else "",
              "VAPID_PRIVATE_KEY": "test-vapid-key" if push else "",
              "WECHAT_APP_ID": "wx-test" if wechat else "",
              "WECHAT_APP_SECRET": "wx-secret" if wechat else ""}
    saved = {key: app.config.get(key) for key in values}
    app.config.update(values)
    try:
        yield
    finally:
        app.config.update(saved)


def _arrange(db, people, tree, state) -> None:
    for index, ((user_id, phone), facts) in enumerate(zip(people, state["people"])):
        user = db.session.get(User, user_id)
        # An empty address is kept for the first person only: addresses are unique.
        user.phone = {"own": phone, None: None, "": "" if index == 0 else None}[facts["phone"]]
        user.email = {"own": f"p{user_id}@example.org", None: None,
                      "": "" if index == 0 else None}[facts["email"]]
        if facts["pref"] is not None:
            db.session.add(NotificationPreference(user_id=user_id, **facts["pref"]))
        if facts["push"] != "none":
            db.session.add(PushSubscription(
                user_id=user_id, endpoint=f"https://fcm.googleapis.com/fcm/send/{user_id}",
                p256dh="k", auth="a", gone_at=services.now() if facts["push"] == "gone"
                else None))
        if facts["wechat"] == "bound":
            binding = WeChatBinding(user_id=user_id)
            binding.openid = f"openid-{user_id}"
            db.session.add(binding)
        elif facts["wechat"] == "empty":
            db.session.add(WeChatBinding(user_id=user_id, openid_encrypted="",
                                         openid_hash=f"empty-{user_id}"))
    for key, names in state["orders"].items():
        db.session.add(ChannelOrder(org_id=tree[key].id, channels=",".join(names)))
    db.session.flush()


def _chosen(event_key: str) -> set[tuple]:
    return set(services.db.session.execute(
        select(OutboxMessage.recipient_id, OutboxMessage.channel, OutboxMessage.address)
        .where(OutboxMessage.event_key == event_key)).all())


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(state=world)
def test_python_and_sql_resolvers_choose_the_same_channel(app, db, pool, state):
    people, tree = pool
    with configured(app, state["sms"], state["push"], state["wechat"]):
        try:
            _arrange(db, people, tree, state)
            requested = tuple(state["requested"])
            ids = [user_id for user_id, _phone in people]
            recipients = select(User.id.label("user_id"), literal(None).label("ref_id")).where(
                User.id.in_(ids))
            fanout.enqueue_query("prop:sql", recipients, texts={"zh_Hans": ("", "测试")},
                                 channels=requested)
            users = db.session.execute(select(User).where(User.id.in_(ids))).scalars()
            services.enqueue_many("prop:py", [
                services.Target(user_id=u.id, body="测试", phone=u.phone, email=u.email)
                for u in users], channels=requested, urgent=True)
            db.session.flush()
            by_sql, by_python = _chosen("prop:sql"), _chosen("prop:py")
            assert by_sql == by_python
            assert len({user for user, _c, _a in by_python}) == POOL  # everyone, somewhere
        finally:
            db.session.rollback()


def test_the_property_test_meets_every_channel(app, db, pool):
    """Not vacuous: one arrangement where each channel is chosen by both resolvers."""
    people, tree = pool
    state = {
        "people": [
            {"phone": "own", "email": "own", "pref": None, "push": "none", "wechat": "bound"},
            {"phone": "own", "email": "own", "pref": None, "push": "none", "wechat": "none"},
            {"phone": None, "email": "own", "pref": None, "push": "none", "wechat": "none"},
            {"phone": None, "email": None, "pref": None, "push": "none", "wechat": "none"},
            {"phone": "own", "email": "own", "pref": None, "push": "live", "wechat": "none"},
            {"phone": "own", "email": "own", "pref": None, "push": "none", "wechat": "none"},
            {"phone": "own", "email": "own", "pref": None, "push": "none", "wechat": "none"},
        ],
        "orders": {}, "requested": ["wechat", "webpush"],
    }
    with configured(app, True, True, True):
        _arrange(db, people, tree, state)
        recipients = select(User.id.label("user_id"), literal(None).label("ref_id"))
        fanout.enqueue_query("all:sql", recipients, texts={"zh_Hans": ("", "测试")},
                             channels=("wechat", "webpush"))
        chosen = {channel for _user, channel, _address in _chosen("all:sql")}
        assert chosen == set(registry.NAMES)
        db.session.rollback()


def test_the_board_and_the_report_count_the_same_messages_as_reached(app, db, pool):
    """The board counts reached people in SQL (`reached_sql`), the after-action report per
    message in Python (`reached_at`): every channel, status and receipt time agree."""
    from itertools import product

    from volunteer_hub.notify.models import STATUSES, now

    people, _tree = pool
    user_id = people[0][0]
    moment = now()
    try:
        rows = []
        for channel, status, sent, delivered, read in product(
                registry.NAMES, STATUSES, (None, moment), (None, moment), (None, moment)):
            row = OutboxMessage(event_key="reach:parity", recipient_id=user_id, channel=channel,
                                status=status, sent_at=sent, delivered_at=delivered,
                                read_at=read, body="测试")
            rows.append(row)
        for index, row in enumerate(rows):  # (event, person, channel) is unique
            row.event_key = f"reach:parity:{index}"
        db.session.add_all(rows)
        db.session.flush()
        by_sql = set(db.session.execute(
            select(OutboxMessage.id).where(OutboxMessage.event_key.like("reach:parity:%"),
                                           registry.reached_sql(OutboxMessage))).scalars())
        by_python = {row.id for row in rows if registry.reached_at(row) is not None}
        assert by_sql == by_python
        assert by_python and by_python != {row.id for row in rows}  # both answers occur
    finally:
        db.session.rollback()
