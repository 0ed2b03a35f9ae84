"""Template SMS clients for Alibaba Cloud (Dysmsapi) and Tencent Cloud (SMS 2021-01-11).

Small clients that sign as each provider documents, rather than the official SDKs: those
pull large dependency stacks (alibabacloud-tea-openapi, tencentcloud-sdk-python-common and
their HTTP layers), retry on their own behind the dispatcher's back, and hide the batch
results and ids that the outbox's retries and receipts are built on.

Alibaba Cloud: RPC-style API, signature version 1.0 (HMAC-SHA1 over the sorted, percent-
encoded parameters; the documentation's SendSms example is a test vector). One message:
SendSms with OutId = the message's idempotency key; a batch (SMS_BATCH > 1, at most 100):
SendBatchSms, one TemplateParam object per number, OutId naming the batch. The provider
answers one BizId per request; a receipt carries it with the phone number, so each message
is known as "<BizId>:<keyed digest of its number>" (no number in clear in the outbox).

Tencent Cloud: API 3.0 signed with TC3-HMAC-SHA256 (the documentation's worked example is a
test vector). SendSms takes up to 200 numbers but ONE TemplateParamSet, so a batch groups
messages whose parameters are equal (a call-out's personal links make each its own request);
SessionContext carries the idempotency key (or the batch's name) and each number's SerialNo
is the id its status report comes back with.

Neither provider de-duplicates a repeated request (both say so: "不支持幂等"). What keeps a
retried message from going twice is the outbox: only a message without an answer (a timeout,
a lost connection) is sent again, and a batch's per-number results retry only the numbers
that failed. A worker that dies between the provider's acceptance and the recorded result
sends that message again, as it would with any provider; the OutId / SessionContext in the
receipt shows the copy.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import logging
import re
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from urllib.parse import quote, urlencode, urlsplit

from volunteer_hub.notify.channels import NO_PHONE, Channel, Outgoing, Result
from volunteer_hub.sms import kinds
from volunteer_hub.sms.links import short_code

log = logging.getLogger(__name__)


# --- signing --------------------------------------------------------------------------------

def percent_encode(value: str) -> str:
    """RFC 3986 as Alibaba Cloud's POP signing uses it (space %20, '*' %2A, '~' kept)."""
    return quote(str(value), safe="~")


