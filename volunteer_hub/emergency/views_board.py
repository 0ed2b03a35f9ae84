"""Pages: the coordinator's live board (with its event stream and JSON for polling) and the
after-action report (HTML, CSV, PDF). Attached to the emergency blueprint by views.py.

The event stream is bounded: a response lasts EMERGENCY_SSE_SECONDS (default 30) and the
browser's EventSource reconnects by itself, so a board never pins a gunicorn sync worker for
long. Between two looks at the database the stream holds no session and no transaction.
Each open stream still occupies a sync worker while it lasts: with few sync workers run
gunicorn with threads (`--worker-class gthread --threads 8`), or set EMERGENCY_SSE_SECONDS=0,
which answers 204 and makes the page poll board.json every 5 s instead.
"""
from __future__ import annotations

import json
import time

from flask import Response, current_app, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_login import current_user
from werkzeug.routing import BuildError

from volunteer_hub.accounts.views import role_required
from volunteer_hub.db import db
from volunteer_hub.emergency import board, report
from volunteer_hub.emergency.models import ESCALATION_ACTIONS, LEVEL_COLOURS, Activation
from volunteer_hub.emergency.views import blp
from volunteer_hub.notify.models import CHANNEL_LABELS

SSE_SECONDS = 30
SSE_POLL_SECONDS = 2.0
SSE_HEARTBEAT_SECONDS = 15.0


def _activation(activation_id: int) -> Activation:
    from volunteer_hub.emergency.activation import get_activation

    return get_activation(activation_id, by=current_user)


def optional_url(endpoint: str, **values) -> str | None:
    """A link to another helper's page when that page exists (it may not be built yet)."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def _labels() -> dict:
    """Words the board script needs, in the viewer's language (snapshots are shared)."""
    from flask_babel import gettext

    return {
        "escalations": {code: str(label) for code, label in ESCALATION_ACTIONS.items()},
        "live": gettext("Live"), "polling": gettext("Updating every few seconds"),
        "reconnecting": gettext("Reconnecting…"), "offline": gettext("Offline: retrying"),
        "updated": gettext("Updated"), "assigned": gettext("assigned"),
        "arrived": gettext("arrived"), "short": gettext("short"),
        "no_escalation": gettext("No escalation step taken."),
        "coming": gettext("Coming"), "cannot": gettext("Cannot come"),
        "active": gettext("Active"), "stood_down": gettext("Stood down"),
        "chinese": str(get_locale()).startswith("zh"),
        "channels": {code: str(label) for code, label in CHANNEL_LABELS.items()},
        "stale": gettext("The figures may be out of date: last updated at %(time)s.",
                         time="{time}"),
        "ended": gettext("This call-out ended at %(time)s. Nobody more is being called.",
                         time="{time}"),
        "minutes": gettext("min"),
        "time_zone": current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "Asia/Shanghai",
        "lang": "zh-CN" if str(get_locale()).startswith("zh") else "en-GB",
    }


def _links(activation) -> list[tuple[str, str]]:
    """Where the coordinator goes from the board: (label, address), the pages they may use."""
    from flask_babel import gettext

    from volunteer_hub.accounts.permissions import can

    rollcall = url_for("emergency.rollcall_page", activation_id=activation.id)
    links = [(gettext("Roll call"), rollcall),
             (gettext("Roles and assignment"), rollcall + "#responders")]
    if can(current_user, "emergency.wellbeing", activation.org):
        links.append((gettext("Well-being roll call"),
                      url_for("emergency.wellbeing_page", activation_id=activation.id)))
    if activation.status == "active" and can(current_user, "emergency.activate",
                                             activation.org):
        links.append((gettext("Stand down"),
                      url_for("emergency.stand_down", activation_id=activation.id)))
    links.append((gettext("After-action report"),
                  url_for("emergency.report_page", activation_id=activation.id)))
    return links


def local_time(iso: str) -> str:
    """HH:MM in the site's time zone, for a snapshot's ISO timestamps."""
    from datetime import datetime

    from flask_babel import format_time

    return format_time(datetime.fromisoformat(iso), "HH:mm")


@blp.route("/activations/<int:activation_id>/board", endpoint="board")
@role_required
def board_page(activation_id: int):
    """The live board of one activation, usable on a phone."""
    activation = _activation(activation_id)
    data = board.cache.get(activation)
    return render_template(
        "emergency/board.html", activation=activation, data=data, labels=_labels(),
        colour=LEVEL_COLOURS.get(activation.level), level_label=report.level_label,
        curve=report.curve_svg(data["curve"]), optional_url=optional_url, local_time=local_time,
        ESCALATION_ACTIONS=ESCALATION_ACTIONS, CHANNEL_LABELS=CHANNEL_LABELS,
        links=_links(activation))


