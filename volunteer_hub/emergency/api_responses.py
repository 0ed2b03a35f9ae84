"""Emergency API, responses part: one-tap answers, my alerts, assignment, roll call,
well-being roll call. Routes attach to the emergency API blueprint (api.py imports this)."""
from __future__ import annotations

from flask import current_app, request

from volunteer_hub.accounts.auth import api_user
from volunteer_hub.common_schemas import PageArgsSchema
from volunteer_hub.db import db, transaction
from volunteer_hub.emergency import assignment, responses, rollcall, wellbeing
from volunteer_hub.emergency.activation import get_activation
from volunteer_hub.emergency.api import blp
from volunteer_hub.emergency.models import WellbeingCheck
from volunteer_hub.emergency.schemas_responses import (
    AnswerResultSchema,
    AnswerSchema,
    ArrivalTokenSchema,
    ArriveSchema,
    HandAssignSchema,
    MyAlertPageSchema,
    MyAlertSchema,
    ReplanResultSchema,
    ResponderSchema,
    RespondPageSchema,
    RollCallSchema,
    WellbeingAssignSchema,
    WellbeingContactSchema,
    WellbeingListSchema,
    WellbeingOutcomeSchema,
    WellbeingSummarySchema,
    answer_view,
    call_out_view,
    my_alert_view,
    responder_view,
)
from volunteer_hub.errors import NotFound
from volunteer_hub.idempotency import idempotent
from volunteer_hub.pagination import paginate

# --- one-tap answers (no login: the signed token is the credential) --------------------------


@blp.route("/respond/<token>", methods=["GET"])
@blp.response(200, RespondPageSchema)
def respond_read(token):
    """The call-out and the current answer behind a one-tap link (no login)."""
    responder = responses.responder_from_token(token)
    return {"activation": call_out_view(responder.activation),
            "responder": answer_view(responder)}


def _link_scope() -> str | None:
    """Idempotency keys of a one-tap answer belong to the link's responder, not to the
    phone's address (which changes between a lost reply and its retry)."""
    parts = responses.token_parts(request.view_args["token"], current_app.config["SECRET_KEY"])
    return None if parts is None else f"responder:{parts.responder_id}"


@blp.route("/respond/<token>", methods=["POST"])
@blp.arguments(AnswerSchema)
@blp.response(200, AnswerResultSchema)
@idempotent(scope=_link_scope)
def respond(data, token):
    """Answer (or change the answer) through a one-tap link: coming with an ETA, or cannot.

    Repeating an answer is harmless: it is recorded again (one more history entry, a later
    answer time). With an `Idempotency-Key`, a retry of a request whose reply was lost
    returns the first reply (header `Idempotent-Replayed: true`) and records nothing; the
    same key with another body is a 409 `IDEMPOTENCY_KEY_REUSED`. Plain answers without a
    key are served by the fast lane in front of Flask (emergency/fast_answer.py) with the
    same reply."""
    with transaction():
        return answer_view(responses.answer_by_token(token, data["answer"],
                                                     data.get("eta_minutes"), channel="link"))


# --- my alerts (logged-in volunteer) ---------------------------------------------------------

@blp.route("/my/alerts", methods=["GET"])
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, MyAlertPageSchema)
def my_alerts(args):
    """The caller's call-outs, newest first, with their answer, role and assembly point."""
    page = paginate(responses.my_responders(api_user()), args["page"], args["page_size"])
    return {"items": [my_alert_view(r) for r in page["items"]],
            "pagination": page["pagination"]}


@blp.route("/my/alerts/<int:responder_id>/answer", methods=["POST"])
@blp.arguments(AnswerSchema)
@blp.response(200, MyAlertSchema)
@idempotent
def my_alert_answer(data, responder_id):
    """Answer one of the caller's call-outs from the app."""
    with transaction():
        responder = responses.get_my_responder(responder_id, by=api_user())
        responses.answer(responder, data["answer"], data.get("eta_minutes"), channel="app")
        return my_alert_view(responder)


# --- assignment (coordinator) ----------------------------------------------------------------

@blp.route("/activations/<int:activation_id>/assign", methods=["POST"])
@blp.response(200, ReplanResultSchema)
def replan(activation_id):
    """Re-plan: seat coming responders in the open seats (those seated stay)."""
    with transaction():
        user = api_user()
        activation = get_activation(activation_id, by=user)
        changes = assignment.replan(activation, by=user)
        return {"changes": [vars(c) for c in changes]}


@blp.route("/activations/<int:activation_id>/responders", methods=["GET"])
@blp.response(200, RollCallSchema)
def roll_call(activation_id):
    """Everyone coming or deployed, and who is not yet accounted for."""
    user = api_user()
    activation = get_activation(activation_id, by=user)
    return {"responders": [responder_view(r) for r in rollcall.roll_call(activation, by=user)],
            "unaccounted": [{"responder": responder_view(u.responder), "missing": u.missing}
                            for u in rollcall.unaccounted(activation)]}


@blp.route("/activations/<int:activation_id>/responders/<int:responder_id>/role",
           methods=["PUT"])
@blp.arguments(HandAssignSchema)
@blp.response(200, ResponderSchema)
def assign_by_hand(data, activation_id, responder_id):
    """Put a coming responder in a role by hand (they must qualify)."""
    with transaction():
        user = api_user()
        activation = get_activation(activation_id, by=user)
        responder = assignment.assign_by_hand(activation, responder_id, data["role_id"],
                                              assembly_point=data["assembly_point"], by=user)
        return responder_view(responder)


