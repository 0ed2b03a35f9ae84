"""Fan-out written by the database: one event to everyone a query names, text stored once.

A call-out reaches 100,000 people on three channels. Rendering 300,000 texts in Python and
shipping them to the database took most of a fan-out's 20 s; here the caller stores the text
once per language (`OutboxContent`) and one INSERT ... SELECT writes narrow message rows
(who, channel, address, locale, and `ref_id`: the record the message is about). The
personal part of each person's link is made when the message is read for sending or shown in
the inbox, by the link maker the event's feature registered for its key prefix (a one-tap
answer token for an emergency responder, say), from stored values only, so it is the same
link every time it is made.

Channel choice is the registry's (`registry.resolve_sql`: preferences, missing addresses,
the fallback chain in each person's organization's order), the same rules the Python
resolver evaluates. Fan-outs from a query are urgent: quiet hours need each
person's clock, which is not worth a per-row computation when the house is on fire.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable, Iterable, NamedTuple

from sqlalchemy import (
    BigInteger, and_, case, cast, func, insert, literal, null, or_, select, union_all,
)
from sqlalchemy.orm.attributes import set_committed_value

from volunteer_hub.db import db, is_postgresql, sort_in_memory
from volunteer_hub.notify import orders, registry, services
from volunteer_hub.notify.models import (
    CHANNELS, NotificationPreference, OutboxContent, OutboxMessage, now,
)

LINK_PLACEHOLDER = "⟦link⟧"
PARTS_PER_QUERY = 1000  # a link maker's IN list stays within both engines' limits

# (ref ids of one event, when the event's text was written) -> the personal part of each
# one's link (e.g. a signed token) that replaces LINK_PLACEHOLDER; unknown ids are left out.
LinkMaker = Callable[[list[int], datetime], dict[int, str]]
_link_makers: dict[str, LinkMaker] = {}


def register_link_maker(prefix: str, maker: LinkMaker) -> None:
    """`maker` makes the personal part of the links in events whose key starts with
    `prefix`. The rest of the link (the site's address) is in the stored text: a worker
    that makes the part knows no request, and the address is the one the sender used."""
    _link_makers[prefix] = maker


def _link_maker(event_key: str) -> LinkMaker | None:
    matching = [prefix for prefix in _link_makers if event_key.startswith(prefix)]
    return _link_makers[max(matching, key=len)] if matching else None


# --- reading ----------------------------------------------------------------------------------

class Rendered(NamedTuple):
    subject: str
    body: str
    link: str | None


def render(rows: Iterable, reader_locale: str | None = None) -> list[Rendered]:
    """The subject, text and link each row (a message, or a row with its columns event_key,
    locale, subject, body, link and ref_id) is sent or shown with. A shared text's link is
    in its body (a tapped push opens the first address in the body). `reader_locale`: the
    language of whoever reads it now (the inbox), when the event's text exists in it."""
    rows = list(rows)
    shared = [row for row in rows if row.body is None]
    own = {(row.event_key, row.locale) for row in shared}
    readers = {(row.event_key, reader_locale) for row in shared} if reader_locale else set()
    translatable = [row for row in rows if row.body is not None and reader_locale
                    and row.locale != reader_locale]
    contents = _contents(own | readers | {(row.event_key, locale) for row in translatable
                                          for locale in (row.locale, reader_locale)})
    # Links are made as of the recipient's own text: the same link whoever reads it.
    parts = _personal_parts(shared, {key: contents[key] for key in own if key in contents})
    rendered = []
    for row in rows:
        if row.body is not None:
            rendered.append(_translated(row, contents, reader_locale))
            continue
        content = (contents.get((row.event_key, reader_locale))
                   or contents.get((row.event_key, row.locale)))
        subject, body = (content.subject, content.body) if content else ("", "")
        part = parts.get((row.event_key, row.ref_id), "")
        rendered.append(Rendered(subject, body.replace(LINK_PLACEHOLDER, part), row.link))
    return rendered


def _translated(row, contents: dict, reader_locale: str | None) -> Rendered:
    """A message written with its own text, in the reader's language when its event's texts
    are this message's translations (its own language's text is its body: an old message,
    or one of a fan-out's events, keeps its body)."""
    own = contents.get((row.event_key, row.locale))
    theirs = contents.get((row.event_key, reader_locale))
    if own is not None and theirs is not None and own.body == row.body:
        return Rendered(theirs.subject or row.subject or "", theirs.body, row.link)
    return Rendered(row.subject or "", row.body, row.link)


def filled(messages: list[OutboxMessage],
           reader_locale: str | None = None) -> list[OutboxMessage]:
    """Loaded messages with their shared text and link in place, as `render` makes them.

    Set as the loaded state, so nothing is written back when another column changes; a
    commit expires it (fill after the transaction that returns the message)."""
    for message, shown in zip(messages, render(messages, reader_locale)):
        if message.body != shown.body or message.subject != shown.subject:
            set_committed_value(message, "subject", shown.subject)
            set_committed_value(message, "body", shown.body)
    return messages


def _contents(keys: set[tuple[str, str]]) -> dict[tuple[str, str], OutboxContent]:
    if not keys:
        return {}
    wanted = or_(*(and_(OutboxContent.event_key == event_key, OutboxContent.locale == locale)
                   for event_key, locale in keys))
    return {(c.event_key, c.locale): c for c in db.session.execute(
        select(OutboxContent).where(wanted)).scalars()}


def _personal_parts(rows: list, contents: dict) -> dict[tuple[str, int], str]:
    """Each row's part, made as of when its event's text was written (one call-out round's
    links all expire together, whichever channel or fallback carries them)."""
    written = {event_key: content.created_at for (event_key, _l), content in contents.items()}
    by_event: dict[str, set[int]] = {}
    for row in rows:
        if row.ref_id is not None and row.event_key in written:
            by_event.setdefault(row.event_key, set()).add(row.ref_id)
    parts = {}
    for event_key, ref_ids in by_event.items():
        maker = _link_maker(event_key)
        if maker is None:
            continue
        ordered = sorted(ref_ids)
        for start in range(0, len(ordered), PARTS_PER_QUERY):
            made = maker(ordered[start:start + PARTS_PER_QUERY], written[event_key])
            parts.update({(event_key, ref_id): part for ref_id, part in made.items()})
    return parts


# --- writing ----------------------------------------------------------------------------------

def enqueue_query(event_key: str, recipients, *, texts: dict[str, tuple[str, str]],
                  channels: Iterable[str], new_event: bool = False) -> int:
    """Write `event_key` to everyone `recipients` names, on each of `channels`, urgently.

    `recipients`: a select of columns labelled `user_id` and `ref_id` (NULL when there is no
    personal link), each user once. `texts`: locale -> (subject, body), the first locale the
    default; a person gets the locale whose language their own locale starts with. Each
    requested channel a person cannot receive falls back along the chain, and a person gets
    a channel once. Like `enqueue`, a message already in the outbox for (event, person,
    channel) is left as it is, and so is the event's text once stored. Returns the number
    of rows written.

    `new_event=True`: the caller guarantees that none of these people has a message of
    `event_key` yet (e.g. they were called in this very transaction). The rows then go in
    with a plain INSERT, without the per-row conflict check and its extra log record; a
    duplicate would fail the transaction instead of being ignored."""
    channels = tuple(channels)
    if not channels or any(channel not in CHANNELS for channel in channels):
        raise ValueError(f"unknown channel in {channels}")
    _store_texts(event_key, texts)
    moment = now()
    people = _people(recipients, list(texts), channels)
    branches = [_messages_on(people, event_key, index, moment) for index in range(len(channels))]
    rows = union_all(*branches).subquery("fanout_rows")
    ordered = select(*rows.c).order_by(rows.c.recipient_id, rows.c.channel)  # index order
    columns = [column.name for column in rows.c]
    outbox = OutboxMessage.__table__
    statement = (insert(outbox) if new_event else _insert_ignoring_duplicates(
        outbox, index_elements=["event_key", "recipient_id", "channel"]))
    sort_in_memory()
    statement = statement.from_select(columns, ordered)
    return db.session.execute(statement.execution_options(preserve_rowcount=True)).rowcount


def _insert_ignoring_duplicates(table, *, index_elements: list[str]):
    if is_postgresql():
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).on_conflict_do_nothing(index_elements=index_elements)


