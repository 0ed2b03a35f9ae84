"""The after-action report of one activation, and its HTML, CSV and PDF exports.

Every duration is in seconds. Percentiles interpolate linearly between the two nearest
ranks (numpy's default), so p50 of 10 s and 20 s is 15 s; a group with no values has none.

- delivery: per outbox channel and per team, from a message's creation to its sending
  (`sent_at`) and to the moment it reached the person, as the channel registry counts it
  (an SMS, WeChat or push receipt, an e-mail the server accepted, an inbox message read);
  alert messages only.
- acknowledgement: `first_answered_at - notified_at`; arrival: `arrived_at - notified_at`;
  grouped per team and per the channel of the person's first answer (link / sms / app).
- time to fill a role: `filled_at - activated_at` (assignment.py sets filled_at once).
- no-show: the last answer is 'coming' and the person never arrived.
- messages and cost: every outbox row of the activation (alerts, assignments, stand-down)
  plus the SMS answers to the responders' replies (up to a day after the stand-down); an
  SMS costs EMERGENCY_SMS_COST_FEN per segment (70 characters, 67 per part when longer;
  160/153 for plain ASCII) once the gateway accepted it; e-mail and inbox cost nothing.
  Per channel: delivered (reached, as above), failed, and unconfirmed (sent, but neither a
  receipt nor a failure came back).

Names are masked (张*明, as on the public certificate check) unless the caller asks for them
with `with_names=True`: the page and the JSON API do, for staff who may read the activation
(the same scope check as the live board), because a debrief follows up no-shows by person.
The CSV and PDF files leave that check once downloaded, so they carry masked names only and
their writers refuse a report with names.
"""
from __future__ import annotations

import io
import math
from collections import namedtuple
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import func, or_, select

from volunteer_hub.db import db, utcnow
from volunteer_hub.emergency import board
from volunteer_hub.emergency.models import (
    ANSWERS, LEVELS, Activation, ActivationEvent, ActivationRole, Responder, ResponseChange,
)
from volunteer_hub.notify import fanout, registry
from volunteer_hub.notify.channels import sms_segments
from volunteer_hub.notify.models import CHANNEL_LABELS, InboundSms, OutboxMessage
from volunteer_hub.spreadsheet import SafeCsvWriter
from volunteer_hub.timebank.certificates import mask_name

COMPARE_WITH = 5  # earlier drills shown side by side
REPLIES_AFTER_STAND_DOWN = timedelta(hours=24)
TIMELINE_SHOWN = 1000  # entries in the page and the PDF; the CSV has them all
DEFAULT_SMS_COST_FEN = 5


# --- numbers -----------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Spread:
    count: int
    p50: float | None
    p90: float | None

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(len(values), percentile(values, 0.5), percentile(values, 0.9))


def sms_cost_fen() -> int:
    value = current_app.config.get("EMERGENCY_SMS_COST_FEN")
    return DEFAULT_SMS_COST_FEN if value in (None, "") else int(value)


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (board.as_utc(end) - board.as_utc(start)).total_seconds()


# --- the report's parts ------------------------------------------------------------------------

@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    text: str


@dataclass(frozen=True)
class RoleResult:
    code: str
    label_zh: str
    label_en: str
    needed: int
    assigned: int
    arrived: int
    fill_seconds: float | None  # None: never full


MESSAGE_METRICS = ("messages", "sent", "delivered", "failed", "unconfirmed", "segments",
                   "cost_fen")


@dataclass(frozen=True)
class ChannelMessages:
    channel: str
    messages: int
    sent: int  # accepted by the gateway / server (or delivered)
    delivered: int  # reached the person as the channel counts it (notify.registry)
    failed: int
    unconfirmed: int  # sent, but neither a receipt nor a failure came back
    segments: int
    cost_fen: int


@dataclass(frozen=True)
class NoShow:
    name: str
    team: str
    eta_minutes: int | None
    answered_at: datetime | None


@dataclass(frozen=True)
class Summary:
    """The headline numbers of one activation: one column of the comparison."""
    activation_id: int
    activated_at: datetime
    level: int
    is_drill: bool
    notified: int
    coming: int
    cannot: int
    no_answer: int
    arrived: int
    no_shows: int
    ack: Spread
    arrival: Spread
    all_roles_filled_seconds: float | None
    messages: int
    cost_fen: int


