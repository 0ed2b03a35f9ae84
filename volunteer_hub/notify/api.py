"""Notify API: /api/v1/notify (inbox, preferences, admin outbox, SMS gateway callbacks, Web
Push key, subscriptions and service-worker receipts)."""
from flask import request
from flask.views import MethodView
from flask_babel import get_locale
from flask_smorest import Blueprint

from volunteer_hub.accounts.auth import api_user
from volunteer_hub.db import transaction
from volunteer_hub.errors import NotFound
from volunteer_hub.idempotency import idempotent
from volunteer_hub.notify import fanout, orders, registry, services
from volunteer_hub.notify.models import NotificationPreference
from volunteer_hub.notify.schemas import (
    ChannelOrderInSchema, ChannelOrderSchema, InboundSmsInSchema, InboundSmsSchema,
    InboxMessageSchema, InboxPageSchema, InboxQueryArgsSchema, OutboxMessagePageSchema, OutboxMessageSchema, OutboxQueryArgsSchema,
    PreferenceSchema, PushEndpointSchema, PushKeySchema, PushReceiptSchema,
    PushSubscriptionInSchema, PushSubscriptionSchema, ReceiptResultSchema, ReceiptSchema,
)
from volunteer_hub.pagination import paginate

URL_PREFIX = "/notify"
SECRET_HEADER = "X-Gateway-Secret"
blp = Blueprint("notify_api", __name__,
                description="Notifications: inbox, preferences, outbox, SMS gateway callbacks")


@blp.route("/inbox")
class Inbox(MethodView):
    @blp.arguments(InboxQueryArgsSchema, location="query")
    @blp.response(200, InboxPageSchema)
    def get(self, args):
        """The caller's in-app messages, newest first."""
        page = paginate(services.inbox_query(api_user(), unread=args.get("unread")),
                        args["page"], args["page_size"])
        fanout.filled(page["items"], reader_locale=str(get_locale()))
        return page


@blp.route("/inbox/<int:message_id>/read")
class InboxRead(MethodView):
    @blp.response(200, InboxMessageSchema)
    def post(self, message_id):
        """Mark one of the caller's inbox messages read."""
        with transaction():
            message = services.mark_read(message_id, by=api_user())
        # after the commit, which expires it
        return fanout.filled([message], reader_locale=str(get_locale()))[0]


@blp.route("/preferences")
class Preferences(MethodView):
    @blp.response(200, PreferenceSchema)
    def get(self):
        """The caller's channels and quiet hours."""
        user = api_user()
        return services.get_preference(user.id) or NotificationPreference(
            user_id=user.id, timezone="Asia/Shanghai",
            **dict.fromkeys(registry.PREFERENCES, True))

    @blp.arguments(PreferenceSchema)
    @blp.response(200, PreferenceSchema)
    def put(self, changes):
        """Change the caller's channels and quiet hours (the inbox is always on)."""
        with transaction():
            return services.update_preferences(api_user(), changes)


@blp.route("/messages")
class Messages(MethodView):
    @blp.arguments(OutboxQueryArgsSchema, location="query")
    @blp.response(200, OutboxMessagePageSchema)
    def get(self, args):
        """Outbox messages in the admin's scope; dead ones unless another status is asked."""
        page, page_size = args.pop("page"), args.pop("page_size")
        return paginate(services.admin_messages_query(api_user(), **args), page, page_size)


@blp.route("/messages/<int:message_id>/retry")
class MessageRetry(MethodView):
    @blp.response(200, OutboxMessageSchema)
    def post(self, message_id):
        """Queue a dead or failed message again (admins)."""
        with transaction():
            return services.retry_message(message_id, by=api_user())


@blp.route("/sms/receipts")
class SmsReceipts(MethodView):
    @blp.arguments(ReceiptSchema)
    @blp.response(200, ReceiptResultSchema)
    def post(self, receipt):
        """Delivery receipt from the SMS gateway (header X-Gateway-Secret)."""
        services.check_gateway_secret(request.headers.get(SECRET_HEADER))
        with transaction():
            message = services.apply_receipt(
                status=receipt["status"], provider_message_id=receipt.get("message_id"),
                key=receipt.get("id"), error=receipt.get("error"))
            return {"id": message.id, "status": message.status}