def _store_texts(event_key: str, texts: dict[str, tuple[str, str]]) -> None:
    moment = now()
    db.session.execute(
        _insert_ignoring_duplicates(OutboxContent.__table__, index_elements=[
            "event_key", "locale"]),
        [dict(event_key=event_key, locale=locale, subject=subject or "", body=body,
              created_at=moment) for locale, (subject, body) in texts.items()])


def _people(recipients, locales: list[str], channels: tuple[str, ...]):
    """One row per recipient: user, ref, addresses, locale and each requested channel as it
    resolves (columns c0, c1, ...), computed once for all channels."""
    from volunteer_hub.accounts.models import User
    from volunteer_hub.volunteers.models import Volunteer

    source = recipients.subquery("fanout_recipients")
    scope = _scope(User, channels)
    resolved = [_resolved_channel(channel, scope).label(f"c{index}")
                for index, channel in enumerate(channels)]
    addresses = [spec.address.sql(scope).label(f"a_{name}")
                 for name, spec in registry.SPECS.items()
                 if spec.address is not None and name in scope.requested]
    # Typed: a bare NULL (no personal link) would reach the insert as text on PostgreSQL.
    ref_id = cast(source.c.ref_id, BigInteger).label("ref_id")
    query = (select(source.c.user_id, ref_id, *addresses,
                    _locale_of(User.locale, locales).label("locale"), *resolved)
             .join_from(source, User, User.id == source.c.user_id)
             .outerjoin(scope.pref, scope.pref.c.user_id == User.id))
    if orders.configured():
        query = query.outerjoin(Volunteer, Volunteer.user_id == User.id)
    return query.cte("fanout_people").prefix_with("MATERIALIZED")


