"""Local stand-ins for Alibaba Cloud SMS and Tencent Cloud SMS, as their documentation says.

Each server checks a request the way the provider does: the signature recomputed here from
the documented algorithm (not with the client's code), the credentials, the API version,
the signature name, the template code and that the parameters are exactly the template's
variables. It answers in the provider's format and records what a phone would show (the
approved wording with the parameters in place). Like the providers, they do NOT
de-duplicate: a repeated request is sent again (`sent` shows it).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote

from tests.notify.servers import free_port

VARIABLE = re.compile(r"\$\{(\w+)\}")


class _Server:
    """A threading HTTP server in a thread; subclasses answer `handle(headers, body)`."""

    def __init__(self, templates: dict[str, str], sign_name: str):
        self.templates = templates  # code -> wording with ${name} (Aliyun) or {n} (Tencent)
        self.sign_name = sign_name
        self.sent: list[dict] = []  # one entry per phone message accepted
        self.requests = 0
        self.refused: list[str] = []  # why requests were refused
        self.fail_next: list[tuple[int, dict]] = []  # queued (status, answer) to give instead
        self.lock = threading.Lock()
        self.serials = itertools.count(1)
        self.port = free_port()
        self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16  # the answer in one write (flushed per request): no Nagle wait

            def do_POST(self):
                declared = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(declared)
                if len(body) < declared:  # the client died mid-request: nothing to answer
                    self.close_connection = True
                    return
                with outer.lock:
                    outer.requests += 1
                    status, answer = (outer.fail_next.pop(0) if outer.fail_next
                                      else outer.handle(self.headers, body))
                data = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda *_args: None  # a killed client resets: expected
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def clear(self) -> None:
        with self.lock:
            self.sent.clear()
            self.refused.clear()
            self.fail_next.clear()
            self.requests = 0

    def refuse(self, status: int, answer: dict, why: str):
        self.refused.append(why)
        return status, answer


class AliyunSms(_Server):
    """Dysmsapi 2017-05-25 SendSms / SendBatchSms, RPC signature version 1.0."""

    def __init__(self, templates, sign_name="志愿汇", key_id="test-key-id",
                 key_secret="test-key-secret"):
        super().__init__(templates, sign_name)
        self.key_id, self.key_secret = key_id, key_secret
        self.nonces: set[str] = set()

    @staticmethod
    def signature(params: dict, secret: str, method: str) -> str:
        """As documented: sort by name, percent-encode names and values (RFC 3986; space
        %20, * %2A, ~ unencoded), join with & and =; StringToSign = METHOD&%2F&encoded;
        HMAC-SHA1 keyed with secret + '&', base64."""
        def encode(text: str) -> str:
            return quote(text, safe="-_.~")

        query = "&".join(encode(k) + "=" + encode(params[k]) for k in sorted(params))
        to_sign = method + "&" + encode("/") + "&" + encode(query)
        mac = hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1)
        return base64.b64encode(mac.digest()).decode()

    def handle(self, headers, body: bytes):
        params = dict(parse_qsl(body.decode(), keep_blank_values=True))
        given = params.pop("Signature", "")
        if params.get("AccessKeyId") != self.key_id:
            return self.refuse(404, {"Code": "InvalidAccessKeyId.NotFound"}, "key id")
        if given != self.signature(params, self.key_secret, "POST"):
            return self.refuse(400, {"Code": "SignatureDoesNotMatch",
                                     "Message": "Specified signature is not matched"},
                               "signature")
        nonce = params.get("SignatureNonce", "")
        moment = datetime.strptime(params.get("Timestamp", ""), "%Y-%m-%dT%H:%M:%SZ")
        fresh = abs(moment.replace(tzinfo=timezone.utc).timestamp() - time.time()) < 900
        if nonce in self.nonces or not fresh or params.get("SignatureMethod") != "HMAC-SHA1" \
                or params.get("SignatureVersion") != "1.0" or params.get("Format") != "JSON":
            return self.refuse(400, {"Code": "SignatureNonceUsed"}, "nonce or timestamp")
        self.nonces.add(nonce)
        if params.get("Version") != "2017-05-25":
            return self.refuse(400, {"Code": "InvalidVersion"}, "version")
        if params.get("Action") == "SendSms":
            phones = params["PhoneNumbers"].split(",")
            signs = [params["SignName"]] * len(phones)
            values = [json.loads(params["TemplateParam"])] * len(phones)
        elif params.get("Action") == "SendBatchSms":
            phones = json.loads(params["PhoneNumberJson"])
            signs = json.loads(params["SignNameJson"])
            values = json.loads(params["TemplateParamJson"])
            if not len(phones) == len(signs) == len(values) or len(phones) > 100:
                return self.refuse(400, {"Code": "isv.INVALID_JSON_PARAM"}, "batch lengths")
        else:
            return self.refuse(400, {"Code": "InvalidAction"}, "action")
        wording = self.templates.get(params.get("TemplateCode"))
        if wording is None:
            return self.refuse(200, {"Code": "isv.SMS_TEMPLATE_ILLEGAL"}, "template code")
        if any(sign != self.sign_name for sign in signs):
            return self.refuse(200, {"Code": "isv.SMS_SIGNATURE_ILLEGAL"}, "sign name")
        names = set(VARIABLE.findall(wording))
        for value in values:
            if set(value) != names or any(not str(v) or len(str(v)) > 35
                                          for v in value.values()):
                return self.refuse(200, {"Code": "isv.TEMPLATE_PARAMS_ILLEGAL"},
                                   f"params {value} for {sorted(names)}")
        biz_id = f"{next(self.serials)}^0"
        for phone, value in zip(phones, values):
            self.sent.append({"phone": phone, "template": params["TemplateCode"],
                              "params": value, "out_id": params.get("OutId"),
                              "biz_id": biz_id, "action": params["Action"],
                              "text": f"【{self.sign_name}】" + VARIABLE.sub(
                                  lambda m: str(value[m.group(1)]), wording)})
        return 200, {"Code": "OK", "Message": "OK", "BizId": biz_id,
                     "RequestId": f"req-{biz_id}"}


class TencentSms(_Server):
    """SMS 2021-01-11 SendSms, TC3-HMAC-SHA256."""

    def __init__(self, templates, sign_name="志愿汇", secret_id="AKIDtest",
                 secret_key="tencent-secret", sdk_app_id="1400000001"):
        super().__init__(templates, sign_name)
        self.secret_id, self.secret_key, self.sdk_app_id = secret_id, secret_key, sdk_app_id

    def expected_signature(self, headers, body: bytes, date: str) -> str:
        """As documented: CanonicalRequest = POST\\n/\\n\\ncontent-type:..\\nhost:..\\n\\n
        content-type;host\\nhex(sha256(body)); StringToSign = TC3-HMAC-SHA256\\ntimestamp\\n
        date/sms/tc3_request\\nhex(sha256(CanonicalRequest)); key chain TC3+secret -> date ->
        service -> tc3_request."""
        canonical = ("POST\n/\n\n"
                     f"content-type:{headers['Content-Type'].lower()}\n"
                     f"host:{headers['Host'].lower()}\n\n"
                     "content-type;host\n" + hashlib.sha256(body).hexdigest())
        to_sign = (f"TC3-HMAC-SHA256\n{headers['X-TC-Timestamp']}\n{date}/sms/tc3_request\n"
                   + hashlib.sha256(canonical.encode()).hexdigest())
        key = ("TC3" + self.secret_key).encode()
        for part in (date, "sms", "tc3_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()

    def error(self, code: str, why: str):
        return self.refuse(200, {"Response": {"Error": {"Code": code, "Message": why},
                                              "RequestId": "req"}}, why)

    def handle(self, headers, body: bytes):
        found = re.fullmatch(r"TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d{2}-\d{2})/sms/"
                             r"tc3_request, SignedHeaders=content-type;host, "
                             r"Signature=([0-9a-f]{64})", headers.get("Authorization", ""))
        if found is None or found.group(1) != self.secret_id:
            return self.error("AuthFailure.SecretIdNotFound", "credential")
        timestamp = int(headers.get("X-TC-Timestamp", "0"))
        date = datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d")
        if abs(timestamp - time.time()) > 300 or date != found.group(2):
            return self.error("AuthFailure.SignatureExpire", "timestamp")
        if found.group(3) != self.expected_signature(headers, body, date):
            return self.error("AuthFailure.SignatureFailure", "signature")
        if (headers.get("X-TC-Action"), headers.get("X-TC-Version")) != ("SendSms",
                                                                         "2021-01-11"):
            return self.error("InvalidAction", "action or version")
        request = json.loads(body)
        if request.get("SmsSdkAppId") != self.sdk_app_id:
            return self.error("FailedOperation.SmsSdkAppIdVerifyFail", "sdk app id")
        if request.get("SignName") != self.sign_name:
            return self.error("FailedOperation.SignatureIncorrectOrUnapproved", "sign name")
        wording = self.templates.get(request.get("TemplateId"))
        if wording is None:
            return self.error("FailedOperation.TemplateIncorrectOrUnapproved", "template")
        values = request.get("TemplateParamSet") or []
        if len(values) != len(re.findall(r"\{\d+\}", wording)) or any(
                not v or len(v) > 35 for v in values):
            return self.error("InvalidParameterValue.TemplateParameterFormatError",
                              f"params {values}")
        phones = request.get("PhoneNumberSet") or []
        if not phones or len(phones) > 200 or not all(re.fullmatch(r"\+\d{6,15}", p)
                                                      for p in phones):
            return self.error("InvalidParameterValue.IncorrectPhoneNumber", "phones")
        if len({p.startswith("+86") for p in phones}) > 1:  # documented: all mainland or all
            return self.error("InvalidParameterValue.IncorrectPhoneNumber",  # global numbers
                              "mainland and global numbers in one request")
        statuses = []
        for phone in phones:
            serial = f"2640:{next(self.serials):020d}"
            text = re.sub(r"\{(\d+)\}", lambda m: values[int(m.group(1)) - 1], wording)
            self.sent.append({"phone": phone, "template": request["TemplateId"],
                              "params": values, "serial": serial, "text":
                              f"【{self.sign_name}】{text}",
                              "context": request.get("SessionContext")})
            statuses.append({"SerialNo": serial, "PhoneNumber": phone, "Fee": 1,
                             "SessionContext": request.get("SessionContext", ""),
                             "Code": "Ok", "Message": "send success", "IsoCode": "CN"})
        return 200, {"Response": {"SendStatusSet": statuses, "RequestId": "req"}}
