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

Receipts and replies come back to /api/v1/notify/sms/receipts and /api/v1/notify/sms/inbound
(see api.py), authenticated by the `X-Gateway-Secret` header.
"""
from __future__ import annotations

import http.client
import json
import smtplib
import socket
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Outgoing:
    id: int
    channel: str
    address: str | None
    subject: str
    body: str
    locale: str
    idempotency_key: str


@dataclass(frozen=True)
class Result:
    ok: bool
    permanent: bool = False  # a failure that retrying cannot fix
    provider_message_id: str | None = None
    error: str | None = None
    delivered: bool = False  # final on acceptance (no receipt will follow)
    awaits_receipt: bool = False


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

    def take(self) -> None:
        if self.rate <= 0:
            return
        while True:
            with self.lock:
                moment = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (moment - self.updated) * self.rate)
                self.updated = moment
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                wait = (1 - self.tokens) / self.rate
            time.sleep(wait)


class Channel:
    name = "base"

    def send(self, message: Outgoing) -> Result:  # pragma: no cover - interface
        raise NotImplementedError

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
                    return Result(ok=False, error=f"SMTP disconnected: {error}")
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
                return Result(ok=False, error=f"SMTP: {error}")
        return Result(ok=False, error="SMTP: unreachable")  # pragma: no cover

    def close(self) -> None:
        self._drop()


class SmsGatewayChannel(Channel):
    """SMS through the generic JSON webhook described above; keep-alive per sending thread."""

    name = "sms"
    TRANSIENT_STATUSES = {408, 425, 429}

    def __init__(self, url: str, key: str | None, *, timeout: float = 10.0):
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

    def send(self, message: Outgoing) -> Result:
        if not message.address:
            return Result(ok=False, permanent=True, error="no phone number")
        payload = json.dumps({"id": message.idempotency_key, "to": message.address,
                              "text": message.body}, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        for attempt in (1, 2):  # a kept-alive connection may have been closed meanwhile
            try:
                connection = self._connection()
                connection.request("POST", self.path, body=payload, headers=headers)
                response = connection.getresponse()
                body = response.read()
                status = response.status
                break
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError) as error:
                self._drop()
                if attempt == 2:
                    return Result(ok=False, error=f"gateway: {error!r}")
            except (OSError, socket.timeout, http.client.HTTPException) as error:
                self._drop()
                return Result(ok=False, error=f"gateway: {error!r}")
        if 200 <= status < 300:
            try:
                provider_id = str(json.loads(body)["message_id"])
            except (ValueError, KeyError, TypeError):
                return Result(ok=False, error=f"gateway answered {status} without message_id")
            return Result(ok=True, provider_message_id=provider_id, awaits_receipt=True)
        text = body[:200].decode("utf-8", "replace")
        permanent = 400 <= status < 500 and status not in self.TRANSIENT_STATUSES
        return Result(ok=False, permanent=permanent, error=f"gateway {status}: {text}")

    def close(self) -> None:
        self._drop()
