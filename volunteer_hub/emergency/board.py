"""The coordinator's live board: one snapshot of an activation, cheap to recompute.

`snapshot(activation)` answers what the board shows: who was notified and reached, who is
coming, assigned, arrived, checked out and safe; each role's fill; the response curve since
activation; the escalation steps taken; `version`, a digest of all that. `fingerprint()` is
two aggregate queries on the activation's own rows that change whenever people or the
timeline do, so the live stream (views_board.py) only rebuilds a snapshot when something
happened (or, for delivery receipts, every DELIVERY_REFRESH seconds), and a small cache shares
one snapshot between every coordinator watching the same activation.
"""
from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import case, func, select

from volunteer_hub.db import db, utcnow
from volunteer_hub.emergency.models import (
    ESCALATION_ACTIONS, LEVEL_COLOURS, Activation, ActivationEvent, ActivationRole, Responder,
    ResponseChange,
)
from volunteer_hub.notify import registry
from volunteer_hub.notify.models import OutboxMessage

# The curve keeps at most this many points: a day-long incident is drawn in wider steps.
CURVE_MAX_POINTS = 180
# Event kinds that are escalation steps (escalation.py logs one of these per step taken).
ESCALATION_KINDS = frozenset(ESCALATION_ACTIONS) | {"escalated", "escalation"}


def alert_prefix(activation_id: int) -> str:
    return f"emergency:{activation_id}:alert:"


