"""The channel registry: every notification channel declared once.

A declaration (`ChannelSpec`) says what the rest of the service needs to know about a
channel: the preference that turns it on, where its address comes from, when it is available,
what counts as having reached the person, how long a sent message waits for its receipt, its
rate limit, how the dispatcher builds its sender, and the channel tried next. Everything that
used to compare channel names reads it:

- the Python resolver (`services._resolve_channel`) and the SQL fan-out
  (`fanout._resolved_channel`) both evaluate the same availability rules: each rule is a small
  expression object that `holds` for one person's values in Python and compiles to a
  SQLAlchemy condition (`sql`) for a whole fan-out at once;
- the dispatcher builds each sender, its rate bucket and its receipt deadline from here;
- the emergency board and the after-action report ask `reached_sql` / `reached_at`.

A new channel is one sending class (a `channels.Channel`) plus one declaration in `SPECS`.
Its preference needs a column in `notification_preferences` (with its migration).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, lru_cache
from importlib import import_module
from typing import Any, Callable, Mapping, NamedTuple, Sequence

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, exists, false, func, literal, select, true


# --- what the resolvers know about a person -------------------------------------------------

class Facts(NamedTuple):
    """One person, as the Python resolver sees them: preferences (a NotificationPreference or
    None), the address of each channel that has one, and the channels with a live
    per-person capability (a push subscription). A tuple: a fan-out makes 100,000."""

    pref: Any
    addresses: Mapping[str, str | None]
    live: frozenset[str] = frozenset()
    config: Any = None  # services.Settings


@dataclass(frozen=True)
class SqlScope:
    """The tables a fan-out resolves channels against: `user` (the User entity) and `pref`
    (notification_preferences, outer-joined: NULL columns mean no preferences saved)."""

    user: Any
    pref: Any
    config: Any
    requested: tuple[str, ...] = ()


def _and(*parts):
    """AND of SQL conditions and Python booleans, folding the constants."""
    if any(part is False for part in parts):
        return False
    kept = [part for part in parts if part is not True]
    if not kept:
        return True
    return kept[0] if len(kept) == 1 else and_(*kept)


# --- availability rules ---------------------------------------------------------------------

class Rule:
    def holds(self, facts: Facts, spec: "ChannelSpec") -> bool:  # pragma: no cover
        raise NotImplementedError

    def check(self, spec: "ChannelSpec") -> Callable[[Facts], bool]:
        """`holds` for this spec as one function of the facts (a fan-out calls it 100,000
        times: no method lookups); the property test holds both to the SQL."""
        return lambda facts: self.holds(facts, spec)

    def sql(self, scope: SqlScope, spec: "ChannelSpec"):  # pragma: no cover
        """A SQL condition, or True / False when it is the same for everyone."""
        raise NotImplementedError


@dataclass(frozen=True)
class Always(Rule):
    def holds(self, facts, spec):
        return True

    def sql(self, scope, spec):
        return True


@dataclass(frozen=True)
class Configured(Rule):
    """The server is set up to send on the channel (the same for everyone)."""

    test: Callable[[Any], bool]

    def holds(self, facts, spec):
        return bool(self.test(facts.config))

    def sql(self, scope, spec):
        return bool(self.test(scope.config))


@dataclass(frozen=True)
class SwitchedOn(Rule):
    """The person has not switched the channel off (no preferences saved: on)."""

    def holds(self, facts, spec):
        value = None if facts.pref is None else getattr(facts.pref, spec.preference)
        return value is None or bool(value)

    def sql(self, scope, spec):
        return func.coalesce(scope.pref.c[spec.preference], true())

    def check(self, spec):
        column = spec.preference

        def switched_on(facts):
            value = None if facts.pref is None else getattr(facts.pref, column)
            return value is None or bool(value)
        return switched_on


@dataclass(frozen=True)
class HasAddress(Rule):
    """The person has an address on the channel (an empty one is none)."""

    def holds(self, facts, spec):
        return bool(facts.addresses.get(spec.name))

    def sql(self, scope, spec):
        column = spec.address.sql(scope)
        return and_(column.isnot(None), column != "")

    def check(self, spec):
        name = spec.name
        return lambda facts: bool(facts.addresses.get(name))


@dataclass(frozen=True)
class Live(Rule):
    """A per-person capability that is not an address, e.g. a live push subscription:
    `query(scope)` is its SQL condition; `load` ("module:function", called with user ids and
    whether the database is PostgreSQL) returns the ids it holds for, which the Python side
    keeps in `facts.live`."""

    query: Callable[[SqlScope], Any]
    load: str

    def holds(self, facts, spec):
        return spec.name in facts.live

    def sql(self, scope, spec):
        return self.query(scope)

    def check(self, spec):
        name = spec.name
        return lambda facts: name in facts.live


@dataclass(frozen=True)
class All(Rule):
    rules: tuple[Rule, ...]

    def holds(self, facts, spec):
        return all(rule.holds(facts, spec) for rule in self.rules)

    def sql(self, scope, spec):
        parts = []
        for rule in self.rules:
            part = rule.sql(scope, spec)
            if part is False:  # e.g. not configured: the rest is not worth a query
                return False
            parts.append(part)
        return _and(*parts)


# --- where addresses come from --------------------------------------------------------------

class AddressSource:
    def of_person(self, person) -> str | None:
        """From a User or a services.Target, when they carry it; else None (see `load`)."""
        return None

    def load(self, user_ids: list[int]) -> dict[int, str]:
        """Addresses kept outside the person's row, for many people at once."""
        return {}

    @property
    def on_person(self) -> bool:
        return False

    def sql(self, scope: SqlScope):  # pragma: no cover
        raise NotImplementedError


