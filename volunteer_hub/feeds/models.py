"""Calendar feed tokens: one live token per volunteer, stored as its SHA-256 digest."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from volunteer_hub.db import db, utcnow
from volunteer_hub.timebank.models import UTCDateTime


class CalendarFeed(db.Model):
    """A volunteer's private iCalendar feed. Revoking deletes the row: the old link answers
    404; regenerating replaces the digest."""

    __tablename__ = "calendar_feeds"

    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    volunteer = relationship("Volunteer")
