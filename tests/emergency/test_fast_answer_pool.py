"""The one-tap fast lane never leaves the app's connections in autocommit (issue 11, item 1).

On PostgreSQL the lane answers in autocommit on connections its server threads keep. When
such a thread ended, its connection went back to the app's shared pool still in autocommit:
later requests committed every flush at once (a registration refused with 422 kept its
account) and savepoints failed. Each test lets a lane thread answer and end, then runs
transactional requests on every connection the app's pool may hand out.
"""
from __future__ import annotations

import gc
import os
import threading

import pytest
from sqlalchemy import func, select

from tests.factories import registration_data, unique_phone
from volunteer_hub.accounts.models import User
from volunteer_hub.db import transaction
from volunteer_hub.emergency import fast_answer, responses
from volunteer_hub.emergency.models import Responder

pytestmark = pytest.mark.usefixtures("sms_gateway_configured")


def the_lane(middleware) -> fast_answer.FastAnswer:
    """The lane, under whatever middleware wraps it (each keeps the next one as `.app`)."""
    while not isinstance(middleware, fast_answer.FastAnswer):
        middleware = middleware.app
    return middleware


@pytest.fixture
def answered_in_a_thread_that_ended(app, db, client, world, drill, monkeypatch):
    """A plain answer through the lane from a server thread that then ends."""
    lane = the_lane(app.wsgi_app)
    flask_calls = []
    flask = lane.next
    monkeypatch.setattr(lane, "next", lambda environ, start: flask_calls.append(1) or flask(
        environ, start))
    responder = db.session.execute(select(Responder).filter_by(
        activation_id=drill.id, volunteer_id=world.v("zhou").id)).scalar_one()
    token = responses.response_link(responder).rsplit("/", 1)[1]
    db.session.commit()
    replies = []
    server_thread = threading.Thread(target=lambda: replies.append(client.post(
        f"/api/v1/emergency/respond/{token}", json={"answer": "cannot"})))
    server_thread.start()
    server_thread.join()
    gc.collect()  # whatever the ended thread held is released now
    assert replies[0].status_code == 200
    assert flask_calls == [], "the lane itself answered"
    return lane


def every_pooled_connection(db):
    """Enough requests, one after another, to be served by each idle pooled connection."""
    pool = db.engine.pool
    return range(pool.size() + 1 if hasattr(pool, "size") else 2)


def test_a_refused_registration_leaves_no_account(answered_in_a_thread_that_ended, db,
                                                  client, tree):
    for _ in every_pooled_connection(db):
        phone = unique_phone()
        refused = client.post("/api/v1/volunteers", json=registration_data(
            tree["b"], phone=phone, skills=[{"code": "no_such_skill", "level": 1}]))
        assert refused.status_code == 422, refused.get_json()
        assert refused.get_json()["error"] == "SKILL_UNKNOWN"
        db.session.rollback()
        assert db.session.execute(
            select(func.count(User.id)).where(User.phone == phone)).scalar_one() == 0


def test_a_registration_retried_after_a_refusal_succeeds(answered_in_a_thread_that_ended,
                                                         db, client, tree):
    for _ in every_pooled_connection(db):
        data = registration_data(tree["b"], skills=[{"code": "no_such_skill", "level": 1}])
        assert client.post("/api/v1/volunteers", json=data).status_code == 422
        del data["skills"]
        retried = client.post("/api/v1/volunteers", json=data)
        assert retried.status_code == 201, retried.get_json()


def test_a_savepoint_write_works_and_its_transaction_stays_whole(
        answered_in_a_thread_that_ended, db, tree):
    for _ in every_pooled_connection(db):
        phone = unique_phone()
        with pytest.raises(RuntimeError):
            with transaction():
                with db.session.begin_nested():
                    db.session.add(User(display_name="保存点", phone=phone,
                                        password_hash="x"))
                raise RuntimeError("the request fails after its savepoint")
        db.session.remove()  # the next unit of work takes the next pooled connection
        assert db.session.execute(
            select(func.count(User.id)).where(User.phone == phone)).scalar_one() == 0



def test_a_forked_worker_never_shares_the_parents_lane_connection(
        answered_in_a_thread_that_ended, db):
    """A server that forks its workers after the lane answered (a preloading server) must
    not let parent and child talk over one database socket."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("on SQLite the lane has no connection of its own")
    lane = answered_in_a_thread_that_ended

    def backend_pid() -> int:
        connection = fast_answer._lane_connection(lane.engine())
        return connection.execute("SELECT pg_backend_pid()").fetchone()[0]

    parents = backend_pid()  # this thread now keeps a lane connection too
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            os.write(writing, str(backend_pid()).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(writing)
    childs = int(os.read(reading, 32) or 0)
    os.close(reading)
    assert os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) == 0
    assert childs not in (0, parents)
    assert backend_pid() == parents  # the parent's connection still answers