@dataclass(frozen=True)
class UserField(AddressSource):
    """A column of the users row (phone, email), also carried by a fan-out Target."""

    name: str

    def of_person(self, person):
        return getattr(person, self.name, None)

    @property
    def on_person(self) -> bool:
        return True

    def sql(self, scope):
        return getattr(scope.user, self.name)


@dataclass(frozen=True)
class Binding(AddressSource):
    """A column of another table with one row per user (e.g. a WeChat binding)."""

    model: str  # "module:Class", imported when first used: the feature may load later
    user_column: str
    value_column: str

    def _model(self):
        module, name = self.model.split(":")
        return getattr(import_module(module), name)

    def load(self, user_ids):
        if not user_ids:
            return {}
        from volunteer_hub.db import db

        model = self._model()
        owner, value = getattr(model, self.user_column), getattr(model, self.value_column)
        found = {}
        for start in range(0, len(user_ids), 1000):  # bounded IN lists on both engines
            found.update(db.session.execute(
                select(owner, value).where(owner.in_(user_ids[start:start + 1000]))).all())
        return found

    def sql(self, scope):
        model = self._model()
        return (select(getattr(model, self.value_column))
                .where(getattr(model, self.user_column) == scope.user.id)
                .correlate(scope.user).scalar_subquery())


# --- what counts as reached -----------------------------------------------------------------

@dataclass(frozen=True)
class Reached:
    """When a message counts as having reached the person: its `column`, the time it did, is
    set and its status is one of `statuses` (if any given)."""

    column: str
    statuses: tuple[str, ...] = ()
    why: str = ""

    def sql(self, m):
        known = getattr(m, self.column).isnot(None)  # `at` has a time to give
        return and_(m.status.in_(self.statuses), known) if self.statuses else known

    def at(self, message) -> datetime | None:
        if self.statuses and message.status not in self.statuses:
            return None
        return getattr(message, self.column)


READ = Reached("read_at", why="the person opened it")
ACCEPTED = Reached("sent_at", ("sent", "delivered"),
                   why="the receiving server accepted it; SMTP gives no later receipt")
RECEIPT = Reached("delivered_at", ("delivered",), why="the provider's or phone's receipt")


# --- the declaration ------------------------------------------------------------------------

