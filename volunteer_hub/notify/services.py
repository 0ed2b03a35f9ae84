"""Notification services: enqueue into the outbox, preferences, inbox, receipts, replies, admin.

Services only flush or execute inside the caller's transaction; they never commit. A message
enqueued in a transaction that rolls back was never written, so nothing is sent.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Callable, Iterable, Sequence
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from volunteer_hub.db import db, is_postgresql
from volunteer_hub.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from volunteer_hub.notify import orders, registry
from volunteer_hub.notify.models import (
    CHANNELS, InboundSms, NotificationPreference, OutboxMessage, PushSubscription, inbox_only,
    now,
)
from volunteer_hub.notify.registry import Facts

OUTBOX_COLUMNS = ("event_key", "recipient_id", "channel", "address", "subject", "body",
                  "link", "locale", "urgent", "status", "attempts", "next_attempt_at", "created_at",
                  "delivered_at", "fallback_of_id")


# --- settings -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    sms_gateway_url: str | None
    sms_gateway_key: str | None
    sms_gateway_secret: str | None
    sms_rate: float
    sms_gateway_batch: int
    email_rate: float
    smtp_host: str
    smtp_port: int
    smtp_from: str
    smtp_username: str | None
    smtp_password: str | None
    smtp_starttls: bool
    lease_seconds: int
    ack_timeout_seconds: int
    max_attempts: int
    backoff_base: int
    backoff_cap: int
    batch: int
    send_threads: int
    idempotency_prefix: str
    vapid_private_key: str | None = None
    vapid_public_key: str | None = None
    vapid_subject: str = "mailto:noreply@volunteer-hub.local"
    webpush_rate: float = 1000.0
    webpush_ttl: int = 86400
    webpush_urgent_ttl: int = 3600
    webpush_timeout: float = 10.0
    webpush_ack_timeout: int = 120
    webpush_endpoint_hosts: tuple[str, ...] = ()
    wechat_app_id: str | None = None
    wechat_rate: float = 100.0
    wechat_receipt_timeout: int = 300


# Push services of the browsers people use; a subscription elsewhere is refused, so that
# nobody can make the worker POST to an address of their choosing.
PUSH_SERVICE_HOSTS = ("fcm.googleapis.com", "android.googleapis.com",
                      "push.services.mozilla.com", "push.apple.com", "notify.windows.com")


def settings(app=None) -> Settings:
    """Notify settings from app config (VOLUNTEER_HUB_* env vars arrive as strings)."""
    config = (app or current_app).config

    def get(key, default, kind=str):
        value = config.get(key)
        if value is None or value == "":
            return default
        if kind is bool and isinstance(value, str):
            return value.strip().lower() in {"1", "true", "yes", "on"}
        return kind(value)

    return Settings(
        sms_gateway_url=get("SMS_GATEWAY_URL", None),
        sms_gateway_key=get("SMS_GATEWAY_KEY", None),
        sms_gateway_secret=get("SMS_GATEWAY_SECRET", None),
        sms_rate=get("SMS_RATE", 100.0, float),  # a typical SMS provider allows 100/s
        # Messages per gateway request; above 1 the gateway must speak the batch format.
        sms_gateway_batch=get("SMS_GATEWAY_BATCH", 1, int),
        email_rate=get("EMAIL_RATE", 50.0, float),
        smtp_host=get("SMTP_HOST", "localhost"),
        smtp_port=get("SMTP_PORT", 25, int),
        smtp_from=get("SMTP_FROM", "noreply@volunteer-hub.local"),
        smtp_username=get("SMTP_USERNAME", None),
        smtp_password=get("SMTP_PASSWORD", None),
        smtp_starttls=get("SMTP_STARTTLS", False, bool),
        lease_seconds=get("NOTIFY_LEASE_SECONDS", 60, int),
        ack_timeout_seconds=get("NOTIFY_ACK_TIMEOUT_SECONDS", 600, int),
        max_attempts=get("NOTIFY_MAX_ATTEMPTS", 6, int),
        backoff_base=get("NOTIFY_BACKOFF_BASE", 30, int),
        backoff_cap=get("NOTIFY_BACKOFF_CAP", 3600, int),
        batch=get("NOTIFY_BATCH", 200, int),
        send_threads=get("NOTIFY_SEND_THREADS", 8, int),
        idempotency_prefix=get("NOTIFY_IDEMPOTENCY_PREFIX", "vh-"),
        vapid_private_key=get("VAPID_PRIVATE_KEY", None),
        vapid_public_key=get("VAPID_PUBLIC_KEY", None),
        vapid_subject=get("VAPID_SUBJECT", None) or
        f"mailto:{get('SMTP_FROM', 'noreply@volunteer-hub.local')}",
        # Push services take thousands a second; encryption (~6 ms a message) limits us first.
        webpush_rate=get("WEBPUSH_RATE", 1000.0, float),
        webpush_ttl=get("WEBPUSH_TTL_SECONDS", 86400, int),
        # An urgent call that reaches a phone an hour late has been answered by SMS already.
        webpush_urgent_ttl=get("WEBPUSH_URGENT_TTL_SECONDS", 3600, int),
        webpush_timeout=get("WEBPUSH_TIMEOUT_SECONDS", 10.0, float),
        # A phone that has not shown an urgent push within two minutes gets the SMS.
        webpush_ack_timeout=get("WEBPUSH_ACK_TIMEOUT_SECONDS", 120, int),
        webpush_endpoint_hosts=tuple(get("WEBPUSH_ENDPOINT_HOSTS", PUSH_SERVICE_HOSTS, _hosts)),
        # Without its secret the app id cannot send: WeChat counts as not set up.
        wechat_app_id=get("WECHAT_APP_ID", None) if get("WECHAT_APP_SECRET", None) else None,
        wechat_rate=get("WECHAT_RATE", 100.0, float),
        # WeChat reports a template message's fate (TEMPLATESENDJOBFINISH) within seconds;
        # five minutes without it and the next channel is tried.
        wechat_receipt_timeout=get("WECHAT_RECEIPT_TIMEOUT_SECONDS", 300, int),
    )


def _hosts(value) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(h.strip().lower() for h in value.split(",") if h.strip())
    return tuple(str(h).lower() for h in value)


def backoff(attempts: int, base: int = 30, cap: int = 3600) -> timedelta:
    """Delay before the next try after `attempts` failed tries: base * 2^(attempts-1), capped."""
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


# --- preferences and quiet hours ------------------------------------------------------------

def get_preference(user_id: int) -> NotificationPreference | None:
    return db.session.execute(
        select(NotificationPreference).filter_by(user_id=user_id)).scalar_one_or_none()


def update_preferences(user, changes: dict) -> NotificationPreference:
    """Change the caller's own channels and quiet hours."""
    pref = get_preference(user.id)
    if pref is None:
        pref = NotificationPreference(user_id=user.id, timezone="Asia/Shanghai",
                                      **dict.fromkeys(registry.PREFERENCES, True))
        db.session.add(pref)
    if "timezone" in changes:
        try:
            ZoneInfo(changes["timezone"])
        except Exception:
            raise ValidationFailed(_l("Unknown time zone."), field="timezone") from None
    for key, value in changes.items():
        setattr(pref, key, value)
    if (pref.quiet_start is None) != (pref.quiet_end is None):
        raise ValidationFailed(_l("Give both the start and the end of the quiet hours."),
                               field="quiet_start")
    db.session.flush()
    return pref