@dataclass
class AfterAction:
    activation_id: int
    plan_name: str
    level: int
    is_drill: bool
    status: str
    activated_at: datetime
    stood_down_at: datetime | None
    incident_address: str
    note: str
    summary: Summary
    timeline: list[TimelineEntry]
    delivery_sent: dict[str, dict[str, Spread]]  # "channel"/"team" -> group -> spread
    delivery_reached: dict[str, dict[str, Spread]]
    ack: dict[str, dict[str, Spread]]
    arrival: dict[str, dict[str, Spread]]
    roles: list[RoleResult]
    no_shows: list[NoShow]
    messages: list[ChannelMessages]
    comparison: list[Summary]  # this activation first, then earlier drills, newest first
    curve: list[dict]
    hours: dict[str, int] = field(default_factory=dict)  # service record status -> count
    generated_at: datetime = field(default_factory=utcnow)
    with_names: bool = False  # False: every responder's name is masked


# --- loading -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Person:
    responder: Responder
    name: str
    team: str
    first_channel: str | None


# Plain rows, not ORM objects: a call-out may have 100,000 responders and 300,000 messages.
RESPONDER_FIELDS = ("id", "user_id", "role_id", "answer", "eta_minutes", "notified_at",
                    "first_answered_at", "answered_at", "answer_channel", "arrived_at",
                    "checked_out_at", "safe_confirmed_at")
ResponderRow = namedtuple("ResponderRow", RESPONDER_FIELDS)
MessageRow = namedtuple("MessageRow", ("event_key", "channel", "recipient_id", "status",
                                       "segments", "created_at", "sent_at", "delivered_at",
                                       "read_at"))


def _people(activation_id: int, *, with_names: bool = False) -> list[_Person]:
    from volunteer_hub.orgs.models import Team
    from volunteer_hub.volunteers.models import Volunteer

    first_channels = _first_answer_channels(activation_id)
    no_team = gettext("No team")
    rows = db.session.execute(
        select(*(getattr(Responder, name) for name in RESPONDER_FIELDS), Volunteer.real_name,
               Team.name)
        .join(Volunteer, Volunteer.id == Responder.volunteer_id)
        .outerjoin(Team, Team.id == Responder.team_id)
        .where(Responder.activation_id == activation_id).order_by(Responder.id)).all()
    people = []
    for row in rows:
        r = ResponderRow(*row[:len(RESPONDER_FIELDS)])
        name, team = row[len(RESPONDER_FIELDS):]
        name = name if with_names else mask_name(name)
        people.append(_Person(r, name, team or no_team, first_channels.get(r.id, r.answer_channel)))
    return people


def _first_answer_channels(activation_id: int) -> dict[int, str]:
    first: dict[int, str] = {}
    for responder_id, channel in db.session.execute(
            select(ResponseChange.responder_id, ResponseChange.channel)
            .join(Responder, Responder.id == ResponseChange.responder_id)
            .where(Responder.activation_id == activation_id)
            .order_by(ResponseChange.at, ResponseChange.id)):
        first.setdefault(responder_id, channel)
    return first


def _grouped(people: list[_Person], value) -> dict[str, dict[str, Spread]]:
    by_channel: dict[str, list[float]] = {}
    by_team: dict[str, list[float]] = {}
    for person in people:
        seconds = value(person.responder)
        if seconds is None:
            continue
        by_channel.setdefault(person.first_channel or "-", []).append(seconds)
        by_team.setdefault(person.team, []).append(seconds)
    return {"channel": {k: Spread.of(v) for k, v in sorted(by_channel.items())},
            "team": {k: Spread.of(v) for k, v in sorted(by_team.items())}}


def _is_sent(row) -> bool:
    return row.sent_at is not None or row.status in ("sent", "delivered")


def _message_rows(condition) -> list[MessageRow]:
    """Outbox rows as tuples; for a sent SMS the segments billed (the cost)."""
    m = OutboxMessage
    counted = _segments_not_recorded(condition)
    return [MessageRow(event_key, channel, recipient_id, status, counted.get(id_, segments),
                       created_at, sent_at, delivered_at, read_at)
            for id_, event_key, channel, recipient_id, status, segments, created_at, sent_at,
            delivered_at, read_at in db.session.execute(
                select(m.id, m.event_key, m.channel, m.recipient_id, m.status, m.segments,
                       m.created_at, m.sent_at, m.delivered_at, m.read_at)
                .where(condition).order_by(m.id))]