@blp.route("/sms/inbound")
class SmsInbound(MethodView):
    @blp.arguments(InboundSmsInSchema)
    @blp.response(200, InboundSmsSchema)
    def post(self, data):
        """An SMS reply from a person, through the gateway (header X-Gateway-Secret)."""
        services.check_gateway_secret(request.headers.get(SECRET_HEADER))
        with transaction():
            return services.receive_sms(
                from_phone=data["from_phone"], text=data["text"],
                provider_message_id=data.get("message_id"),
                received_at=data.get("received_at"))


@blp.route("/push/key")
class PushKey(MethodView):
    @blp.response(200, PushKeySchema)
    def get(self):
        """The VAPID public key to subscribe with (no login needed: it is public)."""
        return {"public_key": services.require_vapid_public_key()}


@blp.route("/push/subscriptions")
class PushSubscriptions(MethodView):
    @blp.response(200, PushSubscriptionSchema(many=True))
    def get(self):
        """The caller's devices subscribed to push notifications."""
        return services.subscriptions_of(api_user())

    @blp.arguments(PushSubscriptionInSchema)
    @blp.response(201, PushSubscriptionSchema)
    @blp.alt_response(200, schema=PushSubscriptionSchema, description="already subscribed")
    def post(self, data):
        """Subscribe a browser for the caller (the same endpoint again updates it)."""
        with transaction():
            subscription, created = services.subscribe(
                api_user(), endpoint=data["endpoint"], p256dh=data["keys"]["p256dh"],
                auth=data["keys"]["auth"], user_agent=data.get("user_agent") or "")
        return subscription, 201 if created else 200

    @blp.arguments(PushEndpointSchema)
    @blp.response(204)
    def delete(self, data):
        """Unsubscribe the caller's browser with this endpoint."""
        with transaction():
            services.unsubscribe(api_user(), endpoint=data["endpoint"])


@blp.route("/push/subscriptions/<int:subscription_id>")
class PushSubscriptionItem(MethodView):
    @blp.response(204)
    def delete(self, subscription_id):
        """Remove one of the caller's subscriptions (someone else's answers 404)."""
        with transaction():
            services.unsubscribe(api_user(), subscription_id=subscription_id)


@blp.route("/push/receipts")
class PushReceipts(MethodView):
    @blp.arguments(PushReceiptSchema)
    @blp.response(200, ReceiptResultSchema)
    def post(self, receipt):
        """The service worker showed an urgent push (signed token from the payload)."""
        with transaction():
            message = services.apply_push_receipt(key=receipt["id"], signature=receipt["sig"])
            return {"id": message.id, "status": message.status}


def _org(org_id: int):
    from volunteer_hub.db import db
    from volunteer_hub.orgs.models import Org

    org = db.session.get(Org, org_id)
    if org is None:
        raise NotFound()
    return org


def channel_order_view(org) -> dict:
    names, set_by = orders.order_of(org)
    return {"org_id": org.id, "channels": list(names), "set_by_org_id": set_by,
            "available": [{"name": name, "label": str(spec.label)}
                          for name, spec in registry.SPECS.items()]}


@blp.route("/orgs/<int:org_id>/channel-order")
class ChannelOrderResource(MethodView):
    @blp.response(200, ChannelOrderSchema)
    def get(self, org_id):
        """The order the organization's people are tried in: its own, an ancestor's, or the
        default. An unconfirmed message falls back to the next after the channel's receipt
        timeout."""
        from volunteer_hub.accounts.permissions import require

        org = _org(org_id)
        require(api_user(), orders.READ, org)
        return channel_order_view(org)

    @idempotent
    @blp.arguments(ChannelOrderInSchema)
    @blp.response(200, ChannelOrderSchema)
    def put(self, data, org_id):
        """Set the organization's own order (for its whole subtree, unless a node below sets
        its own). Organization admins only."""
        with transaction():
            org = _org(org_id)
            orders.set_order(org, data["channels"], by=api_user())
        return channel_order_view(org)

    @idempotent
    @blp.response(200, ChannelOrderSchema)
    def delete(self, org_id):
        """Drop the organization's own order: its parent's (or the default) holds again."""
        with transaction():
            org = _org(org_id)
            orders.clear_order(org, by=api_user())
        return channel_order_view(org)
