"""Training records, quality evaluations and awards kept on a volunteer's record.

Training hours are not service hours: they never enter the time bank ledger or star levels.
"""
from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from volunteer_hub.db import db, utcnow
from volunteer_hub.timebank.models import UTCDateTime

TRAINING_KINDS = {
    "general_induction": _l("General volunteer induction"),
    "first_aid": _l("First aid"),
    "emergency_rescue": _l("Emergency rescue"),
    "elderly_care": _l("Elderly care"),
    "child_protection": _l("Child protection"),
    "time_bank_induction": _l("Time bank induction"),
    "other": _l("Other training"),
}
TRAINING_STATUSES = ("recorded", "revoked")
TRAINING_STATUS_LABELS = {"recorded": _l("Recorded"), "revoked": _l("Revoked")}

AWARD_LEVELS = {
    "community": _l("Community level"),
    "street": _l("Street level"),
    "district": _l("District level"),
    "city": _l("City level"),
    "province": _l("Provincial level"),
    "national": _l("National level"),
}
AWARD_STATUSES = ("granted", "revoked")

SCORE_MIN, SCORE_MAX = 1, 5
SCORE_LABELS = {1: _l("Poor"), 2: _l("Fair"), 3: _l("Good"), 4: _l("Very good"),
                5: _l("Excellent")}


class TrainingRecord(db.Model):
    """A course a volunteer attended (name, content, duration, host, date: MCA 2021 Art. 8)."""

    __tablename__ = "training_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)  # ran or recognises it
    title: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(32), index=True)
    content: Mapped[str] = mapped_column(Text, default="")
    trained_on: Mapped[date] = mapped_column(index=True)
    minutes: Mapped[int]  # training time, never service hours
    trainer: Mapped[str] = mapped_column(String(120), default="")
    # The certification the course led to, if any; kept when the volunteer removes it.
    certification_id: Mapped[int | None] = mapped_column(
        ForeignKey("certifications.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="recorded", index=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(255))
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    volunteer = relationship("Volunteer", lazy="joined")
    org = relationship("Org", lazy="joined")
    certification = relationship("Certification")
    recorded_by = relationship("User", foreign_keys=[recorded_by_id])


class Evaluation(db.Model):
    """A quality rating (1-5 with a comment) of one service record by one evaluator."""

    __tablename__ = "evaluations"
    __table_args__ = (
        UniqueConstraint("service_record_id", "evaluator_id",
                         name="uq_evaluations_record_evaluator"),
        CheckConstraint(f"score >= {SCORE_MIN} AND score <= {SCORE_MAX}", name="score_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_record_id: Mapped[int] = mapped_column(ForeignKey("service_records.id"), index=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    evaluator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    score: Mapped[int]
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    service_record = relationship("ServiceRecord", lazy="joined")
    volunteer = relationship("Volunteer")
    evaluator = relationship("User", lazy="joined")


class Award(db.Model):
    """An honour (e.g. 优秀志愿者) shown on the volunteer's profile."""

    __tablename__ = "awards"

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)  # records it
    title: Mapped[str] = mapped_column(String(120))
    level: Mapped[str] = mapped_column(String(16))
    awarded_on: Mapped[date]
    # The issuing body as printed on the award; may lie outside the deployment's tree.
    issuer: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="granted", index=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(255))
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    volunteer = relationship("Volunteer", lazy="joined")
    org = relationship("Org", lazy="joined")


class StarNotice(db.Model):
    """A new star level publicly listed (公示) until `ends_at`; final from then on.

    One row per volunteer and level, made when the verified hours first reach the level's
    threshold; the community the volunteer belongs to lists it on its public notice page.
    """

    __tablename__ = "star_notices"
    __table_args__ = (UniqueConstraint("volunteer_id", "level", name="uq_star_notices_level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    level: Mapped[int]
    service_minutes: Mapped[int]
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    volunteer = relationship("Volunteer", lazy="joined")
    org = relationship("Org")