def quiet_until(pref: NotificationPreference | None, moment: datetime) -> datetime | None:
    """If `moment` (naive UTC) falls in the quiet hours, the naive UTC time they end."""
    if pref is None or pref.quiet_start is None or pref.quiet_end is None:
        return None
    start, end = pref.quiet_start, pref.quiet_end
    if start == end:
        return None
    zone = ZoneInfo(pref.timezone or "Asia/Shanghai")
    local = moment.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)
    minute = local.hour * 60 + local.minute
    inside = start <= minute < end if start < end else (minute >= start or minute < end)
    if not inside:
        return None
    release = local.replace(hour=end // 60, minute=end % 60, second=0, microsecond=0)
    if release <= local:
        release += timedelta(days=1)
    return release.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def needed_channels(requested: Iterable[str], person_orders: Iterable) -> frozenset[str]:
    """Every channel the requested ones may resolve to under these orders."""
    return frozenset(name for wanted in requested
                     for order in {None, *person_orders}
                     for name in registry.chain(wanted, order))


def _person_id(person) -> int:
    return person.user_id if isinstance(person, Target) else person.id


def person_facts(people: Sequence, needed: frozenset[str], *, config: Settings | None = None,
                 postgres: bool | None = None,
                 overrides: dict | None = None) -> dict[int, Facts]:
    """What the resolver needs to know about each person (a User or a Target) for the
    channels in `needed`, read in one query per kind. `overrides`: channel -> address
    replacing the person's own (a reply goes to the number it came from)."""
    config = config or settings()
    postgres = is_postgresql() if postgres is None else postgres
    ids = [_person_id(person) for person in people]
    prefs = _preferences_for(ids, postgres)
    specs = [registry.get(name) for name in sorted(needed)]
    loaded = {spec.name: spec.address.load(ids) for spec in specs
              if spec.address is not None and not spec.address.on_person
              and spec.configured(config)}
    live = {spec.name: spec.live_for(ids, postgres, config) for spec in specs
            if spec.live_rule is not None}
    overrides = overrides or {}
    fixed = {spec.name: overrides[spec.name] for spec in specs
             if spec.address is not None and spec.name in overrides}
    on_person = [(spec.name, spec.address) for spec in specs if spec.address is not None
                 and spec.name not in fixed and spec.address.on_person]
    elsewhere = [(spec.name, loaded.get(spec.name, {})) for spec in specs
                 if spec.address is not None and spec.name not in fixed
                 and not spec.address.on_person]
    nothing_live: frozenset[str] = frozenset()
    facts = {}
    for person, person_id in zip(people, ids):
        addresses = dict(fixed)
        for name, source in on_person:
            addresses[name] = source.of_person(person)
        for name, found in elsewhere:
            addresses[name] = found.get(person_id)
        alive = (frozenset(name for name, holders in live.items() if person_id in holders)
                 if live else nothing_live)
        facts[person_id] = Facts(prefs.get(person_id), addresses, alive, config)
    return facts


def _resolve_channel(channel: str, facts: Facts, order: tuple[str, ...] | None = None) -> str:
    """The requested channel, or the first in its fallback chain the person can receive."""
    return registry.resolve(channel, facts, order)


# --- enqueue --------------------------------------------------------------------------------

def _insert_ignoring_duplicates(rows: list[dict], *, returning: bool = False):
    """INSERT ... ON CONFLICT (event_key, recipient_id, channel) DO NOTHING, in the session."""
    if is_postgresql():
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(OutboxMessage.__table__).on_conflict_do_nothing(
        index_elements=["event_key", "recipient_id", "channel"])
    if returning:
        statement = statement.returning(OutboxMessage.__table__.c.id)
        return [db.session.execute(statement, row).scalar_one_or_none() for row in rows]
    if rows:
        db.session.execute(statement, rows)
    return None


def _row(event_key, recipient_id, channel, address, subject, body, locale, urgent, moment,
         pref, fallback_of_id=None, link=None) -> dict:
    """One outbox row; `pref` for the quiet hours."""
    row = dict(event_key=event_key, recipient_id=recipient_id, channel=channel,
               address=address, subject=subject or "", body=body, link=link,
               locale=locale or "zh_Hans",
               urgent=bool(urgent), status="pending", attempts=0, next_attempt_at=moment,
               created_at=moment, delivered_at=None, fallback_of_id=fallback_of_id)
    if registry.get(channel).delivered_on_commit:  # the database is the channel
        row.update(status="delivered", next_attempt_at=None, delivered_at=moment, address=None)
    elif not urgent:
        row["next_attempt_at"] = quiet_until(pref, moment) or moment
    return row


def enqueue(event_key: str, recipient, *, body: str, subject: str = "",
            channels: Iterable[str] = (registry.INBOX.name,), urgent: bool = False,
            locale: str | None = None, addresses: dict | None = None,
            link: str | None = None,
            translations: dict[str, str] | None = None) -> list[OutboxMessage]:
    """Write messages for one person into the caller's transaction (nothing is sent now).

    `recipient` is a User. Each requested channel the person has switched off or has no
    address for is replaced by the next in the fallback chain (webpush -> sms -> email ->
    inbox; webpush needs a live subscription). A repeated (event_key, recipient, channel) is
    ignored: one message per person, event and channel. `link` (a URL or site path) is
    opened when the person taps a push notification. Returns the messages of this event for
    this person on those channels.

    `translations`: the same text in other languages (locale -> body), kept as the event's
    texts (OutboxContent) so that the inbox shows it in the reader's language
    (`fanout.render`). Only for an event key that names this one message (e.g. one
    assignment's notice): an event's texts are stored once.
    """
    if not event_key or len(event_key) > 120:
        raise ValidationFailed(_l("An event key of 1 to 120 characters is required."),
                               field="event_key")
    channels = list(channels)
    if any(requested not in CHANNELS for requested in channels):
        raise ValidationFailed(_l("Unknown channel."), field="channels")
    order = orders.orders_for([recipient.id]).get(recipient.id)
    facts = person_facts([recipient], needed_channels(channels, [order]),
                         overrides=addresses)[recipient.id]
    moment = now()
    rows, seen = [], set()
    for requested in channels:
        channel = _resolve_channel(requested, facts, order)
        if channel in seen:
            continue
        seen.add(channel)
        rows.append(_row(event_key, recipient.id, channel, registry.address_of(channel, facts),
                         subject, body, locale or recipient.locale, urgent, moment, facts.pref,
                         link=link))
    _insert_ignoring_duplicates(rows, returning=True)
    if translations:
        own_locale = locale or recipient.locale or "zh_Hans"
        _store_translations(event_key, subject, {**translations, own_locale: body})
    return list(db.session.execute(
        select(OutboxMessage).where(OutboxMessage.event_key == event_key,
                                    OutboxMessage.recipient_id == recipient.id,
                                    OutboxMessage.channel.in_(seen))
        .order_by(OutboxMessage.id)).scalars())


def _store_translations(event_key: str, subject: str, bodies: dict[str, str]) -> None:
    from volunteer_hub.notify.fanout import _store_texts  # fanout builds on this module

    _store_texts(event_key, {locale: (subject, body) for locale, body in bodies.items()})


@dataclass(frozen=True)
class Target:
    """One person of a fan-out, with the text already rendered in their language."""

    user_id: int
    body: str
    phone: str | None = None
    email: str | None = None
    locale: str = "zh_Hans"
    subject: str = ""
    link: str | None = None


def enqueue_many(event_key: str, targets: Iterable[Target], *, channel: str = registry.SMS.name,
                 urgent: bool = False, chunk: int = 5000,
                 channels: Sequence[str] | None = None) -> int:
    """Fan-out: write one message per target into the caller's transaction, in chunks.

    Preferences and quiet hours apply as in `enqueue`; duplicates are ignored. Returns the
    number of rows offered (duplicates included): targets x channels. On PostgreSQL the rows
    are streamed with COPY into a temporary table and moved with one INSERT ... ON CONFLICT
    DO NOTHING (100,000 rows in about a second); SQLite takes an executemany of INSERT OR
    IGNORE.

    `channels`: write every target on each of these channels in one pass (instead of
    `channel`, one call per channel); a person for whom two of them resolve to the same
    channel (no phone: SMS falls back to e-mail) gets that message once.

    One text per person; for one text to many people (a call-out), `notify.fanout` writes
    the rows in the database instead.
    """
    requested = tuple(channels) if channels is not None else (channel,)
    if not requested or any(c not in CHANNELS for c in requested):
        raise ValidationFailed(_l("Unknown channel."), field="channel")
    moment = now()
    config = settings()
    resolver = registry.Resolver(config)
    postgres = is_postgresql()
    copier = _PostgresCopy() if postgres else None
    total = 0
    batch: list[Target] = []

    def flush(batch: list[Target]) -> None:
        person_orders = orders.orders_for([t.user_id for t in batch])
        needed = needed_channels(requested, set(person_orders.values()))
        facts = person_facts(batch, needed, config=config, postgres=postgres)
        rows = []
        for target in batch:
            own, order = facts[target.user_id], person_orders.get(target.user_id)
            seen: set[str] = set()
            for wanted in requested:
                resolved = resolver.resolve(wanted, own, order)
                if resolved in seen:
                    continue
                seen.add(resolved)
                rows.append(_fanout_values(event_key, target, resolved, urgent, moment, own))
        if copier is not None:
            copier.write(rows)
        else:
            _insert_ignoring_duplicates([dict(zip(OUTBOX_COLUMNS, row)) for row in rows])

    for target in targets:
        batch.append(target)
        total += len(requested)
        if len(batch) >= chunk:
            flush(batch)
            batch = []
    if batch:
        flush(batch)
    if copier is not None:
        copier.finish()
    return total


def _fanout_values(event_key: str, target: Target, channel: str, urgent: bool,
                   moment: datetime, facts: Facts) -> tuple:
    """One outbox row in OUTBOX_COLUMNS order, as `_row` builds it, without the dict: a
    fan-out writes hundreds of thousands."""
    locale = target.locale or "zh_Hans"
    if registry.get(channel).delivered_on_commit:  # the database is the channel
        return (event_key, target.user_id, channel, None, target.subject or "", target.body,
                target.link, locale, bool(urgent), "delivered", 0, None, moment, moment, None)
    due = moment if urgent else (quiet_until(facts.pref, moment) or moment)
    return (event_key, target.user_id, channel, registry.address_of(channel, facts),
            target.subject or "", target.body, target.link, locale, bool(urgent), "pending", 0,
            due, moment, None, None)


def _user_id_in(column, user_ids: list[int], postgres: bool):
    if postgres:  # one array parameter instead of thousands of IN placeholders
        from sqlalchemy import Integer, bindparam, func
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == func.any(bindparam("ids", user_ids, type_=ARRAY(Integer)))
    return column.in_(user_ids)


def _preferences_for(user_ids: list[int], postgres: bool) -> dict:
    condition = _user_id_in(NotificationPreference.user_id, user_ids, postgres)
    return {p.user_id: p for p in db.session.execute(
        select(NotificationPreference).where(condition)).scalars()}


def live_push_users(user_ids: list[int], postgres: bool | None = None) -> set[int]:
    """Those of `user_ids` with a live push subscription; none when Web Push is not set up."""
    if not user_ids or not settings().vapid_private_key:
        return set()
    postgres = is_postgresql() if postgres is None else postgres
    return set(db.session.execute(
        select(PushSubscription.user_id).distinct().where(
            _user_id_in(PushSubscription.user_id, user_ids, postgres),
            PushSubscription.gone_at.is_(None))).scalars())


class _PostgresCopy:
    """COPY rows into a temporary table on the session's own connection (same transaction),
    then INSERT them into the outbox ignoring duplicates."""

    TEMP = "notify_fanout"

    def __init__(self):
        self.connection = db.session.connection().connection.driver_connection
        columns = ", ".join(OUTBOX_COLUMNS)
        with self.connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{self.TEMP}")
            cursor.execute(f"CREATE TEMP TABLE {self.TEMP} ON COMMIT DROP AS "
                           f"SELECT {columns} FROM outbox_messages WITH NO DATA")

    def write(self, rows: list[tuple]) -> None:
        """Rows as tuples in OUTBOX_COLUMNS order."""
        from psycopg.copy import QueuedLibpqWriter

        columns = ", ".join(OUTBOX_COLUMNS)
        # A worker thread sends while this one formats: the server's index and key checks
        # run alongside the Python work instead of after it.
        with self.connection.cursor() as cursor, cursor.copy(
                f"COPY {self.TEMP} ({columns}) FROM STDIN",
                writer=QueuedLibpqWriter(cursor)) as copy:
            for row in rows:
                copy.write_row(row)

    def finish(self) -> None:
        columns = ", ".join(OUTBOX_COLUMNS)
        with self.connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO outbox_messages ({columns}) SELECT {columns} "
                           f"FROM {self.TEMP} ON CONFLICT (event_key, recipient_id, channel) "
                           f"DO NOTHING")
            cursor.execute(f"DROP TABLE pg_temp.{self.TEMP}")


