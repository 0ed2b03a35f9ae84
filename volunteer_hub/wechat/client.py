"""WeChat's server API as the Official Account uses it: the access token, shared by every
process through the database, and the calls that need it.

Access token (GET {WECHAT_API_BASE}/cgi-bin/token?grant_type=client_credential&appid&secret
-> {"access_token", "expires_in"}): WeChat keeps one token per app id and a new fetch
invalidates the previous one after a short overlap, so the token lives in one place every
web and worker process reads (`wechat_access_tokens`), renewed by whichever process first
finds it close to expiry, under the row's lock so that two processes never both fetch. Each
process keeps a copy in memory until the renewal margin. A call refused with 40001/42001/
40014 (the token is invalid or expired: revoked, or renewed elsewhere) renews it once and
is sent again once.

Not wechatpy's WeChatClient: its token lives per process unless given a storage, and it
retries a refused token without limit (a recursion). wechatpy is used where it fits: the
OAuth exchange (oauth.py), event signatures and parsing (views.py).
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

import requests
from sqlalchemy import select

from volunteer_hub.wechat.models import WeChatAccessToken

TOKEN_PATH = "/cgi-bin/token"
TOKEN_REFUSED = {40001, 40014, 42001}  # invalid credential, invalid token, token expired
NEVER_FETCHED = datetime(2000, 1, 1)
QUERY_STRING = re.compile(r"\?[^\s'\"]*")


def unreachable(error: Exception, what: str = "WeChat unreachable") -> str:
    """A failed request, described without its query string: WeChat's URLs carry the app
    secret, the access token or an authorization code, and this text is logged and kept on
    the outbox row."""
    return f"{what}: {QUERY_STRING.sub('?…', repr(error))}"[:300]


@dataclass(frozen=True)
class Settings:
    app_id: str
    secret: str
    api_base: str
    oauth_base: str
    timeout: float
    refresh_margin: timedelta
    templates: dict

    @classmethod
    def of(cls, app) -> Settings | None:
        """The app's WeChat settings, or None when WeChat is not configured."""
        config = app.config
        if not (config.get("WECHAT_APP_ID") and config.get("WECHAT_APP_SECRET")):
            return None
        return cls(app_id=config["WECHAT_APP_ID"], secret=config["WECHAT_APP_SECRET"],
                   api_base=config["WECHAT_API_BASE"].rstrip("/"),
                   oauth_base=config["WECHAT_OAUTH_BASE"].rstrip("/"),
                   timeout=float(config["WECHAT_TIMEOUT_SECONDS"]),
                   refresh_margin=timedelta(seconds=int(config["WECHAT_TOKEN_REFRESH_SECONDS"])),
                   templates=dict(config.get("WECHAT_TEMPLATES") or {}))


class WeChatError(Exception):
    """WeChat answered with an errcode, or did not answer (errcode None)."""

    def __init__(self, errcode: int | None, errmsg: str):
        super().__init__(f"WeChat {errcode}: {errmsg}" if errcode is not None else errmsg)
        self.errcode = errcode
        self.errmsg = errmsg

    @property
    def unanswered(self) -> bool:
        return self.errcode is None


def now() -> datetime:
    """Naive UTC, like the notify tables."""
    from volunteer_hub.notify.models import now as notify_now

    return notify_now()