@blp.route("/activations/<int:activation_id>/board.json")
@role_required
def board_json(activation_id: int):
    """The board's snapshot for the page's polling fallback (session cookie, no token)."""
    data = board.cache.get(_activation(activation_id))
    response = current_app.json.response(data)
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/activations/<int:activation_id>/events")
@role_required
def board_events(activation_id: int):
    """Server-sent events: a snapshot now and whenever it changes, heartbeats, then close."""
    _activation(activation_id)  # 404 outside the caller's scope, before streaming starts
    config = current_app.config
    configured = config.get("EMERGENCY_SSE_SECONDS")
    lifetime = SSE_SECONDS if configured in (None, "") else float(configured)
    if lifetime <= 0:  # streaming switched off: 204 tells EventSource to stop; the page polls
        return Response(status=204)
    poll = float(config.get("EMERGENCY_SSE_POLL_SECONDS") or SSE_POLL_SECONDS)
    heartbeat = float(config.get("EMERGENCY_SSE_HEARTBEAT_SECONDS") or SSE_HEARTBEAT_SECONDS)
    seen = request.headers.get("Last-Event-ID")
    app = current_app._get_current_object()
    db.session.rollback()  # end the request's transaction: none stays open while streaming
    return Response(_stream(app, activation_id, seen, lifetime, poll, heartbeat),
                    mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _stream(app, activation_id: int, seen: str | None, lifetime: float, poll: float,
            heartbeat: float):
    deadline = time.monotonic() + lifetime
    yield f"retry: {int(poll * 1000) + 1000}\n\n"
    last_write = time.monotonic()
    while True:
        with app.app_context():  # a fresh session per look, removed when the context ends
            activation = db.session.get(Activation, activation_id)
            data = (board.cache.get(activation, key_ttl=board.KEY_TTL)
                    if activation is not None else None)
        if data is None:
            yield "event: gone\ndata: {}\n\n"
            return
        if data["version"] != seen:
            seen = data["version"]
            payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
            yield f"id: {seen}\nevent: snapshot\ndata: {payload}\n\n"
            last_write = time.monotonic()
        elif time.monotonic() - last_write >= heartbeat:
            yield ": heartbeat\n\n"
            last_write = time.monotonic()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        time.sleep(min(poll, remaining))


# --- the after-action report ---------------------------------------------------------------

@blp.route("/activations/<int:activation_id>/report")
@role_required
def report_page(activation_id: int):
    """The after-action report, printable, with inline SVG charts."""
    activation = _activation(activation_id)
    result = report.after_action(activation, with_names=True)
    charts = {
        "curve": report.curve_svg(result.curve, width=400, height=180),
        # Titles name each chart for screen readers (an unnamed role="img" is unreadable).
        "ack_team": report.bars_svg(_bars(result.ack["team"]), title=gettext(
            "Acknowledgement (from notification to first answer)")),
        "arrival_team": report.bars_svg(_bars(result.arrival["team"]), title=gettext(
            "Arrival (from notification to arrival)")),
        "ack_compare": report.bars_svg(report.comparison_rows(result, "ack"),
                                       title=gettext("Answer time")),
        "arrival_compare": report.bars_svg(report.comparison_rows(result, "arrival"),
                                           title=gettext("Arrival time")),
    }
    return render_template("emergency/report.html", activation=activation, r=result,
                           charts=charts, duration=report.duration, yuan=report.yuan,
                           channel_label=report.channel_label,
                           level_label=report.level_label, optional_url=optional_url,
                           chinese=str(get_locale()).startswith("zh"),
                           timeline_shown=report.TIMELINE_SHOWN)


def _bars(spreads: dict) -> list[tuple[str, float | None, float | None]]:
    return [(group, spread.p50, spread.p90) for group, spread in spreads.items()]


@blp.route("/activations/<int:activation_id>/report.csv")
@role_required
def report_csv(activation_id: int):
    result = report.after_action(_activation(activation_id))
    return Response(report.to_csv(result), mimetype="text/csv",
                    headers={"Content-Disposition":
                             f'attachment; filename="after-action-{activation_id}.csv"'})


@blp.route("/activations/<int:activation_id>/report.pdf")
@role_required
def report_pdf(activation_id: int):
    result = report.after_action(_activation(activation_id))
    return Response(report.to_pdf(result), mimetype="application/pdf",
                    headers={"Content-Disposition":
                             f'attachment; filename="after-action-{activation_id}.pdf"'})