def fallback(message: OutboxMessage, reason: str) -> OutboxMessage | None:
    """Queue the same event for the same person on the next channel they can receive."""
    from volunteer_hub.accounts.models import User

    user = db.session.get(User, message.recipient_id)
    if user is None:
        return None
    order = orders.orders_for([user.id]).get(user.id)
    following = registry.next_after(message.channel, order)
    if following is None:
        return None
    facts = person_facts([user], needed_channels([following], [order]))[user.id]
    channel = _resolve_channel(following, facts, order)
    moment = now()
    row = _row(message.event_key, user.id, channel, registry.address_of(channel, facts),
               message.subject, message.body, message.locale, True, moment, facts.pref,
               fallback_of_id=message.id, link=message.link)
    row["ref_id"] = message.ref_id  # a shared text's personal link is made again
    # Quiet hours were honoured by the first message already; the fallback follows at once.
    [new_id] = _insert_ignoring_duplicates([row], returning=True)
    current_app.logger.info("notify: message %s (%s) falls back to %s: %s", message.id,
                            message.channel, channel, reason)
    return db.session.get(OutboxMessage, new_id) if new_id else None


def expire_unacknowledged(limit: int = 500) -> int:
    """Messages sent but without a delivery receipt by their deadline fall back; count."""
    query = (select(OutboxMessage)
             .where(OutboxMessage.status == "sent", OutboxMessage.ack_deadline <= now())
             .order_by(OutboxMessage.ack_deadline).limit(limit))
    if is_postgresql():
        query = query.with_for_update(skip_locked=True)
    expired = list(db.session.execute(query).scalars())
    for message in expired:
        message.ack_deadline = None
        message.last_error = "no delivery receipt in time"
        fallback(message, "no delivery receipt in time")
    db.session.flush()
    return len(expired)