def as_utc(moment: datetime | None) -> datetime | None:
    """Outbox times are naive UTC, emergency times aware UTC: compare them as aware."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- counts ------------------------------------------------------------------------------------

def responder_counts(activation_id: int) -> dict[str, int]:
    """notified / coming / cannot / no_answer / assigned / arrived / checked_out / safe."""
    r = Responder
    row = db.session.execute(
        select(func.count(r.id),
               func.sum(case((r.answer == "coming", 1), else_=0)),
               func.sum(case((r.answer == "cannot", 1), else_=0)),
               func.sum(case((r.answer == "none", 1), else_=0)),
               func.sum(case((r.role_id.isnot(None), 1), else_=0)),
               func.sum(case((r.arrived_at.isnot(None), 1), else_=0)),
               func.sum(case((r.checked_out_at.isnot(None), 1), else_=0)),
               func.sum(case((r.safe_confirmed_at.isnot(None), 1), else_=0)))
        .where(r.activation_id == activation_id)).one()
    keys = ("notified", "coming", "cannot", "no_answer", "assigned", "arrived",
            "checked_out", "safe")
    return {key: int(value or 0) for key, value in zip(keys, row)}


def _reached_condition():
    """A message reached the person, as each channel declares it (an unread inbox row is
    'delivered' the moment it commits, which says nothing about the person)."""
    return registry.reached_sql(OutboxMessage)


def delivery_counts(activation_id: int) -> dict:
    """People reached by the alert, and per channel how its messages stand."""
    m = OutboxMessage
    prefix = alert_prefix(activation_id)
    by_alert = m.event_key.startswith(prefix, autoescape=True)
    reached = db.session.execute(
        select(func.count(func.distinct(m.recipient_id)))
        .where(by_alert, _reached_condition())).scalar_one()
    channels: dict[str, dict[str, int]] = {}
    for channel, status, count in db.session.execute(
            select(m.channel, m.status, func.count(m.id)).where(by_alert)
            .group_by(m.channel, m.status)):
        stats = channels.setdefault(channel, {"queued": 0, "sent": 0, "delivered": 0,
                                              "failed": 0})
        bucket = {"pending": "queued", "sending": "queued", "dead": "failed"}.get(status, status)
        stats[bucket] = stats.get(bucket, 0) + count
    return {"delivered": int(reached), "channels": channels}


def role_fill(activation: Activation) -> list[dict]:
    """Per role: needed, assigned (still coming) and arrived, short = needed - assigned."""
    r = Responder
    rows = db.session.execute(
        select(r.role_id, func.count(r.id),
               func.sum(case((r.arrived_at.isnot(None), 1), else_=0)))
        .where(r.activation_id == activation.id, r.role_id.isnot(None))
        .group_by(r.role_id)).all()
    filled = {role_id: (int(assigned), int(arrived or 0)) for role_id, assigned, arrived in rows}
    roles = db.session.execute(
        select(ActivationRole).where(ActivationRole.activation_id == activation.id)
        .order_by(ActivationRole.position, ActivationRole.id)).scalars()
    result = []
    for role in roles:
        assigned, arrived = filled.get(role.id, (0, 0))
        result.append({
            "id": role.id, "code": role.code, "label_zh": role.label_zh,
            "label_en": role.label_en, "needed": role.needed, "assigned": assigned,
            "arrived": arrived, "short": max(0, role.needed - assigned),
            "filled_at": _iso(role.filled_at),
        })
    return result


# --- the response curve ------------------------------------------------------------------------

def response_curve(activation: Activation, *, until: datetime | None = None) -> list[dict]:
    """Cumulative coming / cannot at the end of each minute since activation.

    Answers can change, so the curve replays every answer in order: a volunteer who said
    coming and then cannot moves from one line to the other at the minute of the change.
    """
    start = as_utc(activation.activated_at)
    end = as_utc(until or activation.stood_down_at or utcnow())
    minutes = max(1, math.ceil((end - start).total_seconds() / 60))
    step = -(-minutes // CURVE_MAX_POINTS)  # minutes per point, rounded up
    changes = db.session.execute(
        select(ResponseChange.responder_id, ResponseChange.answer, ResponseChange.at)
        .join(Responder, Responder.id == ResponseChange.responder_id)
        .where(Responder.activation_id == activation.id)
        .order_by(ResponseChange.at, ResponseChange.id)).all()
    current: dict[int, str] = {}
    totals = {"coming": 0, "cannot": 0}
    points, index = [], 0
    for bucket_end in range(step, minutes + step, step):
        while index < len(changes):
            responder_id, answer, at = changes[index]
            if (as_utc(at) - start).total_seconds() >= bucket_end * 60:
                break
            previous = current.get(responder_id)
            if previous in totals:
                totals[previous] -= 1
            if answer in totals:
                totals[answer] += 1
            current[responder_id] = answer
            index += 1
        points.append({"minute": min(bucket_end, minutes), **totals})
    return points


# --- escalation --------------------------------------------------------------------------------

def escalation_steps(activation_id: int) -> list[dict]:
    events = db.session.execute(
        select(ActivationEvent).where(ActivationEvent.activation_id == activation_id,
                                      ActivationEvent.kind.in_(ESCALATION_KINDS))
        .order_by(ActivationEvent.at, ActivationEvent.id)).scalars()
    # Codes only: snapshots are shared between viewers, each page labels them in its language.
    return [{"at": _iso(e.at), "action": escalation_action(e), "detail": e.detail or {}}
            for e in events]


def escalation_action(event: ActivationEvent) -> str:
    detail = event.detail or {}
    return detail.get("action") or event.kind


# --- the snapshot ------------------------------------------------------------------------------

def snapshot(activation: Activation, *, now: datetime | None = None) -> dict:
    """Everything the board shows, as plain JSON-ready data; `version` is its digest."""
    counts = responder_counts(activation.id)
    delivery = delivery_counts(activation.id)
    counts["delivered"] = delivery["delivered"]
    data = {
        "activation": {
            "id": activation.id, "plan_id": activation.plan_id,
            "plan_name": activation.plan.name if activation.plan else "",
            "level": activation.level, "colour": LEVEL_COLOURS.get(activation.level),
            "is_drill": activation.is_drill, "status": activation.status,
            "activated_at": _iso(activation.activated_at),
            "stood_down_at": _iso(activation.stood_down_at),
            "incident_address": activation.incident_address,
        },
        "counts": counts,
        "channels": delivery["channels"],
        "roles": role_fill(activation),
        "curve": response_curve(activation, until=now),
        "escalations": escalation_steps(activation.id),
    }
    data["version"] = content_version(data)
    return data


def fingerprint(activation_id: int) -> str:
    """Cheap (indexed by activation): changes with every answer, role, arrival, check-out,
    safety confirmation, timeline event and the status. Delivery receipts do not change it:
    counting them scans the outbox, so the cache refreshes them every DELIVERY_REFRESH s."""
    r = Responder
    people = db.session.execute(
        select(func.count(r.id), func.count(r.first_answered_at),
               func.sum(case((r.answer == "coming", 1), else_=0)),
               func.sum(case((r.answer == "cannot", 1), else_=0)), func.max(r.answered_at),
               func.count(r.role_id), func.coalesce(func.sum(r.role_id), 0),
               func.count(r.arrived_at), func.count(r.checked_out_at),
               func.count(r.safe_confirmed_at))
        .where(r.activation_id == activation_id)).one()
    events = db.session.execute(
        select(func.count(ActivationEvent.id), func.max(ActivationEvent.id))
        .where(ActivationEvent.activation_id == activation_id)).one()
    status = db.session.execute(
        select(Activation.status).where(Activation.id == activation_id)).scalar_one_or_none()
    parts = [*people, *events, status]
    return "-".join("" if part is None else str(part) for part in parts)


def content_version(data: dict) -> str:
    """What the browser compares: a digest of everything the board shows."""
    shown = {key: value for key, value in data.items() if key != "version"}
    encoded = json.dumps(shown, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]


DELIVERY_REFRESH = 10.0  # seconds a snapshot may be reused when only deliveries could change
KEY_TTL = 1.0  # seconds one change check serves every open board of an activation


@dataclass
class _Entry:
    key: str
    checked: float  # monotonic time of the last change check
    built: float  # monotonic time the snapshot was built
    data: dict


class SnapshotCache:
    """The last snapshot per activation, shared by every open board in this process: ten
    coordinators watching one incident cost one change check a second and one rebuild per
    change, not ten of each."""

    def __init__(self, size: int = 32):
        self.size = size
        self.entries: OrderedDict[int, _Entry] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, activation: Activation, *, key_ttl: float = 0.0) -> dict:
        """The snapshot, checked for changes unless checked less than `key_ttl` s ago (the
        event streams pass KEY_TTL; a page or API call always checks)."""
        moment = time.monotonic()
        with self.lock:
            entry = self.entries.get(activation.id)
        if entry is not None and moment - entry.checked < key_ttl:
            return entry.data
        key = fingerprint(activation.id)
        if entry is not None and entry.key == key and moment - entry.built < DELIVERY_REFRESH:
            entry.checked = moment
            return entry.data
        data = snapshot(activation)
        with self.lock:
            self.entries[activation.id] = _Entry(key, moment, moment, data)
            self.entries.move_to_end(activation.id)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return data

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


cache = SnapshotCache()


def _iso(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat() if moment is not None else None
