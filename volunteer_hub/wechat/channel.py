"""The WeChat channel: one template message (模板消息) per outbox row.

    POST {WECHAT_API_BASE}/cgi-bin/message/template/send?access_token=TOKEN
    {"touser": OPENID, "template_id": ID, "url": the message's one-tap link,
     "client_msg_id": the idempotency key, "data": {"<field>": {"value": "..."}, ...}}
    -> {"errcode": 0, "errmsg": "ok", "msgid": 200228332}

`client_msg_id` is WeChat's own guard against a re-sent request (one message per openid and
id within minutes), so a row sent again after a worker crash does not ring twice. The result
awaits a receipt: WeChat pushes TEMPLATESENDJOBFINISH with the msgid (views.events), and the
channel's receipt timeout sends the next channel when none comes.

The address is the binding's ciphertext (`wechat_bindings.openid_encrypted`, copied by the
fan-out): the channel decrypts it itself, with the data key, because a send thread has no app
context; the clear openid exists only in the request.

The template of a message is chosen by its kind (volunteer_hub.sms.kinds, the same names as
the SMS templates) in WECHAT_TEMPLATES.
"""
from __future__ import annotations

from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken

from volunteer_hub.notify.channels import Channel, Outgoing, Result, _first_url
from volunteer_hub.wechat.client import Settings, WeChatApi, WeChatError, api_for

SEND_PATH = "/cgi-bin/message/template/send"
# Worth another try later: system busy, a frequency or daily quota reached.
TRANSIENT_ERRCODES = {-1, 45009, 45011, 45047}
# WeChat's limits on a template field's value by the field's type (the name before its
# number): longer values are refused (errcode 47003), so they are shortened here.
FIELD_LIMITS = {"thing": 20, "character_string": 32, "phrase": 5, "letter": 32,
                "symbol": 5, "number": 32, "car_number": 8, "name": 10}
# Fields of the older templates (first, keyword1, remark) have no documented limit: a value
# stays readable on a phone's lock screen.
VALUE_MAX_CHARS = 200


@dataclass(frozen=True)
class Template:
    template_id: str
    fields: dict[str, str]  # template field -> kind parameter (title, code, text)

    @classmethod
    def of(cls, setting) -> Template | None:
        if isinstance(setting, str) and setting:
            return cls(setting, {})
        if isinstance(setting, dict) and setting.get("template_id"):
            return cls(str(setting["template_id"]), dict(setting.get("fields") or {}))
        return None

    def data(self, params: dict[str, str]) -> dict[str, dict[str, str]]:
        """The request's `data`: each field's value, shortened to its type's limit."""
        fields = self.fields or {name: name for name in params}
        return {field: {"value": _within_limit(field, params.get(param, ""))}
                for field, param in fields.items()}


def _within_limit(field: str, value: str) -> str:
    kind = field.rstrip("0123456789")
    limit = FIELD_LIMITS.get(kind)
    if limit is None or len(value) <= limit:
        return value
    return value[:limit - 1] + "…"


class WeChatChannel(Channel):
    name = "wechat"

    def __init__(self, api: WeChatApi, data_key: str, templates: dict, short_link_secret: bytes):
        self.api = api
        self.fernet = Fernet(data_key.encode())
        self.templates = {kind: Template.of(setting) for kind, setting in templates.items()}
        self.short_link_secret = short_link_secret

    @classmethod
    def from_config(cls, config=None, app=None) -> WeChatChannel | None:
        """The channel for `app` (None when WECHAT_APP_ID/SECRET are not set); `config`, the
        notify settings the registry passes, is not needed."""
        from flask import current_app

        from volunteer_hub.sms.links import link_secret

        app = app or current_app._get_current_object()
        api = api_for(app)
        if api is None:
            return None
        return cls(api, app.config["DATA_ENCRYPTION_KEY"], Settings.of(app).templates,
                   link_secret(app))

    def openid(self, address: str | None) -> str | None:
        if not address:
            return None
        try:
            return self.fernet.decrypt(address.encode()).decode()
        except InvalidToken:
            return None

    def request_body(self, message: Outgoing, openid: str) -> dict | None:
        """The template message for `message`, or None when its kind has no template."""
        from volunteer_hub.sms.kinds import kind_for
        from volunteer_hub.sms.links import short_code

        kind = kind_for(getattr(message, "event_key", "") or "")
        template = self.templates.get(kind.name)
        if template is None:
            return None
        params = kind.values(subject=message.subject, body=message.body,
                             code=short_code(message.id, self.short_link_secret),
                             max_chars=VALUE_MAX_CHARS)
        body = {"touser": openid, "template_id": template.template_id,
                "client_msg_id": message.idempotency_key, "data": template.data(params)}
        url = message.link or _first_url(message.body)
        if url:
            body["url"] = url
        return body

    def send(self, message: Outgoing) -> Result:
        openid = self.openid(message.address)
        if openid is None:
            return Result(ok=False, permanent=True, error="no WeChat binding")
        body = self.request_body(message, openid)
        if body is None:
            return Result(ok=False, permanent=True, error="no WeChat template for this kind "
                          "of message (WECHAT_TEMPLATES)")
        try:
            answer = self.api.call("POST", SEND_PATH, json_body=body)
        except WeChatError as error:
            return self._failed(error)
        msgid = answer.get("msgid")
        return Result(ok=True, provider_message_id=str(msgid) if msgid is not None else None,
                      awaits_receipt=msgid is not None, delivered=msgid is None)

    @staticmethod
    def _failed(error: WeChatError) -> Result:
        if error.unanswered:
            return Result(ok=False, error=str(error), unanswered=True)
        permanent = error.errcode not in TRANSIENT_ERRCODES
        return Result(ok=False, permanent=permanent, error=str(error))

    def close(self) -> None:
        self.api.close()
