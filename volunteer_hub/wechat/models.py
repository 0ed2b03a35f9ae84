"""A user's WeChat binding (the openid, encrypted) and the shared access token.

The openid identifies a person across every message of the Official Account, so it is
personal data: stored as ciphertext (volunteer_hub.security.encrypt) for sending, and as a
keyed hash (security.keyed_hash) to find the account at a WeChat login; never in clear.
The notification fan-out copies `openid_encrypted` as the outbox address of a WeChat row
(still ciphertext); the WeChat channel decrypts it only to send.

The access token is one per app id and shared by every worker and web process (WeChat
invalidates the previous token a short while after a new one is issued, so tokens kept per
process would knock each other out). It is a credential: encrypted too.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from volunteer_hub.db import db, utcnow
from volunteer_hub.security import decrypt, encrypt, keyed_hash

OPENID_HASH_PREFIX = "wechat-openid:"  # the keyed hash of an openid never equals an ID's


def openid_hash(openid: str) -> str:
    return keyed_hash(OPENID_HASH_PREFIX + openid)


class WeChatBinding(db.Model):
    """One WeChat identity (openid of our Official Account) per user, and one user per openid."""

    __tablename__ = "wechat_bindings"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         unique=True)
    openid_encrypted: Mapped[str] = mapped_column(Text)
    openid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    bound_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def openid(self) -> str | None:
        return decrypt(self.openid_encrypted)

    @openid.setter
    def openid(self, value: str) -> None:
        self.openid_encrypted = encrypt(value)
        self.openid_hash = openid_hash(value)


class WeChatAccessToken(db.Model):
    """The current access token of an app id; `expires_at` is naive UTC."""

    __tablename__ = "wechat_access_tokens"

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_encrypted: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column()
    fetched_at: Mapped[datetime] = mapped_column()
