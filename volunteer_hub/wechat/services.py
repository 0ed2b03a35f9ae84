"""Binding a WeChat identity to an account, finding the account at a WeChat login, receipts.

Services flush; the caller's `transaction()` commits.
"""
from __future__ import annotations

import logging

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from volunteer_hub.accounts.models import User
from volunteer_hub.db import db
from volunteer_hub.errors import DomainError
from volunteer_hub.wechat.models import WeChatBinding, openid_hash

log = logging.getLogger(__name__)

# TEMPLATESENDJOBFINISH statuses: "success", "failed:user block", "failed: system failed".
DELIVERED_STATUS = "success"


class WeChatBoundElsewhere(DomainError):
    status = 409
    code = "WECHAT_BOUND_ELSEWHERE"


def binding_of(user: User) -> WeChatBinding | None:
    return db.session.execute(select(WeChatBinding).where(WeChatBinding.user_id == user.id)
                              ).scalar_one_or_none()


def user_for_openid(openid: str) -> User | None:
    """The account bound to this WeChat identity, if any."""
    return db.session.execute(
        select(User).join(WeChatBinding, WeChatBinding.user_id == User.id)
        .where(WeChatBinding.openid_hash == openid_hash(openid))).scalar_one_or_none()


def bind(user: User, openid: str) -> WeChatBinding:
    """Bind `openid` to `user` (replacing the user's earlier binding); one account per
    WeChat identity: an identity bound to someone else is refused, never moved."""
    owner = user_for_openid(openid)
    if owner is not None and owner.id != user.id:
        raise WeChatBoundElsewhere(_l("This WeChat account is already bound to another "
                                      "account. Unbind it there first."))
    binding = binding_of(user)
    if binding is None:
        binding = WeChatBinding(user_id=user.id)
        db.session.add(binding)
    binding.openid = openid
    db.session.flush()
    return binding


def unbind(user: User) -> bool:
    """Remove the user's binding; False when there was none."""
    removed = db.session.execute(delete(WeChatBinding).where(WeChatBinding.user_id == user.id))
    return bool(removed.rowcount)


def apply_template_receipt(msgid: str, status: str, openid: str | None = None) -> None:
    """A TEMPLATESENDJOBFINISH push: the message reached the phone, or did not (the
    person blocked the account's messages, or WeChat failed): then the next channel.

    WeChat pushes it about a second after the send, while a call-out's batch may not have
    recorded the msgid yet: then the push is about the one message to this person (`openid`,
    the push's FromUserName) still being sent."""
    from volunteer_hub.errors import NotFound
    from volunteer_hub.notify.services import apply_receipt

    delivered = status.strip().lower() == DELIVERED_STATUS
    receipt = dict(status="delivered" if delivered else "failed", provider_message_id=msgid,
                   error=None if delivered else f"WeChat: {status}"[:200], channel="wechat")
    try:
        apply_receipt(**receipt)
        return
    except NotFound:
        in_flight = _the_message_being_sent_to(openid) if openid else None
    if in_flight is None:  # sent by another system on the same account, or purged
        log.info("wechat: receipt for unknown msgid %s ignored", msgid)
        return
    apply_receipt(**receipt, key=str(in_flight))


def _the_message_being_sent_to(openid: str) -> int | None:
    """The id of the one WeChat message to this person being sent without a msgid yet
    (None when there is none, or several: then which one is not known)."""
    from volunteer_hub.notify.models import OutboxMessage

    user = user_for_openid(openid)
    if user is None:
        return None
    ids = db.session.execute(
        select(OutboxMessage.id).where(OutboxMessage.recipient_id == user.id,
                                       OutboxMessage.channel == "wechat",
                                       OutboxMessage.status == "sending",
                                       OutboxMessage.provider_message_id.is_(None))
        .limit(2)).scalars().all()
    return ids[0] if len(ids) == 1 else None