# --- inbox ----------------------------------------------------------------------------------

def inbox_query(user, *, unread: bool | None = None):
    query = (select(OutboxMessage)
             .where(OutboxMessage.recipient_id == user.id, inbox_only())
             .order_by(OutboxMessage.id.desc()))
    if unread is True:
        query = query.where(OutboxMessage.read_at.is_(None))
    elif unread is False:
        query = query.where(OutboxMessage.read_at.isnot(None))
    return query


def mark_read(message_id: int, *, by) -> OutboxMessage:
    """Mark one of the caller's inbox messages read (idempotent). A shared text is not
    filled in: do that after the transaction (notify.fanout.filled)."""
    message = db.session.get(OutboxMessage, message_id)
    if (message is None or message.channel != registry.INBOX.name
            or message.recipient_id != by.id):
        raise NotFound()
    if message.read_at is None:
        message.read_at = now()
        db.session.flush()
    return message


# --- receipts and SMS replies ---------------------------------------------------------------

RECEIPT_STATUSES = ("delivered", "failed")


def _message_for_receipt(provider_message_id: str | None, key: str | None, channel: str):
    if key:
        prefix = settings().idempotency_prefix
        raw = key[len(prefix):] if key.startswith(prefix) else key
        if raw.isdecimal():
            message = db.session.get(OutboxMessage, int(raw))
            if message is not None and message.channel == channel:
                return message
    if provider_message_id:
        return db.session.execute(
            select(OutboxMessage).where(OutboxMessage.provider_message_id == provider_message_id,
                                        OutboxMessage.channel == channel)
            .order_by(OutboxMessage.id).limit(1)).scalar_one_or_none()
    return None