def _segments_not_recorded(condition) -> dict[int, int]:
    """Segments of sent SMS the dispatcher did not record (sent before it did), counted
    from their text as sent."""
    m = OutboxMessage
    rows = db.session.execute(select(
        m.id, m.event_key, m.locale, m.subject, m.body, m.link, m.ref_id).where(
        condition, m.channel.in_(_BILLED_IN_SEGMENTS), m.segments.is_(None),
        or_(m.sent_at.isnot(None), m.status.in_(("sent", "delivered"))))).all()
    return {row.id: sms_segments(shown.body) for row, shown in zip(rows, fanout.render(rows))}


_BILLED_IN_SEGMENTS = [name for name, spec in registry.SPECS.items() if spec.billed_in_segments]


def _reached_at(message: MessageRow) -> datetime | None:
    return registry.reached_at(message)


def _delivery(activation_id: int, people: list[_Person], messages: list[MessageRow]):
    """Send and reach times of the alerts among `messages` (the activation's)."""
    team_of = {p.responder.user_id: p.team for p in people}
    sent = {"channel": {}, "team": {}}
    reached = {"channel": {}, "team": {}}
    no_team = gettext("No team")
    alert_prefix = board.alert_prefix(activation_id)
    for message in messages:
        if not message.event_key.startswith(alert_prefix):
            continue
        team = team_of.get(message.recipient_id, no_team)
        for target, moment in ((sent, message.sent_at), (reached, _reached_at(message))):
            seconds = seconds_between(message.created_at, moment)
            if seconds is None:
                continue
            target["channel"].setdefault(message.channel, []).append(seconds)
            target["team"].setdefault(team, []).append(seconds)
    spread = {kind: {k: Spread.of(v) for k, v in sorted(groups.items())}
              for kind, groups in sent.items()}
    reach = {kind: {k: Spread.of(v) for k, v in sorted(groups.items())}
             for kind, groups in reached.items()}
    return spread, reach


def _activation_messages(activation: Activation) -> list[MessageRow]:
    """The activation's own messages plus the SMS answers to its responders' replies."""
    own = _message_rows(OutboxMessage.event_key.startswith(f"emergency:{activation.id}:",
                                                           autoescape=True))
    window = [InboundSms.handled_by == "emergency",
              InboundSms.received_at >= board.as_utc(activation.activated_at).replace(tzinfo=None),
              InboundSms.user_id.in_(select(Responder.user_id)
                                     .where(Responder.activation_id == activation.id))]
    if activation.stood_down_at is not None:  # late replies are told it is over: count them
        late = board.as_utc(activation.stood_down_at) + REPLIES_AFTER_STAND_DOWN
        window.append(InboundSms.received_at <= late.replace(tzinfo=None))
    inbound_ids = [f"sms-reply:{i}" for i in db.session.execute(
        select(InboundSms.id).where(*window)).scalars()]
    replies = []
    for start in range(0, len(inbound_ids), 1000):  # bounded IN lists on both engines
        replies += _message_rows(OutboxMessage.event_key.in_(inbound_ids[start:start + 1000]))
    return own + replies


def _messages(activation: Activation,
              rows: list[MessageRow] | None = None) -> list[ChannelMessages]:
    """Messages and cost per channel; `rows`: the activation's messages, when read already."""
    cost = sms_cost_fen()
    totals: dict[str, dict[str, int]] = {}
    for message in rows if rows is not None else _activation_messages(activation):
        row = totals.setdefault(message.channel, dict.fromkeys(
            MESSAGE_METRICS, 0))
        row["messages"] += 1
        failed = message.status in ("failed", "dead")
        reached = _reached_at(message) is not None
        if _is_sent(message):
            row["sent"] += 1
            row["unconfirmed"] += not (reached or failed)
            if message.channel in _BILLED_IN_SEGMENTS:
                row["segments"] += message.segments
                row["cost_fen"] += message.segments * cost
        row["delivered"] += reached
        row["failed"] += failed
    return [ChannelMessages(channel, **row) for channel, row in sorted(totals.items())]


def _roles(activation: Activation, people: list[_Person]) -> list[RoleResult]:
    assigned: dict[int, int] = {}
    arrived: dict[int, int] = {}
    for person in people:
        role_id = person.responder.role_id
        if role_id is not None:
            assigned[role_id] = assigned.get(role_id, 0) + 1
            arrived[role_id] = arrived.get(role_id, 0) + (person.responder.arrived_at is not None)
    roles = db.session.execute(select(ActivationRole).where(
        ActivationRole.activation_id == activation.id)
        .order_by(ActivationRole.position, ActivationRole.id)).scalars()
    return [RoleResult(role.code, role.label_zh, role.label_en, role.needed,
                       assigned.get(role.id, 0), arrived.get(role.id, 0),
                       seconds_between(activation.activated_at, role.filled_at))
            for role in roles]


