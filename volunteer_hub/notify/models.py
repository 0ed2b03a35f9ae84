"""Outbox messages, per-user notification preferences, Web Push subscriptions, inbound SMS.

Times in these tables are naive UTC (`notify.models.now()`), so that comparisons in SQL
behave the same on SQLite and PostgreSQL (`timestamp without time zone`).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger, ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint,
    literal_column, text, true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from volunteer_hub.db import db, utcnow

from volunteer_hub.notify import registry

CHANNELS = registry.NAMES
CHANNEL_LABELS = registry.LABELS
STATUSES = ("pending", "sending", "sent", "delivered", "failed", "dead")
# Statuses a worker may claim: due pending rows and 'sending' rows whose lease ran out.
CLAIMABLE = ("pending", "sending")


def partial(condition: str) -> dict:
    """Index keyword arguments for a partial index, the same condition on both engines."""
    return {"postgresql_where": text(condition), "sqlite_where": text(condition)}


# Written out, not bound: the planners match a partial index's condition only against the
# same condition in the query, which a bound parameter is not (PostgreSQL's generic plans,
# SQLite always).
CLAIMABLE_SQL = f"status IN ({', '.join(repr(status) for status in CLAIMABLE)})"
INBOX_SQL = f"channel = '{registry.INBOX.name}'"


def now() -> datetime:
    """Naive UTC: the one clock of the notify tables."""
    return utcnow().replace(tzinfo=None)


class OutboxMessage(db.Model):
    """One message to one person on one channel, written in the transaction that caused it.

    UNIQUE (event_key, recipient_id, channel): the same person never gets the same event twice
    on one channel, however often the event is enqueued. For a claimed row ('sending')
    `next_attempt_at` equals `claimed_until`, the lease: a row is due when its status is
    pending or sending and `next_attempt_at <= now`, so one indexed condition also reclaims
    the rows of a worker that died.

    The secondary indexes are partial: a fan-out writes hundreds of thousands of rows in one
    transaction, and each row should cost only the indexes that will ever find it. The queue
    index holds only claimable rows (not an inbox row, delivered on commit, nor a sent one);
    the inbox index only inbox rows; receipts, acknowledgement deadlines and fallbacks only
    the rows that have them (NULL in every new row).
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        UniqueConstraint("event_key", "recipient_id", "channel"),
        Index("ix_outbox_messages_due", "next_attempt_at", "id", **partial(CLAIMABLE_SQL)),
        Index("ix_outbox_messages_inbox", "recipient_id", "id", **partial(INBOX_SQL)),
        Index("ix_outbox_messages_ack_deadline", "ack_deadline",
              **partial("ack_deadline IS NOT NULL")),
        Index("ix_outbox_messages_provider_message_id", "provider_message_id",
              **partial("provider_message_id IS NOT NULL")),
        Index("ix_outbox_messages_fallback_of_id", "fallback_of_id",
              **partial("fallback_of_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_key: Mapped[str] = mapped_column(String(120))
    # No foreign key: a fan-out writes 300,000 rows, and the key check was a third of their
    # cost. Users are never deleted (an erasure request pseudonymizes them), and every
    # writer takes the id from a users row it has just read.
    recipient_id: Mapped[int] = mapped_column()
    channel: Mapped[str] = mapped_column(String(12))
    address: Mapped[str | None] = mapped_column(String(254))  # phone or e-mail at enqueue time
    subject: Mapped[str] = mapped_column(String(200), default="")
    # NULL: the event's shared text in this locale (OutboxContent), with the personal link of
    # `ref_id` put in at send time (notify.fanout).
    body: Mapped[str | None] = mapped_column(Text)
    ref_id: Mapped[int | None] = mapped_column(BigInteger)  # e.g. the emergency responder
    link: Mapped[str | None] = mapped_column(String(500))  # opened when a push is tapped
    locale: Mapped[str] = mapped_column(String(10), default="zh_Hans")
    urgent: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=now)
    claimed_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    ack_deadline: Mapped[datetime | None]  # awaiting a receipt
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=now)
    sent_at: Mapped[datetime | None]
    segments: Mapped[int | None] = mapped_column(SmallInteger)  # SMS billed, set when sent
    delivered_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]  # inbox only
    # No foreign key either: its trigger runs for every inserted row, NULL or not, and
    # outbox rows are never deleted.
    fallback_of_id: Mapped[int | None]


