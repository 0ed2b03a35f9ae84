"""The escalation ladder: after N minutes with a role still short, widen the call.

Steps run in order. A step whose time has come is taken only while some role is short
(fewer coming-and-assigned responders than needed); when every role is full the ladder waits,
and goes on if someone drops out later.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from volunteer_hub.accounts.models import RoleGrant, User
from volunteer_hub.db import db, utcnow
from volunteer_hub.emergency.activation import (
    call_members,
    log_event,
    message_locale,
    message_subject,
    message_texts,
    responder_counts,
    send_alerts,
)
from volunteer_hub.emergency.models import Activation, Responder
from volunteer_hub.notify import services as notify
from volunteer_hub.orgs.models import Org


def shortfall(activation: Activation) -> dict[str, tuple[int, int]]:
    """Roles still short: code -> (coming and assigned, needed)."""
    filled = dict(db.session.execute(
        select(Responder.role_id, func.count()).where(
            Responder.activation_id == activation.id, Responder.answer == "coming",
            Responder.role_id.is_not(None)).group_by(Responder.role_id)).all())
    return {role.code: (filled.get(role.id, 0), role.needed) for role in activation.roles
            if filled.get(role.id, 0) < role.needed}


def run_escalation(activation: Activation, now: datetime | None = None) -> int:
    """Take the steps that are due while a role is short; returns how many were taken."""
    now = now or utcnow()
    if activation.status != "active":
        return 0
    steps = activation.escalation or []
    elapsed = now - activation.activated_at
    taken = 0
    while activation.escalation_steps_taken < len(steps):
        index = activation.escalation_steps_taken
        step = steps[index]
        if elapsed < timedelta(minutes=step["after_minutes"]):
            break
        short = shortfall(activation)
        if not short:
            break
        detail = STEPS[step["action"]](activation, step, index, short)
        activation.escalation_steps_taken = index + 1
        log_event(activation, "escalation", {
            "step": index, "action": step["action"], "value": step.get("value"),
            "after_minutes": step["after_minutes"],
            "short": {code: list(pair) for code, pair in short.items()}, **detail}, at=now)
        taken += 1
    db.session.flush()
    return taken


def escalate_due(now: datetime | None = None) -> int:
    """Run the ladder of every active activation; returns the number of steps taken."""
    now = now or utcnow()
    # Row locks (PostgreSQL) make a simultaneous stand-down wait for this check to commit,
    # so no step is taken on a call-out that has just been stood down.
    activations = db.session.execute(
        select(Activation).where(Activation.status == "active").order_by(Activation.id)
        .with_for_update(skip_locked=True, of=Activation)).scalars().all()
    return sum(run_escalation(activation, now) for activation in activations)


# --- the actions ------------------------------------------------------------------------------

def _renotify(activation: Activation, step: dict, index: int, short: dict) -> dict:
    """A new round of alerts to everyone who has not answered, under a new event key."""
    silent = (Responder.activation_id == activation.id) & (Responder.answer == "none")
    notified = db.session.execute(
        update(Responder).where(silent).values(notify_round=Responder.notify_round + 1)
        .execution_options(synchronize_session="fetch")).rowcount
    rounds = db.session.execute(select(Responder.notify_round).distinct().where(silent)
                                .order_by(Responder.notify_round)).scalars().all()
    for round_ in rounds:
        send_alerts(activation, silent & (Responder.notify_round == round_), round_=round_)
    return {"notified": notified}


def _next_team(activation: Activation, step: dict, index: int, short: dict) -> dict:
    team_id = step.get("value")
    if team_id is None or team_id in activation.team_ids_called:
        return {"notified": 0}
    activation.team_ids_called = [*activation.team_ids_called, team_id]
    return {"team_id": team_id, "notified": call_members(activation, [team_id])}


def _widen_radius(activation: Activation, step: dict, index: int, short: dict) -> dict:
    new_radius = step.get("value")
    if activation.radius_km is None or new_radius is None or new_radius <= activation.radius_km:
        return {"notified": 0}
    activation.radius_km = float(new_radius)
    db.session.flush()  # the targeting query reads the new radius
    return {"radius_km": activation.radius_km,
            "notified": call_members(activation, list(activation.team_ids_called))}


def _lower_level(activation: Activation, step: dict, index: int, short: dict) -> dict:
    activation.skill_level_relaxed_by += 1
    return {"skill_level_relaxed_by": activation.skill_level_relaxed_by}


def _page_coordinator(activation: Activation, step: dict, index: int, short: dict) -> dict:
    """Page the activating coordinator and the coordinators over the activation's org."""
    counts = responder_counts(activation)
    short_text = ", ".join(f"{code} {filled}/{needed}"
                           for code, (filled, needed) in short.items())
    paged = 0
    for user in _coordinators(activation):
        locale = message_locale(user.locale)
        body = message_texts(locale)["page"].format(
            plan=activation.plan.name, short=short_text, notified=counts["notified"],
            coming=counts["coming"])
        if activation.is_drill:
            body = message_texts(locale)["drill"] + body
        notify.enqueue(f"emergency:{activation.id}:page:{index}", user, body=body,
                       subject=message_subject(activation, user.locale),
                       channels=("sms", "email", "inbox"), urgent=True, locale=locale)
        paged += 1
    return {"paged": paged}


def _coordinators(activation: Activation) -> list[User]:
    org = db.session.get(Org, activation.org_id)
    ids = set(org.ancestor_ids() or [org.id])
    user_ids = set(db.session.execute(select(RoleGrant.user_id).where(
        RoleGrant.org_id.in_(ids), RoleGrant.role == "coordinator")).scalars())
    if activation.activated_by_id is not None:
        user_ids.add(activation.activated_by_id)
    if not user_ids:
        return []
    return list(db.session.execute(select(User).where(
        User.id.in_(user_ids), User.active.is_(True)).order_by(User.id)).scalars())


STEPS = {
    "renotify": _renotify,
    "next_team": _next_team,
    "widen_radius": _widen_radius,
    "lower_level": _lower_level,
    "page_coordinator": _page_coordinator,
}