def _scope(user, channels: tuple[str, ...]) -> registry.SqlScope:
    """The tables and channels a fan-out resolves against: every channel the requested ones
    may resolve to under any organization's order."""
    needed = services.needed_channels(channels, orders.orders_in_use())
    return registry.SqlScope(user=user, pref=NotificationPreference.__table__,
                             config=services.settings(), requested=tuple(sorted(needed)))


def _locale_of(column, locales: list[str]):
    """The first of `locales` whose language the person's locale starts with, else the
    first."""
    language = func.lower(func.coalesce(column, ""))
    whens = [(language.like(locale.split("_")[0].lower() + "%"), literal(locale))
             for locale in locales[1:]]
    return case(*whens, else_=literal(locales[0])) if whens else literal(locales[0])


def _resolved_channel(channel: str, scope: registry.SqlScope):
    """The requested channel or the first of its fallback chain the person can receive, in
    their organization's order (`registry.resolve_sql`)."""
    from volunteer_hub.volunteers.models import Volunteer

    return orders.order_case(Volunteer.org_path,
                             lambda order: registry.resolve_sql(channel, scope, order))


def _messages_on(people, event_key: str, index: int, moment):
    """The rows of the index-th requested channel, without a channel an earlier requested
    one already resolved to for that person."""
    channel = people.c[f"c{index}"]
    inbox = channel.in_([name for name, spec in registry.SPECS.items()
                         if spec.delivered_on_commit])
    earlier = [channel != people.c[f"c{i}"] for i in range(index)]
    return select(
        literal(event_key).label("event_key"), people.c.user_id.label("recipient_id"),
        people.c.ref_id.label("ref_id"), channel.label("channel"),
        _address(channel, people).label("address"),
        literal("").label("subject"), null().label("body"), people.c.locale.label("locale"),
        literal(True).label("urgent"),
        case((inbox, literal("delivered")), else_=literal("pending")).label("status"),
        literal(0).label("attempts"),
        case((inbox, null()), else_=literal(moment)).label("next_attempt_at"),
        literal(moment).label("created_at"),
        case((inbox, literal(moment)), else_=null()).label("delivered_at"),
    ).where(*earlier)


def _address(channel, people):
    """The address of the channel the row resolved to (the people's `a_<channel>` columns)."""
    whens = [(channel == column.name[2:], column) for column in people.c
             if column.name.startswith("a_")]
    return case(*whens, else_=null()) if whens else null()