def apply_receipt(*, status: str, provider_message_id: str | None = None,
                  key: str | None = None, error: str | None = None,
                  channel: str = registry.SMS.name) -> OutboxMessage:
    """Record a provider's delivery receipt for a message on `channel` (one that declares
    receipts); a failure sends the next channel."""
    if channel not in registry.RECEIPT_CHANNELS:
        raise ValidationFailed(_l("Unknown channel."), field="channel")
    message = _message_for_receipt(provider_message_id, key, channel)
    if message is None:
        raise NotFound(_l("No message matches this receipt."))
    if provider_message_id and not message.provider_message_id:
        message.provider_message_id = provider_message_id
    if status in RECEIPT_STATUSES and message.status == "sending" and message.sent_at is None:
        # The receipt came before the dispatcher recorded the send (WeChat's push follows
        # within a second): the send is no longer recorded, yet the message went out.
        message.sent_at = now()
    if status == "delivered":
        if message.status != "delivered":
            message.status = "delivered"
            message.delivered_at = now()
            message.ack_deadline = None
    elif status == "failed":
        if message.status not in ("delivered", "failed"):
            waited = message.ack_deadline is not None or message.status == "sending"
            message.status = "failed"
            message.last_error = error or "provider reported failure"
            message.ack_deadline = None
            if waited:  # no fallback twice: a timeout may have sent it on already
                fallback(message, message.last_error)
    else:
        raise ValidationFailed(_l("Unknown receipt status."), field="status")
    db.session.flush()
    return message


