"""Login limits per account as well as per address (issue 11, item 4), and in storage shared
by every process when RATELIMIT_STORAGE_URI points at Redis."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from tests import factories
from tests.web.helpers import csrf_token

REDIS_URL = os.environ.get("VOLUNTEER_HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def spellings(phone: str) -> list[str]:
    """Ways a person may type one mobile number."""
    full_width = phone.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    return [phone, f"+86 {phone}", f"{phone[:3]} {phone[3:7]} {phone[7:]}", f"0086{phone}",
            full_width]


def api_login(client, login: str, password: str, address: str):
    return client.post("/api/v1/tokens", json={"login": login, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_guesses_at_one_account_from_many_addresses_are_limited(app, client, tree, make_staff):
    user, other = make_staff(tree["a"], "organizer"), make_staff(tree["b"], "organizer")
    limit = int(app.config["LOGIN_ACCOUNT_RATE_LIMIT"].split()[0])
    typed = spellings(user.phone)
    for n in range(limit):
        response = api_login(client, typed[n % len(typed)], "wrong-pass1", f"203.0.113.{n}")
        assert response.status_code == 401
    blocked = api_login(client, user.phone, factories.PASSWORD, "198.51.100.1")
    assert blocked.status_code == 429
    assert blocked.get_json()["error"] == "RATE_LIMITED"
    # The same fresh address still logs in to another account.
    assert api_login(client, other.phone, factories.PASSWORD, "198.51.100.1").status_code == 201


def test_the_login_page_and_the_api_share_one_account_bucket(app, client, tree, make_staff):
    user = make_staff(tree["a"], "organizer")
    limit = int(app.config["LOGIN_ACCOUNT_RATE_LIMIT"].split()[0])
    token = csrf_token(client, "/login")
    for n in range(limit):
        if n % 2:
            assert api_login(client, user.phone, "wrong-pass1", f"203.0.113.{n}").status_code == 401
        else:
            page = client.post("/login", data={"csrf_token": token, "login": user.phone,
                                               "password": "wrong-pass1"},
                               environ_base={"REMOTE_ADDR": f"203.0.113.{n}"})
            assert page.status_code == 200  # the form again, with its error
    page = client.post("/login", data={"csrf_token": token, "login": user.phone,
                                       "password": factories.PASSWORD},
                       environ_base={"REMOTE_ADDR": "198.51.100.2"})
    assert page.status_code == 429


# --- shared storage: two processes, one Redis ----------------------------------------------------

SERVER = """
import sys
from werkzeug.serving import make_server
from volunteer_hub import create_app
from volunteer_hub.db import db

app = create_app()
with app.app_context():
    db.create_all()
server = make_server("127.0.0.1", 0, app, threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""


@pytest.fixture
def redis_client():
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_URL} (set VOLUNTEER_HUB_TEST_REDIS_URL)")
    yield client
    client.close()


@pytest.fixture
def serve(app, tmp_path):
    """Start processes serving the app on one SQLite file with the given limit storage; the
    per-address limit is lifted so that only the per-account one is measured."""
    processes = []

    def start(storage_uri: str, prefix: str, count: int = 1) -> list[str]:
        env = {**os.environ,
               "VOLUNTEER_HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'limits.db'}",
               "VOLUNTEER_HUB_SECRET_KEY": "test-secret", "VOLUNTEER_HUB_ID_HASH_KEY": "test",
               "VOLUNTEER_HUB_DATA_ENCRYPTION_KEY": app.config["DATA_ENCRYPTION_KEY"],
               "VOLUNTEER_HUB_VAPID_PRIVATE_KEY": "unused",
               "VOLUNTEER_HUB_RATELIMIT_STORAGE_URI": storage_uri,
               "VOLUNTEER_HUB_RATELIMIT_KEY_PREFIX": prefix,
               "VOLUNTEER_HUB_LOGIN_RATE_LIMIT": "1000 per minute"}
        urls = []
        for _ in range(count):  # one after the other: the first creates the tables
            process = subprocess.Popen([sys.executable, "-c", SERVER], env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                       text=True)
            processes.append(process)
            urls.append(f"http://127.0.0.1:{int(process.stdout.readline())}")
        return urls

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def two_servers(serve, redis_client):
    """Two processes with limits in Redis, under a key prefix of their own."""
    prefix = f"vh-test-{uuid.uuid4().hex}"
    yield serve(REDIS_URL, prefix, count=2), prefix
    for key in redis_client.scan_iter(f"*{prefix}*"):
        redis_client.delete(key)


def guess_statuses(servers: list[str], phone: str, count: int) -> list[int]:
    import requests

    return [requests.post(f"{servers[n % len(servers)]}/api/v1/tokens", timeout=30,
                          json={"login": phone, "password": f"guess-{n}"}).status_code
            for n in range(count)]


def test_two_processes_share_one_account_limit_through_redis(app, two_servers, redis_client):
    servers, prefix = two_servers
    phone = "13912345678"
    limit = int(app.config["LOGIN_ACCOUNT_RATE_LIMIT"].split()[0])
    statuses = guess_statuses(servers, phone, 30)
    # Per-process memory let 20 of 30 through here; one shared bucket lets `limit` through.
    assert statuses.count(401) == limit
    assert statuses.count(429) == 30 - limit
    keys = [key.decode() for key in redis_client.scan_iter(f"*{prefix}*")]
    assert keys and not any(phone in key for key in keys)  # the account is hashed in the key


def test_with_redis_unreachable_logins_are_still_limited_not_failed(app, serve):
    limit = int(app.config["LOGIN_ACCOUNT_RATE_LIMIT"].split()[0])
    servers = serve("redis://127.0.0.1:1", "vh-test-down")  # nothing listens on port 1
    statuses = guess_statuses(servers, "13912345678", limit + 2)
    assert statuses == [401] * limit + [429, 429]  # the process's own memory counts


@pytest.mark.parametrize("body", [
    "[" * 5000 + "]" * 5000,                        # deeper than the JSON parser goes
    '{"login": "\\ud800", "password": "x"}',        # a lone surrogate
    '{"login": ["13800138000"], "password": "x"}',  # not a string
])
def test_the_account_limit_reads_any_body_without_failing(app, body):
    from volunteer_hub.accounts.auth import login_account_key, typed_login

    with app.test_request_context("/api/v1/tokens", method="POST", data=body,
                                  content_type="application/json"):
        assert typed_login() == ""
        assert login_account_key().startswith("login-account:")
