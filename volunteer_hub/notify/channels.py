"""Delivery channels. Each takes an `Outgoing` (plain data, no session) and returns a `Result`.

A channel never touches the database: the dispatcher sends outside any transaction and
records results afterwards. Every send carries an idempotency key (the outbox row's id with a
prefix) so that a message re-sent after a worker crash is recognised by the receiver:
in the `Message-ID` header of an e-mail, in the `id` field of an SMS request.

SMS gateway adapter (a generic JSON webhook, so any provider can be fronted by a thin shim):

    POST {SMS_GATEWAY_URL}
    Authorization: Bearer {SMS_GATEWAY_KEY}
    Content-Type: application/json
    {"id": "vh-123", "to": "+8613700000000", "text": "..."}

    -> 200/201/202 {"message_id": "provider-id"}   accepted (the same "id" twice must answer
                                                   the first message_id and send nothing new)
    -> 4xx (not 408/429)                           refused for good: the next channel is tried
    -> 5xx, 408, 429, timeout, connection error    transient: retried with backoff

Batch mode (SMS_GATEWAY_BATCH = N > 1, for providers with a batch API such as Aliyun's
SendBatchSms or Tencent Cloud's SendSms): up to N messages in one request, each keeping its
own idempotency key, so a mass alert costs one request per N people instead of one each:

    {"messages": [{"id": "vh-123", "to": "...", "text": "..."}, ...]}

    -> 200/201/202 {"results": [{"id": "vh-123", "message_id": "provider-id"},
                                {"id": "vh-124", "error": "...", "permanent": true}, ...]}
                                                   each message as its own result; one left
                                                   out of the results is retried
    -> any other answer                            every message of the batch as above

Receipts and replies come back to /api/v1/notify/sms/receipts and /api/v1/notify/sms/inbound
(see api.py), authenticated by the `X-Gateway-Secret` header.

Template SMS from Alibaba Cloud and Tencent Cloud (SMS_PROVIDER=aliyun|tencent):
volunteer_hub.sms.providers, built by `build_sms_channel`; each message goes as its kind's
approved template with named parameters (volunteer_hub.sms.kinds).

Web Push (RFC 8030/8291/8292): one outbox row goes to every live subscription of the
recipient (the dispatcher loads them into `Outgoing.push_targets`); the row succeeds if one
push service accepted it. The payload is JSON, encrypted aes128gcm for each subscription;
the service worker (static/sw.js) shows it and, for urgent messages, posts the signed `ack`
back so that an unacknowledged urgent push falls back to SMS like an SMS without receipt.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import logging
import math
import re
import smtplib
import socket
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Callable
from urllib.parse import urlsplit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PushTarget:
    """A live Web Push subscription, as plain data."""

    id: int
    endpoint: str
    p256dh: str
    auth: str


@dataclass(frozen=True)
class PushOutcome:
    """What one push service answered for one subscription."""

    subscription_id: int
    ok: bool
    gone: bool = False  # 404/410: the browser dropped the subscription
    error: str | None = None


@dataclass(frozen=True)
class Outgoing:
    id: int
    channel: str
    address: str | None
    subject: str
    body: str
    locale: str
    idempotency_key: str
    urgent: bool = False
    link: str | None = None
    push_targets: tuple[PushTarget, ...] = ()
    event_key: str = ""  # names the message's kind for templated channels (sms.kinds)


@dataclass(frozen=True)
class Result:
    ok: bool
    permanent: bool = False  # a failure that retrying cannot fix
    provider_message_id: str | None = None
    error: str | None = None
    delivered: bool = False  # final on acceptance (no receipt will follow)
    awaits_receipt: bool = False
    push_outcomes: tuple[PushOutcome, ...] = ()
    deferred: bool = False  # not sent, the channel's circuit is open: not an attempt
    unanswered: bool = False  # no answer came (timeout, connection refused or dropped)


DEFERRED = Result(ok=False, deferred=True, error="channel paused: its circuit is open")


class TokenBucket:
    """A thread-safe token bucket: `rate` tokens per second, bursts up to `capacity`.

    One per channel per worker process: N workers allow N x rate in total, so set the rate
    to the provider's limit divided by the number of workers.
    """

    def __init__(self, rate: float, capacity: float | None = None):
        self.rate = float(rate)
        self.capacity = float(capacity if capacity is not None else max(1.0, rate))
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def take(self, count: int = 1) -> None:
        """Wait until `count` tokens are there and take them (a batch larger than the
        bucket waits for a full bucket and takes it all)."""
        if self.rate <= 0:
            return
        count = min(float(count), self.capacity)
        while True:
            with self.lock:
                moment = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (moment - self.updated) * self.rate)
                self.updated = moment
                if self.tokens >= count:
                    self.tokens -= count
                    return
                wait = (count - self.tokens) / self.rate
            time.sleep(wait)


class CircuitBreaker:
    """One channel's circuit in one worker process, so that a provider that stops answering
    (a gateway that accepts and never replies) holds no more than a few sending threads.

    Closed: every request goes. After `failures` requests in a row got no answer at all
    (a timeout, a refused or dropped connection; an error answer is quick and handled by each
    message's backoff) it opens: for `cool_down` seconds no request goes and the messages
    wait in the outbox. Then one probe request goes (half-open): any answer closes
    the circuit, another failure opens it for a new cool-down.
    """

    def __init__(self, name: str, failures: int, cool_down: float,
                 clock: Callable[[], float] = time.monotonic):
        self.name = name
        self.threshold = max(1, int(failures))
        self.cool_down = float(cool_down)
        self.clock = clock
        self.lock = threading.Lock()
        self.failures = 0
        self.opened_at: float | None = None
        self.probing = False

    def accepting(self) -> bool:
        """Whether a request could go now (the dispatcher claims no message otherwise)."""
        with self.lock:
            return self.opened_at is None or (not self.probing and self._cooled_down())

    def allow(self) -> bool:
        """Permission for one request: always while closed; after it opened, once per
        cool-down (the probe)."""
        with self.lock:
            if self.opened_at is None:
                return True
            if self.probing or not self._cooled_down():
                return False
            self.probing = True
            return True

    def record(self, answered: bool) -> None:
        """The outcome of an allowed request: whether the provider answered at all."""
        with self.lock:
            if answered:
                if self.opened_at is not None:
                    log.info("notify: channel %s answers again: circuit closed", self.name)
                self.failures, self.opened_at, self.probing = 0, None, False
                return
            self.failures += 1
            if self.probing or self.failures >= self.threshold:
                if self.opened_at is None or self.probing:
                    log.warning("notify: channel %s failed %d times in a row: paused for "
                                "%g s", self.name, self.failures, self.cool_down)
                self.opened_at, self.probing = self.clock(), False

    def _cooled_down(self) -> bool:
        return self.clock() - self.opened_at >= self.cool_down


class Channel:
    name = "base"
    batch_size = 1  # messages per request; above 1 the channel implements send_many

    def send(self, message: Outgoing) -> Result:  # pragma: no cover - interface
        raise NotImplementedError

    def send_many(self, messages: list[Outgoing]) -> list[Result]:
        return [self.send(message) for message in messages]

    def close(self) -> None:
        """Release connections (called when the worker stops)."""


class EmailChannel(Channel):
    """E-mail over SMTP (smtplib); one connection per sending thread, reused."""

    name = "email"

    def __init__(self, host: str, port: int, sender: str, *, username: str | None = None,
                 password: str | None = None, starttls: bool = False, timeout: float = 10.0):
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password, self.starttls = username, password, starttls
        self.timeout = timeout
        self.local = threading.local()
        self.domain = sender.rpartition("@")[2] or "volunteer-hub.local"

    def _connection(self) -> smtplib.SMTP:
        smtp = getattr(self.local, "smtp", None)
        if smtp is None:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            self.local.smtp = smtp
        return smtp

    def _drop(self) -> None:
        smtp = getattr(self.local, "smtp", None)
        self.local.smtp = None
        if smtp is not None:
            try:
                smtp.close()
            except Exception:  # pragma: no cover - closing a broken connection
                pass

    def build(self, message: Outgoing) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.address
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        # The idempotency key: a receiver (or our test server) drops a second copy.
        mail["Message-ID"] = f"<{message.idempotency_key}@{self.domain}>"
        mail["Content-Language"] = message.locale.replace("_", "-")
        mail.set_content(message.body)
        return mail

    def send(self, message: Outgoing) -> Result:
        if not message.address:
            return Result(ok=False, permanent=True, error="no e-mail address")
        mail = self.build(message)
        for attempt in (1, 2):  # a reused connection may have been closed by the server
            try:
                self._connection().send_message(mail)
                return Result(ok=True, provider_message_id=mail["Message-ID"])
            except smtplib.SMTPServerDisconnected as error:
                self._drop()
                if attempt == 2:
                    return Result(ok=False, error=f"SMTP disconnected: {error}",
                                  unanswered=True)
            except smtplib.SMTPRecipientsRefused as error:
                codes = [code for code, _text in error.recipients.values()]
                return Result(ok=False, permanent=all(c >= 500 for c in codes),
                              error=f"recipient refused: {error.recipients}")
            except smtplib.SMTPResponseException as error:
                self._drop()
                return Result(ok=False, permanent=error.smtp_code >= 500,
                              error=f"SMTP {error.smtp_code}: {error.smtp_error!r}")
            except (OSError, smtplib.SMTPException) as error:
                self._drop()
                # smtplib's own errors are OSErrors too, but the server answered them.
                return Result(ok=False, error=f"SMTP: {error}", unanswered=not isinstance(
                    error, smtplib.SMTPException))
        return Result(ok=False, error="SMTP: unreachable")  # pragma: no cover

    def close(self) -> None:
        self._drop()


def sms_segments(text: str) -> int:
    """How many SMS a provider bills for this text (GSM-7 for ASCII, else UCS-2)."""
    single, part = (160, 153) if text.isascii() else (70, 67)
    return 1 if len(text) <= single else math.ceil(len(text) / part)


NO_PHONE = Result(ok=False, permanent=True, error="no phone number")


def _accepted(provider_message_id) -> Result:
    return Result(ok=True, provider_message_id=str(provider_message_id), awaits_receipt=True)


class SmsGatewayChannel(Channel):
    """SMS through the generic JSON webhook described above; keep-alive per sending thread."""

    name = "sms"
    TRANSIENT_STATUSES = {408, 425, 429}

    def __init__(self, url: str, key: str | None, *, timeout: float = 10.0,
                 batch_size: int = 1):
        self.batch_size = max(1, batch_size)
        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if self.https else 80)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.key = key
        self.timeout = timeout
        self.local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
            connection = cls(self.host, self.port, timeout=self.timeout)
            self.local.connection = connection
        return connection

    def _drop(self) -> None:
        connection = getattr(self.local, "connection", None)
        self.local.connection = None
        if connection is not None:
            connection.close()

    @staticmethod
    def _request_of(message: Outgoing) -> dict:
        return {"id": message.idempotency_key, "to": message.address, "text": message.body}

    def send(self, message: Outgoing) -> Result:
        if not message.address:
            return NO_PHONE
        status, body = self._post(self._request_of(message))
        if status is None:
            return Result(ok=False, error=body, unanswered=True)
        if 200 <= status < 300:
            try:
                return _accepted(json.loads(body)["message_id"])
            except (ValueError, KeyError, TypeError):
                return Result(ok=False, error=f"gateway answered {status} without message_id")
        return self._refused(status, body)

    def send_many(self, messages: list[Outgoing]) -> list[Result]:
        """Batch mode: the messages with a phone number in one request, a result each."""
        sendable = [m for m in messages if m.address]
        answers: dict[str, Result] = {}
        if sendable:
            answers = self._send_batch(sendable)
        missing = Result(ok=False, error="gateway left the message out of its results")
        return [answers.get(m.idempotency_key, missing) if m.address else NO_PHONE
                for m in messages]

    def _send_batch(self, messages: list[Outgoing]) -> dict[str, Result]:
        keys = [m.idempotency_key for m in messages]
        status, body = self._post({"messages": [self._request_of(m) for m in messages]})
        if status is None:
            return dict.fromkeys(keys, Result(ok=False, error=body, unanswered=True))
        if not 200 <= status < 300:
            return dict.fromkeys(keys, self._refused(status, body))
        try:
            results = json.loads(body)["results"]
            return {str(r["id"]): (_accepted(r["message_id"]) if r.get("message_id") else
                                   Result(ok=False, permanent=bool(r.get("permanent")),
                                          error=f"gateway: {str(r.get('error'))[:200]}"))
                    for r in results}
        except (ValueError, KeyError, TypeError):
            return dict.fromkeys(keys, Result(
                ok=False, error=f"gateway answered {status} without results"))

    def _post(self, payload: dict) -> tuple[int | None, bytes | str]:
        """(status, body), or (None, what went wrong) when no answer came."""
        data = json.dumps(payload, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        for attempt in (1, 2):  # a kept-alive connection may have been closed meanwhile
            try:
                connection = self._connection()
                connection.request("POST", self.path, body=data, headers=headers)
                response = connection.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError) as error:
                self._drop()
                if attempt == 2:
                    return None, f"gateway: {error!r}"
            except (OSError, socket.timeout, http.client.HTTPException) as error:
                self._drop()
                return None, f"gateway: {error!r}"
        return None, "gateway: unreachable"  # pragma: no cover

    def _refused(self, status: int, body: bytes) -> Result:
        text = body[:200].decode("utf-8", "replace")
        permanent = 400 <= status < 500 and status not in self.TRANSIENT_STATUSES
        return Result(ok=False, permanent=permanent, error=f"gateway {status}: {text}")

    def close(self) -> None:
        self._drop()


def sms_configured(config=None, app=None) -> bool:
    """Whether the configured SMS provider has what it needs to send (volunteer_hub.sms);
    read from the app's settings (`config`, notify's Settings, is not needed)."""
    from volunteer_hub.sms.settings import sms_configured as configured

    return configured(app)


def build_sms_channel(config, app=None) -> Channel | None:
    """The SMS channel of the configured provider (SMS_PROVIDER: webhook, aliyun or
    tencent; see volunteer_hub.sms), None when SMS is not configured."""
    from volunteer_hub.sms.settings import build_channel

    return build_channel(config, app)


def push_ack_signature(secret: bytes, idempotency_key: str) -> str:
    """The token a service worker sends back to acknowledge one push (see api.py)."""
    digest = hmac.new(secret, f"webpush-ack:{idempotency_key}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:18]).decode()


class WebPushChannel(Channel):
    """Web Push with VAPID through pywebpush; a requests session per sending thread.

    Answers: 201 (or 200/202) accepted; 404/410 the subscription is gone for good; anything
    else, a timeout or a connection error fails that subscription only. Without an accepting
    push service the row fails permanently, so the fallback chain (SMS next) runs at once:
    retrying a push would only delay the channel that can still reach the person.
    """

    name = "webpush"
    ACCEPTED = {200, 201, 202}
    GONE = {404, 410}
    PAYLOAD_LIMIT = 3000  # bytes of JSON; encrypted records hold at most 3993
    JWT_LIFETIME = 12 * 3600  # RFC 8292 allows at most 24 h
    JWT_RENEW_BEFORE = 3600

    def __init__(self, private_key: str, subject: str, *, ttl: int = 86400,
                 urgent_ttl: int | None = None, timeout: float = 10.0,
                 ack_secret: bytes | None = None, ack_url: str | None = None):
        from py_vapid import Vapid

        key = private_key.strip()
        self.vapid = (Vapid.from_pem(key.encode()) if key.startswith("-----BEGIN")
                      else Vapid.from_string(key))
        self.subject = subject
        self.ttl, self.urgent_ttl = ttl, urgent_ttl if urgent_ttl is not None else ttl
        self.timeout = timeout
        self.ack_secret, self.ack_url = ack_secret, ack_url
        self.local = threading.local()
        self.tokens: dict[str, tuple[dict, float]] = {}
        self.tokens_lock = threading.Lock()

    def _session(self):
        import requests

        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
        return session

    def vapid_headers(self, endpoint: str) -> dict:
        """The signed VAPID Authorization header for the endpoint's origin, reused for hours."""
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        moment = time.time()
        with self.tokens_lock:
            cached = self.tokens.get(audience)
            if cached is not None and cached[1] - moment > self.JWT_RENEW_BEFORE:
                return cached[0]
            expires = int(moment) + self.JWT_LIFETIME
            headers = self.vapid.sign({"aud": audience, "exp": expires, "sub": self.subject})
            self.tokens[audience] = (headers, expires)
            return headers

    def payload(self, message: Outgoing) -> bytes:
        data = {"id": message.idempotency_key, "title": message.subject, "body": message.body,
                "url": message.link or _first_url(message.body), "urgent": message.urgent,
                "lang": message.locale.replace("_", "-")}
        if message.urgent and self.ack_secret and self.ack_url:
            data["ack"] = self.ack_url
            data["sig"] = push_ack_signature(self.ack_secret, message.idempotency_key)
        encoded = json.dumps(data, ensure_ascii=False).encode()
        excess = len(encoded) - self.PAYLOAD_LIMIT
        if excess > 0:  # shorten the body, never the keys the service worker needs
            body = message.body.encode()
            data["body"] = body[:max(0, len(body) - excess - 3)].decode("utf-8", "ignore") + "…"
            encoded = json.dumps(data, ensure_ascii=False).encode()
        return encoded

    def headers(self, message: Outgoing, target: PushTarget) -> dict:
        # Topic: a push service keeps only the newest pending message of a topic, so a copy
        # re-sent after a worker crash replaces the first instead of ringing twice.
        topic = re.sub(r"[^A-Za-z0-9_-]", "", message.idempotency_key)[:32]
        return {**self.vapid_headers(target.endpoint),
                "Urgency": "high" if message.urgent else "normal", "Topic": topic}

    def push(self, message: Outgoing, target: PushTarget, payload: bytes
             ) -> tuple[PushOutcome, str | None]:
        import requests
        from pywebpush import WebPushException, WebPusher

        info = {"endpoint": target.endpoint, "keys": {"p256dh": target.p256dh,
                                                      "auth": target.auth}}
        try:
            response = WebPusher(info, requests_session=self._session()).send(
                payload, self.headers(message, target), ttl=self.ttl_for(message),
                timeout=self.timeout)
        except requests.RequestException as error:
            self.local.session = None  # a broken keep-alive connection: start afresh
            return PushOutcome(target.id, ok=False, error=f"push service: {error!r}"[:300]), None
        except (WebPushException, ValueError, TypeError) as error:  # unusable keys
            return PushOutcome(target.id, ok=False, error=f"subscription: {error}"[:300]), None
        if response.status_code in self.ACCEPTED:
            return PushOutcome(target.id, ok=True), response.headers.get("Location")
        text = response.text[:200] if response.text else ""
        error = f"push service {response.status_code}: {text}"
        return PushOutcome(target.id, ok=False, gone=response.status_code in self.GONE,
                           error=error[:300]), None

    def ttl_for(self, message: Outgoing) -> int:
        return self.urgent_ttl if message.urgent else self.ttl

    def send(self, message: Outgoing) -> Result:
        if not message.push_targets:
            return Result(ok=False, permanent=True, error="no live push subscription")
        payload = self.payload(message)
        outcomes, locations = [], []
        for target in message.push_targets:
            outcome, location = self.push(message, target, payload)
            outcomes.append(outcome)
            if outcome.ok:
                locations.append(location)
        if locations:
            awaits = bool(message.urgent and self.ack_secret and self.ack_url)
            provider_id = next((loc for loc in locations if loc), None)
            return Result(ok=True, provider_message_id=(provider_id or "")[-100:] or None,
                          awaits_receipt=awaits, push_outcomes=tuple(outcomes))
        errors = "; ".join(o.error or "" for o in outcomes)
        return Result(ok=False, permanent=True, error=errors[:2000],
                      push_outcomes=tuple(outcomes))

    def close(self) -> None:
        session = getattr(self.local, "session", None)
        self.local.session = None
        if session is not None:
            session.close()


def _first_url(text: str) -> str | None:
    """A message without its own link opens the first link in its text (a one-tap answer)."""
    found = re.search(r"https?://[^\s<>\"'，。）)]+", text)
    return found.group(0) if found else None