InboundHandler = Callable[[InboundSms], "str | None"]
_inbound_handlers: list[tuple[str, InboundHandler]] = []


def register_inbound_handler(name: str, handler: InboundHandler) -> None:
    """Let a feature handle SMS replies: `handler(inbound)` returns None when the reply is
    not for it, else the text to answer ("" for no answer). Handlers run in registration
    order inside the request's transaction, so what they enqueue commits with the reply."""
    global _inbound_handlers
    _inbound_handlers = [(n, h) for n, h in _inbound_handlers if n != name]
    _inbound_handlers.append((name, handler))


def unregister_inbound_handler(name: str) -> None:
    global _inbound_handlers
    _inbound_handlers = [(n, h) for n, h in _inbound_handlers if n != name]


def normalize_phone(phone: str) -> str:
    digits = "".join(c for c in phone if c.isdigit() or c == "+")
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            return digits[len(prefix):]
    return digits


def receive_sms(*, from_phone: str, text: str, provider_message_id: str | None = None,
                received_at: datetime | None = None) -> InboundSms:
    """Store an inbound SMS (once per provider id) and offer it to the registered handlers."""
    from volunteer_hub.accounts.models import User

    if provider_message_id:
        existing = db.session.execute(select(InboundSms).filter_by(
            provider_message_id=provider_message_id)).scalar_one_or_none()
        if existing is not None:
            return existing
    phone = normalize_phone(from_phone)
    user = db.session.execute(select(User).where(
        or_(User.phone == phone, User.phone == from_phone))).scalars().first()
    if received_at is not None and received_at.tzinfo is not None:
        received_at = received_at.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    inbound = InboundSms(provider_message_id=provider_message_id, from_phone=phone[:20],
                         text=text, user_id=user.id if user else None,
                         received_at=received_at or now())
    db.session.add(inbound)
    db.session.flush()
    for name, handler in list(_inbound_handlers):
        reply = handler(inbound)
        if reply is None:
            continue
        inbound.handled_by = name
        inbound.reply = reply or None
        if reply and user is not None:
            sms = registry.SMS.name
            enqueue(f"sms-reply:{inbound.id}", user, body=reply, channels=(sms,),
                    urgent=True, addresses={sms: phone})
        break
    db.session.flush()
    return inbound