@blp.route("/activations/<int:activation_id>/responders/<int:responder_id>/role",
           methods=["DELETE"])
@blp.response(200, ResponderSchema)
def unassign_by_hand(activation_id, responder_id):
    """Take a responder out of their role; they stay on standby."""
    with transaction():
        user = api_user()
        activation = get_activation(activation_id, by=user)
        return responder_view(assignment.unassign_by_hand(activation, responder_id, by=user))


# --- roll call -------------------------------------------------------------------------------

@blp.route("/activations/<int:activation_id>/arrival-token", methods=["GET"])
@blp.response(200, ArrivalTokenSchema)
def arrival_token(activation_id):
    """A fresh arrival QR token for the coordinator's screen (a new one every minute)."""
    user = api_user()
    activation = get_activation(activation_id, by=user)
    token = rollcall.arrival_token(activation, by=user)
    return {"token": token, "url": rollcall.arrival_url(activation, token),
            "valid_minutes": rollcall.arrival_valid_minutes()}


@blp.route("/activations/<int:activation_id>/arrive", methods=["POST"])
@blp.arguments(ArriveSchema)
@blp.response(200, AnswerResultSchema)
@idempotent
def arrive(data, activation_id):
    """The caller scanned the coordinator's QR code at the assembly point."""
    with transaction():
        activation = rollcall.get_activation(activation_id)
        return answer_view(rollcall.arrive_by_qr(activation, data["t"], by=api_user()))


def _responder_action(activation_id: int, responder_id: int, action) -> dict:
    with transaction():
        user = api_user()
        activation = rollcall.get_activation(activation_id)
        responder = rollcall.responder_in(activation, responder_id)
        if responder.user_id != user.id:
            get_activation(activation_id, by=user)  # staff only beyond this point
        return responder_view(action(activation, responder, user))


@blp.route("/activations/<int:activation_id>/responders/<int:responder_id>/arrival",
           methods=["POST"])
@blp.response(200, ResponderSchema)
def mark_arrived(activation_id, responder_id):
    """The coordinator marks a responder arrived."""
    with transaction():
        user = api_user()
        activation = get_activation(activation_id, by=user)
        return responder_view(rollcall.mark_arrived(activation, responder_id, by=user))


@blp.route("/activations/<int:activation_id>/responders/<int:responder_id>/check-out",
           methods=["POST"])
@blp.response(200, ResponderSchema)
def check_out(activation_id, responder_id):
    """Check a responder out (the responder or the coordinator; also after stand-down)."""
    return _responder_action(activation_id, responder_id,
                             lambda a, r, user: rollcall.check_out(r, by=user))


@blp.route("/activations/<int:activation_id>/responders/<int:responder_id>/safe",
           methods=["POST"])
@blp.response(200, ResponderSchema)
def confirm_safe(activation_id, responder_id):
    """Confirm a responder is safe (the responder or the coordinator)."""
    return _responder_action(activation_id, responder_id,
                             lambda a, r, user: rollcall.confirm_safe(r, by=user))


# --- well-being roll call --------------------------------------------------------------------

def _wellbeing_list(activation) -> dict:
    user = api_user()
    checks = db.session.execute(wellbeing.checks_query(activation, by=user)).unique().scalars()
    return {"items": [wellbeing.summary(c) for c in checks],
            "counts": wellbeing.counts(activation)}


@blp.route("/activations/<int:activation_id>/wellbeing-checks", methods=["GET"])
@blp.response(200, WellbeingListSchema)
def wellbeing_checks(activation_id):
    """Checks of the call-out: all of them for staff, the caller's own for a volunteer."""
    activation = rollcall.get_activation(activation_id)
    user = api_user()
    if not wellbeing._is_staff(user, activation):
        rollcall.own_responder(activation, user)
    return _wellbeing_list(activation)


@blp.route("/activations/<int:activation_id>/wellbeing-checks", methods=["POST"])
@blp.response(201, WellbeingListSchema)
@idempotent
def start_wellbeing(activation_id):
    """Start (or extend) the well-being roll call of the affected area."""
    with transaction():
        user = api_user()
        activation = get_activation(activation_id, by=user)
        wellbeing.start(activation, by=user)
        return _wellbeing_list(activation)


def _check(check_id: int) -> WellbeingCheck:
    check = db.session.get(WellbeingCheck, check_id)
    if check is None:
        raise NotFound()
    return check


@blp.route("/wellbeing-checks/<int:check_id>", methods=["GET"])
@blp.response(200, WellbeingContactSchema)
def wellbeing_contact(check_id):
    """How to reach the person of one check (masked name, address, phone); the read is
    logged in the beneficiary's access log."""
    with transaction():
        return wellbeing.contact_view(_check(check_id), by=api_user())


@blp.route("/wellbeing-checks/<int:check_id>/outcome", methods=["POST"])
@blp.arguments(WellbeingOutcomeSchema)
@blp.response(200, WellbeingSummarySchema)
@idempotent
def wellbeing_outcome(data, check_id):
    """Record safe / needs help / unreachable, with a note (stored encrypted)."""
    with transaction():
        check = wellbeing.record(_check(check_id), data["status"], data["note"], by=api_user())
        return wellbeing.summary(check)


@blp.route("/wellbeing-checks/<int:check_id>/responder", methods=["PUT"])
@blp.arguments(WellbeingAssignSchema)
@blp.response(200, WellbeingSummarySchema)
def wellbeing_reassign(data, check_id):
    """Give a check to another responder, or to the organizers (null)."""
    with transaction():
        check = wellbeing.reassign(_check(check_id), data["responder_id"], by=api_user())
        return wellbeing.summary(check)