def _is_no_show(responder: Responder) -> bool:
    return responder.answer == "coming" and responder.arrived_at is None


def _ack_seconds(responder: Responder) -> float | None:
    return seconds_between(responder.notified_at, responder.first_answered_at)


def _arrival_seconds(responder: Responder) -> float | None:
    return seconds_between(responder.notified_at, responder.arrived_at)


def summarize(activation: Activation, people: list[_Person] | None = None,
              messages: list[ChannelMessages] | None = None,
              roles: list[RoleResult] | None = None) -> Summary:
    people = people if people is not None else _people(activation.id)
    messages = messages if messages is not None else _messages(activation)
    roles = roles if roles is not None else _roles(activation, people)
    responders = [p.responder for p in people]
    fills = [r.fill_seconds for r in roles]
    return Summary(
        activation_id=activation.id, activated_at=board.as_utc(activation.activated_at),
        level=activation.level, is_drill=activation.is_drill, notified=len(responders),
        coming=sum(r.answer == "coming" for r in responders),
        cannot=sum(r.answer == "cannot" for r in responders),
        no_answer=sum(r.answer == "none" for r in responders),
        arrived=sum(r.arrived_at is not None for r in responders),
        no_shows=sum(_is_no_show(r) for r in responders),
        ack=Spread.of([s for s in map(_ack_seconds, responders) if s is not None]),
        arrival=Spread.of([s for s in map(_arrival_seconds, responders) if s is not None]),
        all_roles_filled_seconds=max(fills) if fills and None not in fills else None,
        messages=sum(m.messages for m in messages), cost_fen=sum(m.cost_fen for m in messages))


def earlier_drills(activation: Activation, limit: int = COMPARE_WITH) -> list[Activation]:
    return list(db.session.execute(
        select(Activation).where(Activation.plan_id == activation.plan_id,
                                 Activation.is_drill.is_(True), Activation.id != activation.id,
                                 Activation.activated_at <= activation.activated_at)
        .order_by(Activation.activated_at.desc(), Activation.id.desc()).limit(limit)).scalars())


# --- the timeline ------------------------------------------------------------------------------

def event_text(event: ActivationEvent) -> str:
    detail = event.detail or {}
    labels = {
        "activated": gettext("Activated"),
        "assigned": gettext("Roles assigned"),
        "unassigned": gettext("Role unassigned"),
        "stood_down": gettext("Stood down"),
        "wellbeing_started": gettext("Well-being roll call started"),
    }
    if event.kind in labels:
        text = labels[event.kind]
    elif event.kind in board.ESCALATION_KINDS:
        action = board.escalation_action(event)
        from volunteer_hub.emergency.models import ESCALATION_ACTIONS

        text = gettext("Escalation: %(step)s", step=str(ESCALATION_ACTIONS.get(action, action)))
    else:
        text = event.kind.replace("_", " ")
    count = next((detail[key] for key in ("count", "notified", "targets", "called")
                  if isinstance(detail.get(key), int)), None)
    if count is None and isinstance(detail.get("assignments"), list):
        count = len(detail["assignments"])
    if count is not None:
        text += f" ({count})"
    return text


def _timeline(activation_id: int, people: list[_Person]) -> list[TimelineEntry]:
    entries = [TimelineEntry(board.as_utc(e.at), e.kind, event_text(e))
               for e in db.session.execute(select(ActivationEvent).where(
                   ActivationEvent.activation_id == activation_id)).scalars()]
    names = {p.responder.id: p.name for p in people}
    for change in db.session.execute(
            select(ResponseChange.responder_id, ResponseChange.answer,
                   ResponseChange.eta_minutes, ResponseChange.channel, ResponseChange.at)
            .join(Responder, Responder.id == ResponseChange.responder_id)
            .where(Responder.activation_id == activation_id)):
        name = names.get(change.responder_id, "?")
        if change.answer == "coming":
            text = gettext("%(name)s: coming in %(eta)s min (%(channel)s)", name=name,
                           eta=change.eta_minutes if change.eta_minutes is not None else "?",
                           channel=channel_label(change.channel))
        else:
            text = gettext("%(name)s: %(answer)s (%(channel)s)", name=name,
                           answer=str(ANSWERS.get(change.answer, change.answer)),
                           channel=channel_label(change.channel))
        entries.append(TimelineEntry(board.as_utc(change.at), "answer", text))
    for person in people:
        r = person.responder
        if r.arrived_at:
            entries.append(TimelineEntry(board.as_utc(r.arrived_at), "arrived",
                                         gettext("%(name)s arrived", name=person.name)))
        if r.checked_out_at:
            entries.append(TimelineEntry(board.as_utc(r.checked_out_at), "checked_out",
                                         gettext("%(name)s checked out", name=person.name)))
        if r.safe_confirmed_at:
            entries.append(TimelineEntry(board.as_utc(r.safe_confirmed_at), "safe",
                                         gettext("%(name)s confirmed safe", name=person.name)))
    return sorted(entries, key=lambda e: e.at)


