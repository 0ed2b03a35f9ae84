"""How the dispatcher builds each channel's sender (named by the registry's declarations).

Each factory takes the notify settings and the app and returns a `channels.Channel`, or None
when the server is not set up for that channel.
"""
from __future__ import annotations

from volunteer_hub.notify import channels


def email(config, app=None):
    return channels.EmailChannel(config.smtp_host, config.smtp_port, config.smtp_from,
                                 username=config.smtp_username, password=config.smtp_password,
                                 starttls=config.smtp_starttls)


def sms_configured(config) -> bool:
    """The SMS feature decides when a provider is set up; the webhook needs its URL."""
    decide = getattr(channels, "sms_configured", None)
    return bool(decide(config)) if decide is not None else bool(config.sms_gateway_url)


def sms(config, app=None):
    if not sms_configured(config):
        return None
    build = getattr(channels, "build_sms_channel", None)
    if build is not None:
        return build(config, app)
    return channels.SmsGatewayChannel(config.sms_gateway_url, config.sms_gateway_key,
                                      batch_size=config.sms_gateway_batch)


def webpush(config, app=None):
    if not config.vapid_private_key:
        return None
    from volunteer_hub.notify import services

    return channels.WebPushChannel(
        config.vapid_private_key, config.vapid_subject, ttl=config.webpush_ttl,
        urgent_ttl=config.webpush_urgent_ttl, timeout=config.webpush_timeout,
        ack_secret=services.push_ack_secret(app), ack_url=services.PUSH_RECEIPT_PATH)


def wechat(config, app=None):
    if not config.wechat_app_id:
        return None
    from volunteer_hub.wechat.channel import WeChatChannel

    return WeChatChannel.from_config(config, app)