@dataclass(frozen=True)
class ChannelSpec:
    name: str
    label: Any  # lazy gettext
    fallback: str | None  # tried next when nothing else is set (None: the end)
    reached: Reached
    preference: str | None = None  # column of notification_preferences that turns it on
    address: AddressSource | None = None
    requires: tuple[Rule, ...] = ()  # beyond the preference and the address
    # The sending class, "module:factory" called with (settings, app) -> Channel | None.
    sender: str | None = None
    rate_setting: str | None = None  # attribute of services.Settings: messages a second
    # Attribute of services.Settings: seconds a sent message waits for its receipt before
    # the next channel is tried; None: NOTIFY_ACK_TIMEOUT_SECONDS.
    receipt_timeout_setting: str | None = None
    receipts: bool = False  # delivery receipts arrive (apply_receipt)
    delivered_on_commit: bool = False  # the database is the channel: nothing to send
    billed_in_segments: bool = False  # cost counts segments (SMS)
    broadcast: bool = False  # a call-out requests it (where the server is set up for it)

    @cached_property
    def available(self) -> Rule:
        rules = list(self.requires)
        if self.preference:
            rules.insert(0, SwitchedOn())
        if self.address is not None:
            rules.append(HasAddress())
        return All(tuple(rules))

    @cached_property
    def personal_checks(self) -> tuple[Callable[[Facts], bool], ...]:
        """The rules that differ from person to person (not `Configured`), as functions."""
        return tuple(rule.check(self) for rule in self.available.rules
                     if not isinstance(rule, (Configured, Always)))

    def configured(self, config) -> bool:
        """The server is set up for the channel (its rules that are the same for everyone)."""
        return all(rule.test(config) for rule in self.requires if isinstance(rule, Configured))

    @property
    def live_rule(self) -> Live | None:
        return next((rule for rule in self.requires if isinstance(rule, Live)), None)

    def live_for(self, user_ids: list[int], postgres: bool, config) -> set[int]:
        rule = self.live_rule
        if rule is None or not self.configured(config):
            return set()
        module, name = rule.load.split(":")
        return set(getattr(import_module(module), name)(user_ids, postgres))

    def holds_for(self, facts: Facts) -> bool:
        return self.available.holds(facts, self)

    def sql_condition(self, scope: SqlScope):
        return self.available.sql(scope, self)

    def rate(self, config) -> float | None:
        return getattr(config, self.rate_setting) if self.rate_setting else None

    def receipt_timeout(self, config) -> int:
        setting = self.receipt_timeout_setting or "ack_timeout_seconds"
        return int(getattr(config, setting))

    def build(self, config, app=None):
        if self.sender is None:
            return None
        module, name = self.sender.split(":")
        return getattr(import_module(module), name)(config, app)


# --- the channels ---------------------------------------------------------------------------

def _sms_configured(config) -> bool:
    from volunteer_hub.notify import senders

    return senders.sms_configured(config)


def _push_configured(config) -> bool:
    return bool(config.vapid_private_key)


def _wechat_configured(config) -> bool:
    return bool(getattr(config, "wechat_app_id", None))


def _push_subscribed(scope: SqlScope):
    if "webpush" not in scope.requested:  # the EXISTS costs a probe per person
        return False
    from volunteer_hub.notify.models import PushSubscription

    return exists().where(PushSubscription.user_id == scope.user.id,
                          PushSubscription.gone_at.is_(None))


INBOX = ChannelSpec("inbox", _l("In-app inbox"), None, READ, delivered_on_commit=True,
                    broadcast=True)
EMAIL = ChannelSpec("email", _l("E-mail"), "inbox", ACCEPTED, preference="email",
                    address=UserField("email"),
                    sender="volunteer_hub.notify.senders:email", rate_setting="email_rate",
                    broadcast=True)
SMS = ChannelSpec("sms", _l("SMS"), "email", RECEIPT, preference="sms",
                  address=UserField("phone"), requires=(Configured(_sms_configured),),
                  sender="volunteer_hub.notify.senders:sms", rate_setting="sms_rate",
                  receipts=True, billed_in_segments=True, broadcast=True)
WEBPUSH = ChannelSpec("webpush", _l("Push notification"), "sms", RECEIPT, preference="webpush",
                      requires=(Configured(_push_configured), Live(
                          _push_subscribed, "volunteer_hub.notify.services:live_push_users")),
                      sender="volunteer_hub.notify.senders:webpush",
                      rate_setting="webpush_rate", receipt_timeout_setting="webpush_ack_timeout",
                      receipts=True, broadcast=True)
WECHAT = ChannelSpec("wechat", _l("WeChat"), "sms", RECEIPT, preference="wechat",
                     address=Binding("volunteer_hub.wechat.models:WeChatBinding", "user_id",
                                     "openid_encrypted"),
                     requires=(Configured(_wechat_configured),),
                     sender="volunteer_hub.notify.senders:wechat", rate_setting="wechat_rate",
                     receipt_timeout_setting="wechat_receipt_timeout", receipts=True,
                     broadcast=True)

SPECS: dict[str, ChannelSpec] = {spec.name: spec for spec in (INBOX, EMAIL, SMS, WEBPUSH,
                                                              WECHAT)}