def _hours(activation: Activation) -> dict[str, int]:
    if activation.activity_id is None:
        return {}
    from volunteer_hub.records.models import ServiceRecord

    return {status: count for status, count in db.session.execute(
        select(ServiceRecord.status, func.count(ServiceRecord.id))
        .where(ServiceRecord.activity_id == activation.activity_id)
        .group_by(ServiceRecord.status))}


# --- the report --------------------------------------------------------------------------------

def after_action(activation: Activation, *, with_names: bool = False) -> AfterAction:
    """The whole report; the caller has checked that the user may read the activation.

    Responders' names are masked unless `with_names` (for a screen behind the scope check)."""
    people = _people(activation.id, with_names=with_names)
    message_rows = _activation_messages(activation)  # read once: 300,000 in a big call-out
    messages = _messages(activation, message_rows)
    roles = _roles(activation, people)
    summary = summarize(activation, people, messages, roles)
    sent, reached = _delivery(activation.id, people, message_rows)
    no_shows = [NoShow(p.name, p.team, p.responder.eta_minutes,
                       board.as_utc(p.responder.answered_at))
                for p in people if _is_no_show(p.responder)]
    return AfterAction(
        activation_id=activation.id, plan_name=activation.plan.name, level=activation.level,
        is_drill=activation.is_drill, status=activation.status,
        activated_at=board.as_utc(activation.activated_at),
        stood_down_at=board.as_utc(activation.stood_down_at),
        incident_address=activation.incident_address, note=activation.note,
        summary=summary, timeline=_timeline(activation.id, people),
        delivery_sent=sent, delivery_reached=reached,
        ack=_grouped(people, _ack_seconds), arrival=_grouped(people, _arrival_seconds),
        roles=roles, no_shows=no_shows, messages=messages,
        comparison=[summary, *(summarize(a) for a in earlier_drills(activation))],
        curve=board.response_curve(activation), hours=_hours(activation),
        with_names=with_names)


def _require_masked(report: AfterAction) -> None:
    if report.with_names:
        raise ValueError("an exported report carries masked names only: "
                         "build it with after_action(activation)")


# --- formatting helpers (used by the templates, the CSV and the PDF) ---------------------------

def duration(seconds: float | None) -> str:
    """'-' for none, '45 s', '3 min 20 s', '1 h 05 min' (45秒, 3分20秒, 1小时05分 in Chinese)."""
    if seconds is None:
        return "-"
    seconds = round(seconds)
    if seconds < 60:
        return gettext("%(sec)d s", sec=seconds)
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return (gettext("%(min)d min %(sec)02d s", min=minutes, sec=rest) if rest
                else gettext("%(min)d min", min=minutes))
    hours, minutes = divmod(minutes, 60)
    return gettext("%(hours)d h %(min)02d min", hours=hours, min=minutes)


# The channels an answer came through; the channels messages went out on are notify's.
ANSWER_CHANNEL_LABELS = {"link": _l("One-tap link"), "app": _l("App")}


def channel_label(code: str) -> str:
    """A channel's name in the reader's language, whether a message or an answer went there."""
    return str(ANSWER_CHANNEL_LABELS.get(code) or CHANNEL_LABELS.get(code) or code)


def yuan(fen: int) -> str:
    return f"¥{fen / 100:.2f}"


def level_label(level: int) -> str:
    return str(LEVELS.get(level, level))


# --- CSV ---------------------------------------------------------------------------------------

def csv_header() -> tuple[str, ...]:
    """The column names in the reader's language; the cells below stay stable codes, to filter
    on (section, group, metric) whatever the language."""
    return (gettext("Section"), gettext("Group"), gettext("Metric"), gettext("Value"))


