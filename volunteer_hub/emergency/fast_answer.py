"""The one-tap answer's fast lane: a WSGI middleware in front of Flask.

A call-out of tens of thousands of people answers in a burst (docs/BENCHMARKS-mobilization.md:
>= 1,000 answers/s on 2 cores). Through Flask, flask-smorest, webargs and marshmallow an answer
costs about 4 ms of CPU, most of it before and after the two statements that matter. This lane
takes only the plain case of `POST /api/v1/emergency/respond/<token>`: a JSON body of a valid
answer, no Idempotency-Key, a link whose signature and expiry are good. It writes the answer
with `responses.write_answer` (the UPDATE that also checks the call-out runs, and the history
row) on a Core connection and replies with the same bytes the API would.

Everything else goes to Flask untouched, so refusals and their bodies stay those of the API:
an unusual body (422 with field messages), a forged, expired or someone else's link (403), a
stood-down call-out (409), a key to store or replay, and any answer that needs a re-plan (a
freed seat, or a seat open for a newcomer): that write is rolled back here and done again by
the full path. A database error here also falls back, after a rollback.

On PostgreSQL the lane writes in autocommit on an engine of its own (same URL), never on the
app's: a connection left in autocommit in the shared pool would commit every later request's
flushes at once and break its savepoints (issue 11). Each server thread keeps one connection,
detached from any pool and closed when the thread ends; a forked child opens its own.

VOLUNTEER_HUB_EMERGENCY_FAST_ANSWER=0 turns the lane off (every answer through Flask).
"""
from __future__ import annotations

import io
import json
import logging
import os
import threading
from collections import namedtuple
from datetime import UTC, datetime

from sqlalchemy import create_engine, select
from sqlalchemy.pool import NullPool

from volunteer_hub.emergency import responses
from volunteer_hub.emergency.models import Activation, ActivationRole
from volunteer_hub.emergency.schemas_responses import AnswerResultSchema, answer_view
from volunteer_hub.db import utcnow

PREFIX = "/api/v1/emergency/respond/"
MAX_BODY = 512  # {"answer": "coming", "eta_minutes": 600} is 40 bytes
_FIELDS = frozenset(("answer", "eta_minutes"))

log = logging.getLogger(__name__)


