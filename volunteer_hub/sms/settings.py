"""Which SMS provider sends, from settings (SMS_PROVIDER: webhook | aliyun | tencent).

Every provider is optional: without its keys SMS is simply not available, and the channel
registry falls back to the next channel as it does for a missing phone number.
"""
from __future__ import annotations

import json

from flask import current_app

PROVIDERS = ("webhook", "aliyun", "tencent")
ALIYUN_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
TENCENT_ENDPOINT = "https://sms.tencentcloudapi.com/"


def _config(app=None):
    return (app or current_app).config


def provider(app=None) -> str:
    """The configured provider; the webhook when none is named (older deployments)."""
    name = str(_config(app).get("SMS_PROVIDER") or "webhook").strip().lower()
    if name not in PROVIDERS:
        raise ValueError(f"SMS_PROVIDER must be one of {', '.join(PROVIDERS)}, not {name!r}")
    return name


def _set(config, *keys) -> bool:
    return all(config.get(key) for key in keys)


def sms_configured(app=None) -> bool:
    """Whether SMS can be sent: the chosen provider has its address or keys."""
    config = _config(app)
    required = {"webhook": ("SMS_GATEWAY_URL",),
                "aliyun": ("ALIYUN_SMS_ACCESS_KEY_ID", "ALIYUN_SMS_ACCESS_KEY_SECRET",
                           "SMS_SIGN_NAME"),
                "tencent": ("TENCENT_SMS_SECRET_ID", "TENCENT_SMS_SECRET_KEY",
                            "TENCENT_SMS_SDK_APP_ID", "SMS_SIGN_NAME")}[provider(app)]
    return _set(config, *required)


def templates(app=None, name: str | None = None) -> dict:
    """SMS_TEMPLATES[provider]: message kind -> template code (or {locale: code}); a JSON
    string from the environment is read as JSON."""
    found = _config(app).get("SMS_TEMPLATES") or {}
    if isinstance(found, str):
        found = json.loads(found)
    return dict(found.get(name or provider(app)) or {})


def batch_size(app=None) -> int:
    config = _config(app)
    return int(config.get("SMS_BATCH") or config.get("SMS_GATEWAY_BATCH") or 1)


def build_channel(config, app=None):
    """The SMS channel of the configured provider, or None when it is not configured.
    `config`: notify's Settings (the webhook's address, key and batch live there)."""
    from volunteer_hub.notify.channels import SmsGatewayChannel
    from volunteer_hub.sms.links import link_secret
    from volunteer_hub.sms.providers import AliyunSmsChannel, TencentSmsChannel

    app = app or current_app
    if not sms_configured(app):
        return None
    name = provider(app)
    if name == "webhook":
        return SmsGatewayChannel(config.sms_gateway_url, config.sms_gateway_key,
                                 batch_size=config.sms_gateway_batch)
    settings = app.config
    options = dict(sign_name=settings["SMS_SIGN_NAME"], templates=templates(app),
                   link_secret=link_secret(app), batch_size=batch_size(app),
                   timeout=float(settings.get("SMS_TIMEOUT_SECONDS") or 10.0),
                   param_max_chars=int(settings.get("SMS_PARAM_MAX_CHARS") or 20))
    if name == "aliyun":
        return AliyunSmsChannel(
            endpoint=settings.get("ALIYUN_SMS_ENDPOINT") or ALIYUN_ENDPOINT,
            access_key_id=settings["ALIYUN_SMS_ACCESS_KEY_ID"],
            access_key_secret=settings["ALIYUN_SMS_ACCESS_KEY_SECRET"],
            region=settings.get("ALIYUN_SMS_REGION") or "cn-hangzhou", **options)
    return TencentSmsChannel(
        endpoint=settings.get("TENCENT_SMS_ENDPOINT") or TENCENT_ENDPOINT,
        secret_id=settings["TENCENT_SMS_SECRET_ID"],
        secret_key=settings["TENCENT_SMS_SECRET_KEY"],
        sdk_app_id=str(settings["TENCENT_SMS_SDK_APP_ID"]),
        region=settings.get("TENCENT_SMS_REGION") or "ap-guangzhou", **options)