def _r(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def to_csv(report: AfterAction) -> str:
    """One long table (section, group, metric, value): easy to filter and to compare in a
    spreadsheet. Durations in seconds; a BOM so Excel opens the Chinese names as UTF-8."""
    _require_masked(report)
    out = io.StringIO()
    out.write("\ufeff")
    writer = SafeCsvWriter(out)  # names and texts are typed by people: no formulas
    writer.writerow(csv_header())
    s = report.summary
    for metric in ("notified", "coming", "cannot", "no_answer", "arrived", "no_shows",
                   "messages", "cost_fen"):
        writer.writerow(("summary", "", metric, getattr(s, metric)))
    writer.writerow(("summary", "", "all_roles_filled_s", _r(s.all_roles_filled_seconds)))
    for section, groups in (("delivery_sent", report.delivery_sent),
                            ("delivery_reached", report.delivery_reached),
                            ("acknowledgement", report.ack), ("arrival", report.arrival)):
        for kind, spreads in groups.items():
            for group, spread in spreads.items():
                for metric in ("count", "p50", "p90"):
                    value = getattr(spread, metric)
                    writer.writerow((f"{section}_by_{kind}", group, metric if metric == "count"
                                     else f"{metric}_s", value if metric == "count" else _r(value)))
    for role in report.roles:
        for metric in ("needed", "assigned", "arrived"):
            writer.writerow(("role", role.code, metric, getattr(role, metric)))
        writer.writerow(("role", role.code, "fill_s", _r(role.fill_seconds)))
    for item in report.messages:
        for metric in MESSAGE_METRICS:
            writer.writerow(("messages", item.channel, metric, getattr(item, metric)))
    for no_show in report.no_shows:
        writer.writerow(("no_show", no_show.team, no_show.name, no_show.eta_minutes or ""))
    for other in report.comparison[1:]:
        group = f"activation {other.activation_id} ({other.activated_at:%Y-%m-%d})"
        for metric in ("notified", "coming", "arrived", "no_shows", "cost_fen"):
            writer.writerow(("earlier_drill", group, metric, getattr(other, metric)))
        for metric, value in (("ack_p50_s", other.ack.p50), ("ack_p90_s", other.ack.p90),
                              ("arrival_p50_s", other.arrival.p50),
                              ("arrival_p90_s", other.arrival.p90),
                              ("all_roles_filled_s", other.all_roles_filled_seconds)):
            writer.writerow(("earlier_drill", group, metric, _r(value)))
    for entry in report.timeline:
        writer.writerow(("timeline", entry.kind, _local(entry.at, iso=True), entry.text))
    return out.getvalue()


# --- inline SVG charts ---------------------------------------------------------------------------

def curve_svg(points: list[dict], *, width: int = 320, height: int = 160,
              title: str = "") -> Markup:
    """Cumulative coming (solid) and cannot (dashed) against minutes since activation."""
    pad_left, pad_bottom, pad_top = 28, 20, 8
    inner_w, inner_h = width - pad_left - 6, height - pad_bottom - pad_top
    last_minute = max([p["minute"] for p in points] or [1])
    top = max([max(p["coming"], p["cannot"]) for p in points] or [1]) or 1

    def xy(point, key):
        x = pad_left + inner_w * point["minute"] / last_minute
        y = pad_top + inner_h * (1 - point[key] / top)
        return f"{x:.1f},{y:.1f}"

    def line(key):
        start = f"{pad_left},{pad_top + inner_h}"
        return " ".join([start, *(xy(p, key) for p in points)])

    label = escape(title or gettext("Answers over time"))
    return Markup(
        f'<svg class="chart curve" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{label}" preserveAspectRatio="xMidYMid meet">'
        f'<title>{label}</title>'
        f'<line class="axis" x1="{pad_left}" y1="{pad_top + inner_h}" x2="{width - 6}" '
        f'y2="{pad_top + inner_h}"/>'
        f'<line class="axis" x1="{pad_left}" y1="{pad_top}" x2="{pad_left}" '
        f'y2="{pad_top + inner_h}"/>'
        f'<text x="{pad_left - 4}" y="{pad_top + 8}" text-anchor="end">{top}</text>'
        f'<text x="{pad_left - 4}" y="{pad_top + inner_h}" text-anchor="end">0</text>'
        f'<text x="{width - 6}" y="{height - 4}" text-anchor="end">'
        f'{escape(gettext("%(min)d min", min=last_minute))}</text>'
        f'<polyline class="coming" fill="none" points="{line("coming")}"/>'
        f'<polyline class="cannot" fill="none" points="{line("cannot")}"/>'
        f'</svg>')


def bars_svg(rows: list[tuple[str, float | None, float | None]], *, width: int = 320,
             title: str = "") -> Markup:
    """Horizontal bars per group: p50 (solid) and p90 (light), in minutes."""
    bar_h, gap, label_w = 11, 8, 96
    height = max(1, len(rows)) * (2 * bar_h + gap) + 8
    top = max([v for _, a, b in rows for v in (a, b) if v is not None] or [1]) or 1
    inner = width - label_w - 84  # room for the value written after the longest bar
    parts = []
    for index, (label, p50, p90) in enumerate(rows):
        y = 4 + index * (2 * bar_h + gap)
        parts.append(f'<text x="{label_w - 4}" y="{y + bar_h + 3}" text-anchor="end">'
                     f'{escape(label[:12])}</text>')
        for offset, value, css in ((0, p50, "p50"), (bar_h, p90, "p90")):
            if value is None:
                continue
            w = max(1.0, inner * value / top)
            parts.append(f'<rect class="{css}" x="{label_w}" y="{y + offset}" width="{w:.1f}" '
                         f'height="{bar_h - 1}"/>'
                         f'<text x="{label_w + w + 3:.1f}" y="{y + offset + bar_h - 1}">'
                         f'{escape(duration(value))}</text>')
    label = escape(title)
    return Markup(f'<svg class="chart bars" viewBox="0 0 {width} {height}" role="img" '
                  f'aria-label="{label}"><title>{label}</title>{"".join(parts)}</svg>')


def comparison_rows(report: AfterAction, metric: str) -> list[tuple[str, float | None,
                                                                    float | None]]:
    rows = []
    for item in report.comparison:
        spread: Spread = getattr(item, metric)
        rows.append((f"#{item.activation_id} {item.activated_at:%m-%d}", spread.p50, spread.p90))
    return rows


def as_dict(report: AfterAction) -> dict:
    """JSON-ready form of the report (the API's answer)."""
    data = asdict(report)

    def convert(value):
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat()
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value
    return convert(data)


# --- PDF ---------------------------------------------------------------------------------------

def to_pdf(report: AfterAction) -> bytes:
    """A printable A4 report: headline, tables and the response curve (reportlab)."""
    _require_masked(report)
    from reportlab.graphics.charts.lineplots import LinePlot
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from volunteer_hub.pdf_fonts import CJK_FONT, register_fonts

    register_fonts()
    body = ParagraphStyle("body", fontName=CJK_FONT, fontSize=9, leading=12)
    heading = ParagraphStyle("heading", parent=body, fontSize=12, leading=16, spaceBefore=6)
    title = ParagraphStyle("title", parent=body, fontSize=15, leading=20)

    def table(rows, widths=None):
        t = Table([[Paragraph(escape(str(c)), body) for c in row] for row in rows],
                  colWidths=widths, repeatRows=1)
        t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        return t

    story = [Paragraph(escape(_title(report)), title),
             Paragraph(escape(_subtitle(report)), body), Spacer(1, 4 * mm)]
    story += [Paragraph(escape(gettext("Summary")), heading), table(_summary_rows(report))]
    if report.curve:
        drawing = Drawing(170 * mm, 55 * mm)
        plot = LinePlot()
        plot.x, plot.y, plot.width, plot.height = 10 * mm, 8 * mm, 150 * mm, 42 * mm
        plot.data = [[(p["minute"], p["coming"]) for p in report.curve],
                     [(p["minute"], p["cannot"]) for p in report.curve]]
        plot.lines[0].strokeColor = colors.HexColor("#1a7f37")
        plot.lines[1].strokeColor = colors.HexColor("#b42318")
        drawing.add(plot)
        story += [Paragraph(escape(gettext("Answers over time (green: coming, red: cannot)")),
                            heading), drawing]
    for heading_text, rows in _tables(report):
        story += [Paragraph(escape(heading_text), heading), table(rows)]
    story += [Paragraph(escape(gettext("Timeline")), heading),
              table([[gettext("Time"), gettext("What happened")],
                     *[[_local(e.at), e.text] for e in report.timeline[:TIMELINE_SHOWN]]],
                    widths=[35 * mm, 135 * mm])]
    hidden = len(report.timeline) - TIMELINE_SHOWN
    if hidden > 0:
        story.append(Paragraph(escape(gettext(
            "%(num)d more entries are in the CSV export.", num=hidden)), body))
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, title=_title(report),
                                 leftMargin=18 * mm, rightMargin=18 * mm,
                                 topMargin=15 * mm, bottomMargin=15 * mm)
    document.build(story)
    return buffer.getvalue()