NAMES: tuple[str, ...] = tuple(SPECS)
LAST = INBOX.name  # every chain ends here: the inbox is always available
LABELS = {name: spec.label for name, spec in SPECS.items()}
PREFERENCES = tuple(spec.preference for spec in SPECS.values() if spec.preference)
RECEIPT_CHANNELS = tuple(name for name, spec in SPECS.items() if spec.receipts)


def broadcast_channels(config) -> tuple[str, ...]:
    """The channels a broadcast (a call-out) requests: those declared for broadcasts that the
    server is set up for. One not set up would only resolve along its chain to a channel
    requested anyway (the fan-out writes a person's channel once)."""
    return tuple(name for name, spec in SPECS.items()
                 if spec.broadcast and spec.configured(config))


def get(name: str) -> ChannelSpec:
    return SPECS[name]


def default_order() -> tuple[str, ...]:
    """Every channel in the order the declared fallbacks try them (the inbox last)."""
    starts = [name for name in SPECS
              if not any(spec.fallback == name for spec in SPECS.values())]
    order: list[str] = []
    for start in starts:
        for name in chain(start):
            if name not in order:
                order.append(name)
    order.remove(LAST)
    return tuple(order) + (LAST,)


@lru_cache(maxsize=256)
def chain(start: str, order: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """`start`, then the channels tried after it, ending with the inbox: the ones after it
    in `order` (an organization's) when it is there, else its declared fallbacks."""
    if order and start in order:
        following = list(order[order.index(start):])
    else:
        following, current = [], start
        while current is not None and current not in following:
            following.append(current)
            current = SPECS[current].fallback
    following = [name for name in following if name in SPECS and name != LAST]
    return tuple(dict.fromkeys(following)) + (LAST,)


def next_after(channel: str, order: tuple[str, ...] | None = None) -> str | None:
    """The channel tried when `channel` failed or went unconfirmed; None after the last."""
    names = chain(channel, order)
    return names[1] if len(names) > 1 else None


class Resolver:
    """The Python resolver for one batch under one configuration: the rules that are the same
    for everyone (`Configured`) are evaluated once per chain, the others per person."""

    def __init__(self, config):
        self.config = config
        self._chains: dict = {}

    def _chain(self, requested: str, order):
        by_request = self._chains.get(order)
        if by_request is None:
            by_request = self._chains[order] = {}
        found = by_request.get(requested)
        if found is None:
            found = by_request[requested] = tuple(
                (name, SPECS[name].personal_checks) for name in chain(requested, order)
                if SPECS[name].configured(self.config))
        return found

    def resolve(self, requested: str, facts: Facts, order=None) -> str:
        by_request = self._chains.get(order)
        steps = by_request.get(requested) if by_request is not None else None
        for name, checks in steps or self._chain(requested, order):
            for check in checks:
                if not check(facts):
                    break
            else:
                return name
        return LAST


def resolve(requested: str, facts: Facts, order: tuple[str, ...] | None = None) -> str:
    """The first channel of `requested`'s chain the person can receive (Python)."""
    return Resolver(facts.config).resolve(requested, facts, order)


def resolve_sql(requested: str, scope: SqlScope, order: tuple[str, ...] | None = None):
    """The same choice as `resolve`, as a SQL expression over the scope's tables."""
    whens = []
    for name in chain(requested, order):
        condition = SPECS[name].sql_condition(scope)
        if condition is True:
            return case(*whens, else_=literal(name)) if whens else literal(name)
        if condition is not False:
            whens.append((condition, literal(name)))
    return case(*whens, else_=literal(LAST)) if whens else literal(LAST)


def address_of(channel: str, facts: Facts) -> str | None:
    return facts.addresses.get(channel) if SPECS[channel].address is not None else None


def reached_sql(m):
    """A message (OutboxMessage entity `m`) reached its person, as SQL."""
    return case(*((m.channel == name, spec.reached.sql(m)) for name, spec in SPECS.items()),
                else_=false())


def reached_at(message) -> datetime | None:
    spec = SPECS.get(message.channel)
    return spec.reached.at(message) if spec is not None else None


def valid_order(names: Sequence[str]) -> tuple[str, ...]:
    """An organization's order as stored: known channels, each once, the inbox last."""
    unknown = [name for name in names if name not in SPECS]
    if unknown:
        raise ValueError(f"unknown channels {unknown}")
    kept = [name for name in dict.fromkeys(names) if name != LAST]
    return tuple(kept) + (LAST,)