# --- Web Push subscriptions -----------------------------------------------------------------

PUSH_RECEIPT_PATH = "/api/v1/notify/push/receipts"  # where the service worker acknowledges


def vapid_public_key(config: Settings | None = None) -> str | None:
    """The application server key browsers subscribe with (base64url, uncompressed point)."""
    config = config or settings()
    if config.vapid_public_key:
        return config.vapid_public_key
    if not config.vapid_private_key:
        return None
    return _public_key_of(config.vapid_private_key)


def require_vapid_public_key() -> str:
    key = vapid_public_key()
    if key is None:
        raise Conflict(_l("Push notifications are not set up on this server."),
                       code="WEBPUSH_NOT_CONFIGURED")
    return key


@lru_cache(maxsize=4)
def _public_key_of(private_key: str) -> str:
    from cryptography.hazmat.primitives import serialization
    from py_vapid import Vapid, b64urlencode

    key = private_key.strip()
    vapid = (Vapid.from_pem(key.encode()) if key.startswith("-----BEGIN")
             else Vapid.from_string(key))
    return b64urlencode(vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))


def push_ack_secret(app=None) -> bytes:
    """The key of the acknowledgement tokens in urgent pushes, derived from SECRET_KEY."""
    secret = str((app or current_app).config["SECRET_KEY"]).encode()
    return hmac.new(secret, b"notify-webpush-ack", hashlib.sha256).digest()


def _b64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _check_endpoint(endpoint: str) -> None:
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    loopback = host in ("127.0.0.1", "localhost", "::1")
    secure = parts.scheme == "https" or (parts.scheme == "http" and loopback)
    known = any(host == h or host.endswith("." + h) for h in settings().webpush_endpoint_hosts)
    if not (secure and known):
        raise ValidationFailed(_l("This push service is not supported."), field="endpoint")


def _check_keys(p256dh: str, auth: str) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _b64url(p256dh))
    except (ValueError, TypeError):
        raise ValidationFailed(_l("The subscription's public key is not valid."),
                               field="p256dh") from None
    try:
        secret = _b64url(auth)
    except (ValueError, TypeError):
        secret = b""
    if len(secret) != 16:
        raise ValidationFailed(_l("The subscription's auth secret is not valid."),
                               field="auth")


def subscribe(user, *, endpoint: str, p256dh: str, auth: str,
              user_agent: str = "") -> tuple[PushSubscription, bool]:
    """Store the caller's browser subscription; returns it and whether it is new.

    An endpoint seen before (the same browser subscribing again, or a phone now used by
    another account) is updated and moved to the caller, live again."""
    require_vapid_public_key()
    _check_endpoint(endpoint)
    _check_keys(p256dh, auth)
    existing = db.session.execute(
        select(PushSubscription.id).filter_by(endpoint=endpoint)).scalar_one_or_none()
    moment = now()
    values = dict(user_id=user.id, p256dh=p256dh, auth=auth, user_agent=user_agent[:200],
                  gone_at=None, failure_count=0, last_error=None)
    if is_postgresql():
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    # Upsert: two tabs subscribing the same browser at once must not fail on the unique key.
    db.session.execute(insert(PushSubscription.__table__)
                       .values(endpoint=endpoint, created_at=moment, **values)
                       .on_conflict_do_update(index_elements=["endpoint"], set_=values))
    subscription = db.session.execute(
        select(PushSubscription).filter_by(endpoint=endpoint)
        .execution_options(populate_existing=True)).scalar_one()
    return subscription, existing is None


def subscriptions_of(user) -> list[PushSubscription]:
    return list(db.session.execute(
        select(PushSubscription).filter_by(user_id=user.id)
        .order_by(PushSubscription.created_at.desc(), PushSubscription.id.desc())).scalars())


def unsubscribe(user, *, subscription_id: int | None = None,
                endpoint: str | None = None) -> None:
    """Remove one of the caller's subscriptions; someone else's answers 404 like a missing one."""
    query = select(PushSubscription).filter_by(user_id=user.id)
    if subscription_id is not None:
        query = query.filter_by(id=subscription_id)
    elif endpoint:
        query = query.filter_by(endpoint=endpoint)
    else:
        raise ValidationFailed(_l("Say which subscription to remove."), field="endpoint")
    subscription = db.session.execute(query).scalar_one_or_none()
    if subscription is None:
        raise NotFound()
    db.session.delete(subscription)
    db.session.flush()