class OutboxContent(db.Model):
    """The text of one event in one language, shared by all its fan-out messages.

    A call-out to 100,000 people stores its alert twice (Chinese and English) instead of
    300,000 times; each message row names its event and locale, and the dispatcher puts the
    person's own link where `LINK_PLACEHOLDER` stands (notify.fanout)."""

    __tablename__ = "outbox_contents"

    event_key: Mapped[str] = mapped_column(String(120), primary_key=True)
    locale: Mapped[str] = mapped_column(String(10), primary_key=True)
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now)


def claimable():
    """The queue's condition, in the form its partial index is matched against."""
    return literal_column(f"{OutboxMessage.__tablename__}.{CLAIMABLE_SQL}")


def inbox_only():
    """Inbox messages, in the form the inbox index is matched against."""
    return literal_column(f"{OutboxMessage.__tablename__}.{INBOX_SQL}")


class NotificationPreference(db.Model):
    """A user's channels and quiet hours; the in-app inbox is always on."""

    __tablename__ = "notification_preferences"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         unique=True)
    sms: Mapped[bool] = mapped_column(default=True)
    email: Mapped[bool] = mapped_column(default=True)
    webpush: Mapped[bool] = mapped_column(default=True)
    wechat: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Minutes after local midnight; a window may wrap midnight (22:00-07:00). None: no quiet.
    quiet_start: Mapped[int | None]
    quiet_end: Mapped[int | None]
    timezone: Mapped[str] = mapped_column(String(40), default="Asia/Shanghai")
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)


class ChannelOrder(db.Model):
    """The order an organization's people are tried in: channel names, comma-separated, the
    inbox last (`registry.valid_order`). It holds for the organization's whole subtree
    unless a node below sets its own (`orders.order_for`)."""

    __tablename__ = "notify_channel_orders"

    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"),
                                        primary_key=True)
    channels: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name in self.channels.split(",") if name)


class PushSubscription(db.Model):
    """One browser's Web Push subscription (the installed app on a phone) for one user.

    The endpoint is the push service's capability URL for that browser: unique, so a phone
    that changes hands (another login) moves its subscription to the new user. A push
    service answering 404/410 means the browser dropped it: `gone_at` is set and the row is
    no longer sent to (kept for the device list until the user removes it).
    """

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    endpoint: Mapped[str] = mapped_column(String(1000), unique=True)
    p256dh: Mapped[str] = mapped_column(String(100))  # base64url P-256 public key (65 bytes)
    auth: Mapped[str] = mapped_column(String(50))  # base64url auth secret (16 bytes)
    user_agent: Mapped[str] = mapped_column(String(200), default="")  # a label for the list
    created_at: Mapped[datetime] = mapped_column(default=now)
    last_success_at: Mapped[datetime | None]
    failure_count: Mapped[int] = mapped_column(default=0)  # consecutive failures
    last_error: Mapped[str | None] = mapped_column(String(300))
    gone_at: Mapped[datetime | None]

    user = relationship("User", foreign_keys=[user_id])

    @property
    def live(self) -> bool:
        return self.gone_at is None


class InboundSms(db.Model):
    """A reply received through the SMS gateway, kept whether or not a feature handled it."""

    __tablename__ = "inbound_sms"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_message_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    from_phone: Mapped[str] = mapped_column(String(20), index=True)
    text: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                index=True)
    received_at: Mapped[datetime] = mapped_column(default=now)
    handled_by: Mapped[str | None] = mapped_column(String(60))
    reply: Mapped[str | None] = mapped_column(Text)