class WeChatApi:
    """Calls to api.weixin.qq.com (or WECHAT_API_BASE) with the shared access token.

    Thread-safe: one requests session per thread; `run_in_app` runs the token's database
    work inside an app context (the dispatcher's send threads have none).
    """

    def __init__(self, settings: Settings, run_in_app: Callable[[Callable], object]):
        self.settings = settings
        self.run_in_app = run_in_app
        self.local = threading.local()
        self.lock = threading.Lock()
        self.cached: tuple[str, datetime] | None = None

    # -- HTTP -------------------------------------------------------------------------------
    def _session(self) -> requests.Session:
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
            # The environment's proxies, read once: requests reads them on every request
            # otherwise, which took longer than the request itself.
            session.proxies = requests.utils.get_environ_proxies(self.settings.api_base)
            session.trust_env = False
        return session

    def request(self, method: str, path: str, *, params: dict | None = None,
                json_body: dict | None = None) -> dict:
        """The JSON answer; raises WeChatError for a non-zero errcode or no answer."""
        url = f"{self.settings.api_base}{path}"
        try:
            response = self._session().request(method, url, params=params, json=json_body,
                                               timeout=self.settings.timeout)
        except requests.RequestException as error:
            self.local.session = None  # a broken keep-alive connection: start afresh
            raise WeChatError(None, unreachable(error)) from error
        if response.status_code != 200:
            raise WeChatError(None, f"WeChat answered HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError as error:
            raise WeChatError(None, "WeChat answered without JSON") from error
        errcode = int(answer.get("errcode") or 0) if isinstance(answer, dict) else -1
        if errcode:
            raise WeChatError(errcode, str(answer.get("errmsg", ""))[:200])
        return answer

    def call(self, method: str, path: str, *, params: dict | None = None,
             json_body: dict | None = None) -> dict:
        """A call that needs the access token; a refused token is renewed and sent once more."""
        token = self.access_token()
        try:
            return self.request(method, path, params={**(params or {}), "access_token": token},
                                json_body=json_body)
        except WeChatError as error:
            if error.errcode not in TOKEN_REFUSED:
                raise
        token = self.renew(token)
        return self.request(method, path, params={**(params or {}), "access_token": token},
                            json_body=json_body)

    # -- the shared access token --------------------------------------------------------------
    def access_token(self) -> str:
        with self.lock:
            if self.cached and self.cached[1] - now() > self.settings.refresh_margin:
                return self.cached[0]
            self.cached = self.run_in_app(lambda: self._shared_token(refused=None))
            return self.cached[0]

    def renew(self, refused: str) -> str:
        """A fresh token after WeChat refused `refused` (unless another process renewed it)."""
        with self.lock:
            self.cached = self.run_in_app(lambda: self._shared_token(refused=refused))
            return self.cached[0]

    def _shared_token(self, refused: str | None) -> tuple[str, datetime]:
        from volunteer_hub.db import db, transaction
        from volunteer_hub.security import decrypt, encrypt

        with transaction():  # SQLite: the write lock; PostgreSQL: the row's lock below
            row = self._locked_row()
            if row.expires_at - now() > self.settings.refresh_margin:
                token = decrypt(row.token_encrypted)
                if token and token != refused:
                    return token, row.expires_at
            token, lifetime = self._fetch_token()
            moment = now()
            row.token_encrypted = encrypt(token)
            row.fetched_at = moment
            row.expires_at = moment + timedelta(seconds=lifetime)
            return token, row.expires_at

    def _locked_row(self) -> WeChatAccessToken:
        """The app id's token row, locked until the transaction ends. The first time it is
        created empty (expired): a process creating it at the same moment waits for this
        one's commit, then finds it, instead of fetching a second token."""
        from sqlalchemy.exc import IntegrityError

        from volunteer_hub.db import db

        query = (select(WeChatAccessToken)
                 .where(WeChatAccessToken.app_id == self.settings.app_id).with_for_update())
        row = db.session.execute(query).scalar_one_or_none()
        if row is not None:
            return row
        try:
            with db.session.begin_nested():
                db.session.add(WeChatAccessToken(app_id=self.settings.app_id,
                                                 token_encrypted="", expires_at=NEVER_FETCHED,
                                                 fetched_at=NEVER_FETCHED))
        except IntegrityError:
            pass  # created meanwhile by another process, now committed
        return db.session.execute(query).scalar_one()

    def _fetch_token(self) -> tuple[str, int]:
        answer = self.request("GET", TOKEN_PATH, params={
            "grant_type": "client_credential", "appid": self.settings.app_id,
            "secret": self.settings.secret})
        token = answer.get("access_token")
        if not token:
            raise WeChatError(-1, "WeChat issued no access_token")
        return str(token), int(answer.get("expires_in") or 7200)

    def close(self) -> None:
        session = getattr(self.local, "session", None)
        self.local.session = None
        if session is not None:
            session.close()


def api_for(app) -> WeChatApi | None:
    """A WeChatApi for the app (None when WeChat is not configured)."""
    settings = Settings.of(app)
    if settings is None:
        return None

    def run_in_app(work):
        with app.app_context():
            return work()

    return WeChatApi(settings, run_in_app)