def aliyun_signature(params: dict[str, str], secret: str, method: str = "POST") -> str:
    """Signature version 1.0: HMAC-SHA1 with key `secret + "&"` over
    METHOD & %2F & encode(sorted encoded key=value pairs joined by &), base64."""
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}"
                         for k, v in sorted(params.items()))
    string_to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def tc3_signature(*, secret_key: str, service: str, host: str, payload: bytes,
                  timestamp: int, content_type: str = "application/json; charset=utf-8"
                  ) -> tuple[str, str]:
    """TC3-HMAC-SHA256 of a POST to "/" signing content-type and host: (date, signature)."""
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    canonical_request = "\n".join([
        "POST", "/", "", f"content-type:{content_type}\nhost:{host}\n", "content-type;host",
        hashlib.sha256(payload).hexdigest()])
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join(["TC3-HMAC-SHA256", str(timestamp), scope,
                                hashlib.sha256(canonical_request.encode()).hexdigest()])

    def sign(key: bytes, message: str) -> bytes:
        return hmac.new(key, message.encode(), hashlib.sha256).digest()

    signing_key = sign(sign(sign(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    return date, hmac.new(signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()


# --- phone numbers ----------------------------------------------------------------------------

def _digits(phone: str) -> str:
    return "".join(c for c in phone if c.isdigit() or c == "+")


def mainland_or_international(phone: str) -> str:
    """Alibaba Cloud's form: a mainland number bare, another with its country code."""
    digits = _digits(phone)
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            return digits[len(prefix):]
    return digits.lstrip("+")


def e164(phone: str) -> str:
    """Tencent Cloud's form: +<country code><number>; a bare number is mainland China's."""
    digits = _digits(phone)
    if digits.startswith("00"):
        return "+" + digits[2:]
    return digits if digits.startswith("+") else "+86" + digits


def phone_tag(phone: str, secret: bytes) -> str:
    """A short keyed digest of a number: matches a receipt to its message, reveals nothing."""
    digits = mainland_or_international(phone)
    return hmac.new(secret, digits.encode(), hashlib.sha256).hexdigest()[:12]


_NUMBER = re.compile(r"\+?\d{7,}")


def provider_text(text) -> str:
    """A provider's message for the outbox row and the log: short, and without anything
    like a phone number (a parameter check may quote the number it refused)."""
    return _NUMBER.sub("***", str(text or ""))[:200]


# --- HTTP -------------------------------------------------------------------------------------

class KeepAlivePoster:
    """POSTs to one endpoint over a kept-alive connection per sending thread."""

    def __init__(self, url: str, timeout: float):
        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if self.https else 80)
        self.netloc = parts.netloc
        self.path = parts.path or "/"
        self.timeout = timeout
        self.local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
            connection = self.local.connection = cls(self.host, self.port, timeout=self.timeout)
        return connection

    def close(self) -> None:
        connection = getattr(self.local, "connection", None)
        self.local.connection = None
        if connection is not None:
            connection.close()

    def post(self, body: bytes, headers: dict) -> tuple[int | None, bytes | str]:
        """(status, body), or (None, what went wrong) when no answer came."""
        for attempt in (1, 2):  # a kept-alive connection may have been closed meanwhile
            try:
                connection = self._connection()
                connection.request("POST", self.path, body=body, headers=headers)
                response = connection.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError) as error:
                self.close()
                if attempt == 2:
                    return None, f"{error!r}"
            except (OSError, socket.timeout, http.client.HTTPException) as error:
                self.close()
                return None, f"{error!r}"
        return None, "unreachable"  # pragma: no cover


# --- the channels -----------------------------------------------------------------------------

class TemplateSmsChannel(Channel):
    """What both providers share: a kind, its template code and parameters per message."""

    name = "sms"
    provider = "template"
    max_batch = 1

    def __init__(self, *, endpoint: str, sign_name: str, templates: dict, link_secret: bytes,
                 timeout: float = 10.0, batch_size: int = 1,
                 param_max_chars: int = kinds.DEFAULT_PARAM_MAX_CHARS,
                 parallel_requests: int = 8):
        self.poster = KeepAlivePoster(endpoint, timeout)
        self.sign_name = sign_name
        self.templates = templates or {}
        self.link_secret = link_secret
        self.batch_size = max(1, min(int(batch_size), self.max_batch))
        self.param_max_chars = param_max_chars
        self.parallel_requests = parallel_requests
        self.pool: ThreadPoolExecutor | None = None
        self.pool_lock = threading.Lock()

    def template_of(self, message: Outgoing) -> tuple[str, dict[str, str]] | Result:
        """(template code, named parameters) of a message, or why it cannot go."""
        kind = kinds.kind_for(message.event_key)
        code = _template_code(self.templates, kind.name, message.locale)
        if not code:
            return Result(ok=False, permanent=True,
                          error=f"{self.provider}: no template for message kind {kind.name}")
        return code, kind.values(subject=message.subject, body=message.body,
                                 code=short_code(message.id, self.link_secret),
                                 max_chars=self.param_max_chars)

    def send(self, message: Outgoing) -> Result:
        return self.send_many([message])[0]

    def send_many(self, messages: list[Outgoing]) -> list[Result]:
        results: dict[int, Result] = {}
        ready: list[tuple[Outgoing, str, dict]] = []
        for message in messages:
            found = NO_PHONE if not message.address else self.template_of(message)
            if isinstance(found, Result):
                results[message.id] = found
            else:
                ready.append((message, *found))
        requests = self.requests(ready)
        if len(requests) > 1:  # e.g. a call-out's personal parameters on Tencent Cloud
            for answered in self._pool().map(self.send_request, requests):
                results.update(answered)
        elif requests:
            results.update(self.send_request(requests[0]))
        return [results[m.id] for m in messages]

    def _pool(self) -> ThreadPoolExecutor:
        """Threads for the requests of one batch that cannot share a request: a batch is
        one send thread's work, and sending them one after another would make batch mode
        slower than none."""
        with self.pool_lock:
            if self.pool is None:
                self.pool = ThreadPoolExecutor(max_workers=self.parallel_requests,
                                               thread_name_prefix=f"sms-{self.provider}")
            return self.pool

    def requests(self, ready: list[tuple[Outgoing, str, dict]]) -> list[list]:
        """The provider requests that carry `ready`: same group (template code), distinct
        numbers, at most `batch_size` each."""
        done: list[list] = []
        filling: dict[str, list[list]] = {}  # per group, the requests not yet full
        for item in ready:
            group = filling.setdefault(self.group_key(item), [])
            request = next((r for r in group if all(other[0].address != item[0].address
                                                    for other in r)), None)
            if request is None:
                request = []
                group.append(request)
            request.append(item)
            if len(request) >= self.batch_size:
                group.remove(request)
                done.append(request)
        return done + [request for group in filling.values() for request in group]

    def group_key(self, item) -> str:
        return item[1]

    def send_request(self, request: list) -> dict[int, Result]:  # pragma: no cover
        raise NotImplementedError

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None
        self.poster.close()


def _template_code(templates: dict, kind: str, locale: str) -> str | None:
    """SMS_TEMPLATES[provider][kind]: a code, or {locale: code} (the language's own, else
    the first language's)."""
    found = templates.get(kind)
    if isinstance(found, dict):
        language = (locale or "").split("_")[0].lower()
        for key, code in found.items():
            if key.split("_")[0].lower() == language:
                return code
        return next(iter(found.values()), None)
    return found


class AliyunSmsChannel(TemplateSmsChannel):
    """Alibaba Cloud SMS: SendSms, or SendBatchSms for a batch (at most 100 numbers)."""

    provider = "aliyun"
    max_batch = 100
    VERSION = "2017-05-25"
    # Answers a later request may not get: flow control and the provider's own faults.
    TRANSIENT_CODES = {"isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL", "Throttling",
                       "Throttling.User", "ServiceUnavailable", "InternalError",
                       "isv.OUT_OF_SERVICE", "isv.AMOUNT_NOT_ENOUGH"}

    def __init__(self, *, access_key_id: str, access_key_secret: str,
                 region: str = "cn-hangzhou", **options):
        super().__init__(**options)
        self.access_key_id, self.access_key_secret = access_key_id, access_key_secret
        self.region = region

    def signed_body(self, params: dict[str, str], *, nonce: str | None = None,
                    timestamp: str | None = None) -> bytes:
        common = {"AccessKeyId": self.access_key_id, "Format": "JSON",
                  "RegionId": self.region, "SignatureMethod": "HMAC-SHA1",
                  "SignatureNonce": nonce or uuid.uuid4().hex, "SignatureVersion": "1.0",
                  "Timestamp": timestamp or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "Version": self.VERSION}
        signed = {**common, **params}
        signed["Signature"] = aliyun_signature(signed, self.access_key_secret, "POST")
        return urlencode(signed, quote_via=quote, safe="~").encode()

    def request_params(self, request: list) -> dict[str, str]:
        compact = {"ensure_ascii": False, "separators": (",", ":")}
        if len(request) == 1:
            message, template, params = request[0]
            return {"Action": "SendSms", "PhoneNumbers": mainland_or_international(
                        message.address), "SignName": self.sign_name,
                    "TemplateCode": template, "TemplateParam": json.dumps(params, **compact),
                    "OutId": message.idempotency_key}
        first = request[0][0].idempotency_key
        return {"Action": "SendBatchSms",
                "PhoneNumberJson": json.dumps([mainland_or_international(m.address)
                                               for m, _t, _p in request], **compact),
                "SignNameJson": json.dumps([self.sign_name] * len(request), **compact),
                "TemplateCode": request[0][1],
                "TemplateParamJson": json.dumps([p for _m, _t, p in request], **compact),
                "OutId": f"{first}+{len(request) - 1}"}  # not a message key: one per batch

    def send_request(self, request: list) -> dict[int, Result]:
        ids = [message.id for message, _t, _p in request]
        status, body = self.poster.post(
            self.signed_body(self.request_params(request)),
            {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        if status is None:
            return dict.fromkeys(ids, Result(ok=False, error=f"aliyun: {body}",
                                             unanswered=True))
        try:
            answer = json.loads(body)
            code = str(answer.get("Code", ""))
        except (ValueError, AttributeError):
            return dict.fromkeys(ids, Result(ok=False, permanent=400 <= status < 500 and
                                             status not in (408, 429),
                                             error=f"aliyun {status}: unreadable answer"))
        if code == "OK" and answer.get("BizId"):
            biz_id = answer["BizId"]
            return {message.id: Result(ok=True, awaits_receipt=True, provider_message_id=(
                f"{biz_id}:{phone_tag(message.address, self.link_secret)}"))
                for message, _t, _p in request}
        transient = code in self.TRANSIENT_CODES or code.startswith("isp.") or status >= 500
        error = f"aliyun {status} {code}: {provider_text(answer.get('Message'))}"
        return dict.fromkeys(ids, Result(ok=False, permanent=not transient, error=error))


class TencentSmsChannel(TemplateSmsChannel):
    """Tencent Cloud SMS SendSms (2021-01-11); up to 200 numbers sharing one parameter set."""

    provider = "tencent"
    max_batch = 200
    SERVICE, ACTION, VERSION = "sms", "SendSms", "2021-01-11"
    CONTENT_TYPE = "application/json; charset=utf-8"
    TRANSIENT_PREFIXES = ("InternalError", "LimitExceeded", "RequestLimitExceeded",
                          "ResourceUnavailable")

    def __init__(self, *, secret_id: str, secret_key: str, sdk_app_id: str,
                 region: str = "ap-guangzhou", **options):
        super().__init__(**options)
        self.secret_id, self.secret_key = secret_id, secret_key
        self.sdk_app_id, self.region = sdk_app_id, region

    def group_key(self, item) -> str:
        """Same template and parameters, and all mainland or all global numbers: SendSms
        refuses a request that mixes them."""
        message, template, params = item
        mainland = e164(message.address).startswith("+86")
        return json.dumps([template, list(params.values()), mainland], ensure_ascii=False)

    def payload(self, request: list) -> bytes:
        _message, template, params = request[0]
        context = (request[0][0].idempotency_key if len(request) == 1 else
                   f"{request[0][0].idempotency_key}+{len(request) - 1}")
        return json.dumps({"PhoneNumberSet": [e164(m.address) for m, _t, _p in request],
                           "SmsSdkAppId": self.sdk_app_id, "SignName": self.sign_name,
                           "TemplateId": template,
                           "TemplateParamSet": list(params.values()),
                           "SessionContext": context}, ensure_ascii=False).encode()

    def headers(self, payload: bytes, timestamp: int | None = None) -> dict:
        timestamp = int(time.time()) if timestamp is None else timestamp
        host = self.poster.netloc
        date, signature = tc3_signature(secret_key=self.secret_key, service=self.SERVICE,
                                        host=host, payload=payload, timestamp=timestamp,
                                        content_type=self.CONTENT_TYPE)
        credential = f"{self.secret_id}/{date}/{self.SERVICE}/tc3_request"
        return {"Authorization": f"TC3-HMAC-SHA256 Credential={credential}, "
                                 f"SignedHeaders=content-type;host, Signature={signature}",
                "Content-Type": self.CONTENT_TYPE, "Host": host,
                "X-TC-Action": self.ACTION, "X-TC-Timestamp": str(timestamp),
                "X-TC-Version": self.VERSION, "X-TC-Region": self.region}

    def send_request(self, request: list) -> dict[int, Result]:
        ids = [message.id for message, _t, _p in request]
        payload = self.payload(request)
        status, body = self.poster.post(payload, self.headers(payload))
        if status is None:
            return dict.fromkeys(ids, Result(ok=False, error=f"tencent: {body}",
                                             unanswered=True))
        try:
            answer = json.loads(body)["Response"]
        except (ValueError, KeyError, TypeError):
            return dict.fromkeys(ids, Result(ok=False, permanent=400 <= status < 500 and
                                             status not in (408, 429),
                                             error=f"tencent {status}: unreadable answer"))
        if "Error" in answer or status >= 300:
            error = answer.get("Error") or {}
            return dict.fromkeys(ids, self._refused(str(error.get("Code", status)),
                                                    str(error.get("Message", ""))))
        by_number = {str(s.get("PhoneNumber")): s for s in answer.get("SendStatusSet") or []}
        results = {}
        for message, _t, _p in request:
            found = by_number.get(e164(message.address))
            if found is None:
                results[message.id] = Result(ok=False, error="tencent left the number out")
            elif str(found.get("Code")).lower() == "ok" and found.get("SerialNo"):
                results[message.id] = Result(ok=True, awaits_receipt=True,
                                             provider_message_id=str(found["SerialNo"])[:100])
            else:
                results[message.id] = self._refused(str(found.get("Code")),
                                                    str(found.get("Message", "")))
        return results

    def _refused(self, code: str, text: str) -> Result:
        transient = code.startswith(self.TRANSIENT_PREFIXES)
        return Result(ok=False, permanent=not transient,
                      error=f"tencent {code}: {provider_text(text)}")