def _local(moment: datetime | None, *, iso: bool = False) -> str:
    """The site's wall-clock time ('2026-12-05 15:01:36'), or ISO 8601 with its offset."""
    from zoneinfo import ZoneInfo

    if moment is None:
        return "-"
    zone = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "Asia/Shanghai")
    local = moment.astimezone(zone)
    return local.isoformat(timespec="seconds") if iso else local.strftime("%Y-%m-%d %H:%M:%S")


def _title(report: AfterAction) -> str:
    kind = gettext("Drill") if report.is_drill else gettext("Incident")
    return gettext("After-action report: %(plan)s (%(kind)s #%(id)d)", plan=report.plan_name,
                   kind=kind, id=report.activation_id)


def _subtitle(report: AfterAction) -> str:
    return " · ".join(filter(None, [level_label(report.level), _local(report.activated_at),
                                    report.incident_address]))


def _summary_rows(report: AfterAction) -> list[list[str]]:
    s = report.summary
    return [[gettext("Notified"), gettext("Coming"), gettext("Cannot come"),
             gettext("No answer"), gettext("Arrived"), gettext("No-shows"),
             gettext("All roles filled after")],
            [s.notified, s.coming, s.cannot, s.no_answer, s.arrived, s.no_shows,
             duration(s.all_roles_filled_seconds)]]