def record_push_outcomes(outcomes: Iterable, moment: datetime) -> None:
    """Remember per subscription what its push service answered (dispatcher, in its
    transaction): a success resets the failure count, 404/410 marks it gone."""
    from sqlalchemy import update

    table = PushSubscription.__table__
    for outcome in outcomes:
        statement = update(table).where(table.c.id == outcome.subscription_id)
        if outcome.ok:
            statement = statement.values(last_success_at=moment, failure_count=0,
                                         last_error=None)
        else:
            statement = statement.values(failure_count=table.c.failure_count + 1,
                                         last_error=(outcome.error or "")[:300])
            if outcome.gone:
                statement = statement.values(gone_at=moment)
        db.session.execute(statement)


def apply_push_receipt(*, key: str, signature: str) -> OutboxMessage:
    """A service worker showed an urgent push: the message is delivered (no SMS fallback)."""
    from volunteer_hub.notify.channels import push_ack_signature

    expected = push_ack_signature(push_ack_secret(), key)
    if not hmac.compare_digest(expected.encode(), (signature or "").encode()):
        raise NotFound(_l("No message matches this receipt."))
    prefix = settings().idempotency_prefix
    raw = key[len(prefix):] if key.startswith(prefix) else ""
    message = db.session.get(OutboxMessage, int(raw)) if raw.isdecimal() else None
    if message is None or message.channel != registry.WEBPUSH.name:
        raise NotFound(_l("No message matches this receipt."))
    if message.delivered_at is None:
        message.status = "delivered"
        message.delivered_at = now()
        message.ack_deadline = None
        db.session.flush()
    return message


# --- administration -------------------------------------------------------------------------

def _admin_scope(user) -> tuple[list[str], bool]:
    """Org paths where `user` is an admin, and whether one of them is a root node."""
    grants = [g for g in getattr(user, "grants", []) if g.role == "admin"]
    if not grants:
        raise Forbidden()
    return sorted({g.org.path for g in grants}), any(g.org.parent_id is None for g in grants)


def admin_messages_query(user, *, status: str | None = "dead", channel: str | None = None,
                         event_key: str | None = None):
    """Messages an admin may see: recipients who are volunteers in the admin's subtree;
    messages to people without a volunteer profile only for admins of a root node."""
    from volunteer_hub.accounts.permissions import path_filter
    from volunteer_hub.volunteers.models import Volunteer

    paths, root = _admin_scope(user)
    query = (select(OutboxMessage)
             .outerjoin(Volunteer, Volunteer.user_id == OutboxMessage.recipient_id))
    visible = path_filter(Volunteer.org_path, paths)
    if root:
        visible = or_(visible, Volunteer.id.is_(None))
    query = query.where(visible)
    if status:
        query = query.where(OutboxMessage.status == status)
    if channel:
        query = query.where(OutboxMessage.channel == channel)
    if event_key:
        query = query.where(OutboxMessage.event_key == event_key)
    return query.order_by(OutboxMessage.id)


def retry_message(message_id: int, *, by) -> OutboxMessage:
    """Put a dead or failed message back in the queue, due now, with a fresh attempt count."""
    message = db.session.execute(
        admin_messages_query(by, status=None).where(OutboxMessage.id == message_id)
    ).scalar_one_or_none()
    if message is None:
        raise NotFound()
    if message.status not in ("dead", "failed"):
        raise Conflict(_l("Only dead or failed messages can be retried."),
                       code="NOTIFY_NOT_RETRYABLE")
    message.status = "pending"
    message.attempts = 0
    message.next_attempt_at = now()
    message.claimed_until = None
    message.claimed_by = None
    db.session.flush()
    return message


class GatewayUnauthorized(DomainError):
    status = 401
    code = "GATEWAY_UNAUTHORIZED"


def check_gateway_secret(given: str | None) -> None:
    """Receipts and replies must carry the shared secret; none configured: refuse all."""
    expected = settings().sms_gateway_secret
    if not expected or not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise GatewayUnauthorized(_l("Unknown gateway."))


__all__ = ["enqueue", "enqueue_many", "Target", "fallback", "apply_receipt", "receive_sms",
           "register_inbound_handler", "retry_message", "update_preferences", "subscribe",
           "unsubscribe", "vapid_public_key", "apply_push_receipt"]