class FastAnswer:
    """WSGI middleware: `app.wsgi_app = FastAnswer(app)` in the app factory."""

    def __init__(self, app):
        self.app = app
        self.next = app.wsgi_app
        self._engine = None
        self._engine_pid = None
        self._result = AnswerResultSchema()
        # A switch for operators (VOLUNTEER_HUB_EMERGENCY_FAST_ANSWER=0) and the bench.
        self.enabled = str(app.config.get("EMERGENCY_FAST_ANSWER", True)).lower() not in (
            "0", "false", "no", "off")

    def __call__(self, environ, start_response):
        if self.enabled and environ.get("REQUEST_METHOD") == "POST" and \
                environ.get("PATH_INFO", "").startswith(PREFIX):
            plain = _plain_answer(environ)
            body = self._answer(*plain) if plain is not None else None
            if body is not None:
                # Vary as Flask's reply (its session is touched on every request).
                start_response("200 OK", [("Content-Type", "application/json"),
                                          ("Content-Length", str(len(body))),
                                          ("Vary", "Cookie")])
                return [body]
        return self.next(environ, start_response)

    def _answer(self, token: str, answer: str, eta: int | None) -> bytes | None:
        """The reply's bytes once the answer is committed; None to leave it to Flask."""
        parts = responses.token_parts(token, self.app.config["SECRET_KEY"])
        moment = utcnow()
        if parts is None or moment.timestamp() > parts.expires:
            return None
        write = _write_postgresql if self.engine().dialect.name == "postgresql" else _write_core
        try:
            view = write(self.engine(), parts, answer, eta, moment)
        except Exception:  # the full path retries and reports it in the API's shape
            log.exception("one-tap fast lane failed; answering through Flask")
            return None
        return None if view is None else self._reply(view)

    def engine(self):
        """The engine the lane writes with, made once per process (a forked worker must not
        share its parent's connections)."""
        if self._engine is None or self._engine_pid != os.getpid():
            self._engine, self._engine_pid = self._lane_engine(), os.getpid()
        return self._engine

    def _lane_engine(self):
        from volunteer_hub.db import db

        with self.app.app_context():
            shared = db.engine
        if shared.dialect.name != "postgresql":
            return shared  # _write_core runs a transaction of its own: nothing to keep apart
        # Autocommit is set when each connection opens, on connections the app never sees.
        return create_engine(shared.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")

    def _reply(self, view: dict) -> bytes:
        """What flask-smorest's jsonify would send for this view."""
        provider = self.app.json
        indent = (provider.compact is None and self.app.debug) or provider.compact is False
        options = {"indent": 2} if indent else {"separators": (",", ":")}
        # The schema only for a seat (it filters the role's and the point's keys); the
        # standby view's fields are already what AnswerResultSchema would dump.
        dumped = self._result.dump(view) if view["role"] is not None else _dumped(view)
        return (provider.dumps(dumped, **options) + "\n").encode()


def _dumped(view: dict) -> dict:
    return {name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in view.items()}


def _plain_answer(environ) -> tuple[str, str, int | None] | None:
    """(token, answer, eta) of a request the lane can take; the body stays readable."""
    token = environ["PATH_INFO"][len(PREFIX):]
    if not token or "/" in token or environ.get("HTTP_IDEMPOTENCY_KEY") is not None:
        return None
    if environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower() != "application/json":
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    if not 0 < length <= MAX_BODY:
        return None
    raw = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(raw)  # Flask reads it again if the lane declines
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or not data.keys() <= _FIELDS:
        return None
    return _valid(token, data.get("answer"), data.get("eta_minutes"))


def _valid(token: str, answer, eta) -> tuple[str, str, int | None] | None:
    """Only what the API schema and validate_answer both accept as it is (no coercion)."""
    if eta is not None and (type(eta) is not int or not 0 <= eta <= responses.MAX_ETA_MINUTES):
        return None
    if answer == "cannot":
        return token, answer, None
    if answer == "coming" and eta is not None:
        return token, answer, eta
    return None


def _write_core(engine, parts, answer: str, eta: int | None, moment) -> dict | None:
    """SQLite (and any other engine): responses.write_answer in a transaction of its own,
    rolled back when the full path must run instead. Returns the reply's view or None."""
    with engine.connect() as connection:
        connection = connection.execution_options(sqlite_begin="IMMEDIATE")
        with connection.begin() as transaction:
            written = responses.write_answer(connection, parts, answer, eta, "link", moment)
            if written is None or written[1]:  # refused, or a re-plan is needed
                transaction.rollback()
                return None
            row = written[0]
            seat = _seat(connection, row) if row.role_id is not None else None
    return _view(row, *(seat or (None, None)))


def _seat(connection, row):
    """The role and the assembly points of a seated responder, in one read."""
    roles, activations = ActivationRole.__table__, Activation.__table__
    found = connection.execute(
        select(roles.c.id, roles.c.code, roles.c.label_zh, roles.c.label_en,
               activations.c.assembly_points)
        .join(activations, activations.c.id == roles.c.activation_id)
        .where(roles.c.id == row.role_id)).one()
    return found, found.assembly_points


_lane = threading.local()


def _lane_connection(engine):
    """This thread's own autocommit connection, opened once and kept: a checkout, reset
    and return per answer cost about a fifth of the lane's CPU."""
    kept = getattr(_lane, "kept", None)
    if kept is None or kept.engine is not engine:
        kept = _lane.kept = _Kept(engine)
    return kept.connection


class _Kept:
    """A driver connection owned by one thread of one process: detached from the engine's
    pool, so it can never be handed to anyone else, and closed when the thread ends."""

    def __init__(self, engine):
        self.engine = engine
        self.pid = os.getpid()
        fairy = engine.raw_connection()
        self.connection = fairy.dbapi_connection
        fairy.detach()

    def close(self) -> None:
        # In a forked child the socket is the parent's: dropped without a word (psycopg
        # does not end a connection made by another process).
        if self.pid == os.getpid():
            self.connection.close()

    def __del__(self):
        self.close()


def _forget_lane_connection() -> None:
    """After an error the connection may be broken: it is closed, the next answer opens
    a new one."""
    kept = getattr(_lane, "kept", None)
    _lane.kept = None
    if kept is not None:
        kept.close()


def _write_postgresql(engine, parts, answer: str, eta: int | None, moment) -> dict | None:
    """PostgreSQL: one statement in autocommit, one round trip. It writes only when the
    full path would not re-plan (see _ANSWER_SQL); no row means Flask must answer."""
    try:
        row = _lane_connection(engine).execute(_ANSWER_SQL[answer], {
            "responder": parts.responder_id, "activation": parts.activation_id,
            "volunteer": parts.volunteer_id, "answer": answer, "eta": eta,
            "moment": moment}, prepare=True).fetchone()
    except Exception:
        _forget_lane_connection()
        raise
    if row is None:
        return None
    answered = _Answered(*row[:len(_Answered._fields)])
    role = _Role(*row[len(_Answered._fields):-1]) if answered.role_id is not None else None
    points = row[-1]
    return _view(answered, role, json.loads(points) if isinstance(points, str) else points)


_Answered = namedtuple("_Answered", (
    "id", "activation_id", "answer", "eta_minutes", "answered_at", "answer_channel",
    "role_id", "assembly_point", "arrived_at", "checked_out_at", "safe_confirmed_at"))
_Role = namedtuple("_Role", ("id", "code", "label_zh", "label_en"))


def _answer_sql(answer: str) -> str:
    """The UPDATE of responses._answer_statement and the history INSERT in one statement.

    Its WHERE also holds exactly when the full path would not re-plan: a 'cannot' from
    someone without a seat, a 'coming' from someone seated or while no role of the
    call-out has a free seat (the same test as responses._OPEN_SEAT_FOR_NEWCOMER)."""
    if answer == "cannot":
        changes, no_replan = ", role_id = NULL, assembly_point = NULL, assigned_at = NULL", \
            "role_id IS NULL"
    else:
        changes, no_replan = "", (
            "(role_id IS NOT NULL OR NOT EXISTS (SELECT 1 FROM emergency_activation_roles "
            "AS open_role WHERE open_role.activation_id = %(activation)s AND open_role.needed "
            "> (SELECT count(*) FROM emergency_responders AS seated "
            "WHERE seated.role_id = open_role.id)))")
    columns = ", ".join(_Answered._fields)
    return (
        "WITH answered AS (UPDATE emergency_responders SET answer = %(answer)s, "
        "eta_minutes = %(eta)s, answered_at = %(moment)s, answer_channel = 'link', "
        f"first_answered_at = coalesce(first_answered_at, %(moment)s){changes} "
        "WHERE id = %(responder)s AND activation_id = %(activation)s "
        "AND volunteer_id = %(volunteer)s AND EXISTS (SELECT 1 FROM emergency_activations "
        f"WHERE id = %(activation)s AND status = 'active') AND {no_replan} "
        f"RETURNING {columns}), "
        "history AS (INSERT INTO emergency_response_changes "
        "(responder_id, answer, eta_minutes, channel, at) "
        "SELECT id, answer, eta_minutes, answer_channel, answered_at FROM answered) "
        f"SELECT {', '.join('answered.' + c for c in _Answered._fields)}, "
        "role.id, role.code, role.label_zh, role.label_en, activation.assembly_points "
        "FROM answered LEFT JOIN emergency_activation_roles AS role "
        "ON role.id = answered.role_id LEFT JOIN emergency_activations AS activation "
        "ON activation.id = answered.activation_id AND answered.role_id IS NOT NULL")


_ANSWER_SQL = {answer: _answer_sql(answer) for answer in responses.ANSWER_CODES}


class _Seated:
    """The attributes answer_view reads, from Core rows."""

    def __init__(self, row, role, points):
        self.__dict__.update(row._asdict() if hasattr(row, "_asdict") else row._mapping)
        self.role = role
        self.activation = _Points(points)


class _Points:
    def __init__(self, points):
        self.assembly_points = points


def _view(row, role, points) -> dict:
    view = answer_view(_Seated(row, role, points) if role is not None else row)
    for name in _TIMES:  # as UTCDateTime reads them: in UTC
        if view[name] is not None:
            view[name] = view[name].astimezone(UTC)
    return view


_TIMES = ("answered_at", "arrived_at", "checked_out_at", "safe_confirmed_at")