def _spread_rows(groups: dict[str, dict[str, Spread]], first: str) -> list[list[str]]:
    rows = [[first, gettext("Count"), "p50", "p90"]]
    for kind, spreads in groups.items():
        for group, spread in spreads.items():
            label = (channel_label(group) if kind == "channel"
                     else gettext("Team: %(name)s", name=group))
            rows.append([label, spread.count, duration(spread.p50), duration(spread.p90)])
    return rows


def _tables(report: AfterAction) -> list[tuple[str, list[list]]]:
    """The report's tables, shared by the PDF (the HTML template lays them out itself)."""
    tables = [
        (gettext("Delivery: until sent"), _spread_rows(report.delivery_sent,
                                                       gettext("Channel / team"))),
        (gettext("Delivery: until it reached the person"),
         _spread_rows(report.delivery_reached, gettext("Channel / team"))),
        (gettext("Acknowledgement (from notification to first answer)"),
         _spread_rows(report.ack, gettext("Answer channel / team"))),
        (gettext("Arrival (from notification to arrival)"),
         _spread_rows(report.arrival, gettext("Answer channel / team"))),
        (gettext("Roles"), [[gettext("Role"), gettext("Needed"), gettext("Assigned"),
                             gettext("Arrived"), gettext("Filled after")]]
         + [[f"{r.label_zh} / {r.label_en}", r.needed, r.assigned, r.arrived,
             duration(r.fill_seconds)] for r in report.roles]),
        (gettext("No-shows"), [[gettext("Name"), gettext("Team"), gettext("ETA (min)")]]
         + [[n.name, n.team, n.eta_minutes or "-"] for n in report.no_shows]),
        (gettext("Messages and cost"), [[gettext("Channel"), gettext("Messages"),
                                         gettext("Sent"), gettext("Delivered"),
                                         gettext("Failed"), gettext("Cost")]]
         + [[channel_label(m.channel), m.messages, m.sent, m.delivered, m.failed,
             yuan(m.cost_fen)]
            for m in report.messages]),
        (gettext("Compared with earlier drills of this plan"), _comparison_rows(report)),
    ]
    return tables


def _comparison_rows(report: AfterAction) -> list[list]:
    rows = [[gettext("Activation"), gettext("Notified"), gettext("Coming"),
             gettext("Arrived"), gettext("No-shows"), gettext("Answer p50 / p90"),
             gettext("Arrival p50 / p90"), gettext("All roles filled"), gettext("Cost")]]
    for s in report.comparison:
        rows.append([f"#{s.activation_id} {_local(s.activated_at)[:10]}"
                     + ("" if s.is_drill else f" ({gettext('real')})"),
                     s.notified, s.coming, s.arrived, s.no_shows,
                     f"{duration(s.ack.p50)} / {duration(s.ack.p90)}",
                     f"{duration(s.arrival.p50)} / {duration(s.arrival.p90)}",
                     duration(s.all_roles_filled_seconds), yuan(s.cost_fen)])
    return rows
