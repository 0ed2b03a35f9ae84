"""Matching runs and the assignments they propose (persisted around the pure engine)."""
from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from volunteer_hub.db import db, utcnow

# An assignment in one of these states holds its slot (and its volunteer's time).
ACTIVE_STATES = ("proposed", "pending_approval", "confirmed", "accepted")
# ...and in these the volunteer is committed: the slot counts as filled.
COMMITTED_STATES = ("confirmed", "accepted")
ASSIGNMENT_STATES = ACTIVE_STATES + ("declined", "cancelled")
ASSIGNMENT_STATE_LABELS = {
    "proposed": _l("Proposed"),
    "pending_approval": _l("Waiting for approval"),
    "confirmed": _l("Waiting for your answer"),
    "accepted": _l("Accepted"),
    "declined": _l("Declined"),
    "cancelled": _l("Cancelled"),
}
_ACTIVE_SQL = "state IN ('proposed', 'pending_approval', 'confirmed', 'accepted')"


class MatchingRun(db.Model):
    __tablename__ = "matching_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12), default="manual")  # manual/nightly/rematch
    start_date: Mapped[date]
    end_date: Mapped[date]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    stats: Mapped[dict] = mapped_column(JSON, default=dict)

    org = relationship("Org", lazy="joined")
    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="run", order_by="Assignment.slot_id")


class Assignment(db.Model):
    """A volunteer on a slot: proposed -> confirmed -> accepted, or declined / cancelled.

    A self sign-up starts as pending_approval (the need asks for approval) or accepted.
    At most one active assignment per slot: a partial unique index, so two concurrent
    sign-ups for the last place cannot both commit, on SQLite and PostgreSQL alike.
    """

    __tablename__ = "assignments"
    __table_args__ = (
        Index("uq_assignments_active_slot", "slot_id", unique=True,
              sqlite_where=text(_ACTIVE_SQL), postgresql_where=text(_ACTIVE_SQL)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("need_slots.id", ondelete="CASCADE"),
                                         index=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("matching_runs.id"), index=True)
    source: Mapped[str] = mapped_column(String(12), default="matching")  # matching/signup/manual
    state: Mapped[str] = mapped_column(String(16), default="proposed", index=True)
    cost: Mapped[int | None]
    explanation: Mapped[dict] = mapped_column(JSON, default=dict)
    reason: Mapped[str | None] = mapped_column(String(255))  # of a decline or cancellation
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    responded_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    slot = relationship("NeedSlot", lazy="joined")
    volunteer = relationship("Volunteer", lazy="joined")
    run: Mapped[MatchingRun | None] = relationship(back_populates="assignments")

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def need(self):
        return self.slot.need


class MatchingPreference(db.Model):
    """A volunteer's own matching preferences.

    max_travel_km is a hard limit (the engine never proposes a task farther from home);
    the rest are soft: each declared preference a task misses adds a small cost, and the
    pairing's explanation names it. Empty lists mean "no preference".
    """

    __tablename__ = "matching_preferences"

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(
        ForeignKey("volunteers.id", ondelete="CASCADE"), unique=True)
    need_types: Mapped[list] = mapped_column(JSON, default=list)
    max_travel_km: Mapped[float | None] = mapped_column(Float)
    weekdays: Mapped[list] = mapped_column(JSON, default=list)  # 0 = Monday
    day_parts: Mapped[list] = mapped_column(JSON, default=list)  # morning/afternoon/evening
    categories: Mapped[list] = mapped_column(JSON, default=list)  # beneficiary categories
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MatchingDataVersion(db.Model):
    """A token that changes with every write to the matching data of the volunteers homed at
    an org node (their skills, certifications, availability, status, home...), or to the
    node itself. A process keeps an org's loaded volunteer table while the tokens of the
    org's subtree and ancestors stay the same (matching/cache.py); in the database, so that
    every process and machine sees every write. A token is random, not a counter: a
    restored or emptied table must never hand back a version a cache already holds.
    No foreign key: a version row is never a reason to refuse a write, and a row left by a
    deleted org only means one more reload."""

    __tablename__ = "matching_data_versions"

    org_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger)
