"""Personal-data rights (PIPL): access log, consent texts by version, closed accounts,
retention runs."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from volunteer_hub.db import db, utcnow

ACCESS_KINDS = ("id_reveal", "data_export")


class PersonalDataAccess(db.Model):
    """Who read whose personal data, when and through which route (PIPL Art. 55-56).

    Kept at least three years (RETENTION_ACCESS_LOG_DAYS, never below 1095)."""

    __tablename__ = "personal_data_access_logs"
    __table_args__ = (Index("ix_personal_data_access_logs_org_path_at", "org_path", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    subject_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The subject's home node when it happened: admins see the log of their subtree.
    org_path: Mapped[str | None] = mapped_column(String(255))
    route: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ConsentText(db.Model):
    """The text a person agrees to, by kind, version and language.

    The current version of a kind is the latest published one; a volunteer whose consent
    names another version is asked again at the next login."""

    __tablename__ = "consent_texts"
    __table_args__ = (UniqueConstraint("kind", "version", "locale"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(20))
    locale: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ClosedAccount(db.Model):
    """An account its holder (or the retention job) closed: the pseudonym's number is this
    row's id, and the certificate check shows the masked name the certificates printed."""

    __tablename__ = "closed_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"), unique=True)
    reason: Mapped[str] = mapped_column(String(20))  # see privacy.closure.CLOSE_REASONS
    certificate_name: Mapped[str | None] = mapped_column(String(60))  # masked, e.g. 张*
    closed_at: Mapped[datetime] = mapped_column(default=utcnow)


class RetentionRun(db.Model):
    """What one run of the retention rules did (or, dry, would do): counts per kind."""

    __tablename__ = "retention_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None]
    dry_run: Mapped[bool] = mapped_column(default=False)
    trigger: Mapped[str] = mapped_column(String(20))  # scheduler, cli
    counts: Mapped[str] = mapped_column(Text, default="{}")  # JSON {kind: rows}
