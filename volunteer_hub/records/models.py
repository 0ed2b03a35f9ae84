"""Activities, check-in/out events, service records and per-organization recording rules."""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from volunteer_hub.db import db, utcnow
from volunteer_hub.timebank.models import UTCDateTime

METHODS = ("qr", "code", "geofence", "manual", "declared")
METHOD_LABELS = {
    "qr": _l("QR code"), "code": _l("Check-in code"), "geofence": _l("Location check"),
    "manual": _l("Recorded by organizer"), "declared": _l("Declared by volunteer"),
}
STATUSES = ("pending", "verified", "rejected", "corrected")
STATUS_LABELS = {
    "pending": _l("Waiting for verification"), "verified": _l("Verified"),
    "rejected": _l("Rejected"), "corrected": _l("Replaced by a correction"),
}
SERVICE_TYPES = {
    "elderly_care": _l("Elderly care"), "child_care": _l("Children"),
    "community": _l("Community service"), "environment": _l("Environment"),
    "culture": _l("Culture and education"), "medical": _l("Health"),
    "legal": _l("Legal aid"), "emergency": _l("Emergency"),
    # Drill hours are real service but never a real incident: reports keep them apart.
    "emergency_drill": _l("Emergency drill"), "other": _l("Other"),
}


class Activity(db.Model):
    """A service activity an organization runs; volunteers check in and out of it.

    One occurrence of a need (its slots sharing a start) is also an activity, made when it is
    first needed: its volunteers check in with its code, and their records link the task.
    """

    __tablename__ = "activities"
    __table_args__ = (UniqueConstraint("need_id", "occurrence_start",
                                       name="uq_activities_need_occurrence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    org_path: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(120))
    service_type: Mapped[str] = mapped_column(String(32), default="community")
    place: Mapped[str] = mapped_column(String(200), default="")
    content: Mapped[str] = mapped_column(Text, default="")
    lead_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    checkin_code: Mapped[str] = mapped_column(String(6))
    geofence_lat: Mapped[float | None]
    geofence_lon: Mapped[float | None]
    geofence_radius_m: Mapped[int | None]
    group_service: Mapped[bool] = mapped_column(default=False)  # hours earned as a group
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    need_id: Mapped[int | None] = mapped_column(ForeignKey("needs.id", ondelete="SET NULL"),
                                                index=True)
    occurrence_start: Mapped[datetime | None]  # the slots' local wall-clock start

    org = relationship("Org", lazy="joined")
    lead = relationship("User", foreign_keys=[lead_user_id])
    need = relationship("Need")

    @property
    def length_minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)


class ServiceRecord(db.Model):
    """Hours given to one activity; pending until verified, then minted into the time bank.

    Never edited after verification: a correction is a new record linked by `corrects_id`.
    """

    __tablename__ = "service_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"), index=True)
    check_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    check_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    method: Mapped[str] = mapped_column(String(16))
    raw_minutes: Mapped[int | None]  # before caps and rounding
    travel_minutes: Mapped[int] = mapped_column(default=0)
    minutes: Mapped[int | None]  # what counts; None while the check-out is missing
    missing_checkout: Mapped[bool] = mapped_column(default=False, index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    status_reason: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str | None] = mapped_column(String(255))  # why recorded by hand / corrected
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("service_records.id"), index=True)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ledger_transaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("ledger_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow,
                                                 index=True)
    # The matched task the hours were given to (None for a standalone activity).
    assignment_id: Mapped[int | None] = mapped_column(
        ForeignKey("assignments.id", ondelete="SET NULL"), index=True)

    volunteer = relationship("Volunteer", lazy="joined")
    activity: Mapped[Activity] = relationship(lazy="joined")
    corrects: Mapped[ServiceRecord | None] = relationship(remote_side=[id])
    assignment = relationship("Assignment")

    @property
    def slot(self):
        return self.assignment.slot if self.assignment is not None else None

    @property
    def need(self):
        return self.activity.need

    @property
    def beneficiary_id(self) -> int | None:
        return self.need.beneficiary_id if self.need is not None else None


class CheckEvent(db.Model):
    """A successful check-in or check-out: the method, the time, and for a geofence only
    pass/fail (never coordinates). The token digest makes a scanned QR single-use."""

    __tablename__ = "check_events"
    __table_args__ = (UniqueConstraint("volunteer_id", "token_digest",
                                       name="uq_check_events_volunteer_token"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"), index=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("service_records.id"))
    direction: Mapped[str] = mapped_column(String(3))  # in / out
    method: Mapped[str] = mapped_column(String(16))
    token_digest: Mapped[str | None] = mapped_column(String(64))
    geofence_passed: Mapped[bool | None]
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RecordSettings(db.Model):
    """An organization's recording rules; unset fields and subtrees fall back to the
    nearest ancestor's row, then to the deployment defaults in config."""

    __tablename__ = "record_settings"

    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), primary_key=True)
    rounding_minutes: Mapped[int | None]
    daily_cap_minutes: Mapped[int | None]
    activity_cap_minutes: Mapped[int | None]  # None: the activity's length
    travel_excluded: Mapped[bool | None]
    deadline_working_days: Mapped[int | None]
