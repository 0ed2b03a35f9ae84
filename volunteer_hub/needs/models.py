"""Beneficiaries (encrypted personal data, access log), needs and their slots, the inbox.

Times of needs and slots are naive *local wall-clock* times of the station
(BABEL_DEFAULT_TIMEZONE, Asia/Shanghai by default), unlike audit timestamps (UTC):
"every Tuesday 9:00-11:00" is a local notion, volunteers' availability windows are
local minutes, and the pure matching engine works in naive local time. The API adds
the offset when it dumps them.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from volunteer_hub.db import db, utcnow


class Beneficiary(db.Model):
    """A person a community serves; every personal field is ciphertext (security.encrypt)."""

    __tablename__ = "beneficiaries"

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(24), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"), index=True)
    org_path: Mapped[str] = mapped_column(String(255), index=True)
    # The name is shown masked ("张*") in lists; the clear name only to those allowed.
    name_encrypted: Mapped[str] = mapped_column(Text)
    name_masked: Mapped[str] = mapped_column(String(50))
    gender: Mapped[str | None] = mapped_column(String(8))  # for same-gender personal care
    birth_date_encrypted: Mapped[str | None] = mapped_column(Text)
    under_14: Mapped[bool] = mapped_column(default=False)  # PIPL Art. 31: guardian consent
    address_encrypted: Mapped[str | None] = mapped_column(Text)
    phone_encrypted: Mapped[str | None] = mapped_column(Text)
    care_notes_encrypted: Mapped[str | None] = mapped_column(Text)
    guardian_name_encrypted: Mapped[str | None] = mapped_column(Text)
    guardian_phone_encrypted: Mapped[str | None] = mapped_column(Text)
    guardian_relationship: Mapped[str | None] = mapped_column(String(30))
    guardian_consent_at: Mapped[datetime | None]
    guardian_consent_version: Mapped[str | None] = mapped_column(String(20))
    guardian_consent_recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Rounded to about 100 m: enough for distances, not a home location.
    approx_lat: Mapped[float | None]
    approx_lon: Mapped[float | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    community = relationship("Org", foreign_keys=[community_id], lazy="joined")
    grid = relationship("Org", foreign_keys=[grid_id], lazy="joined")

    @property
    def is_child(self) -> bool:
        return self.category == "left_behind_child" or self.under_14


class BeneficiaryAccessLog(db.Model):
    """One read of a beneficiary's record: who, when, which fields, why (PIPL Art. 55)."""

    __tablename__ = "beneficiary_access_logs"

    id: Mapped[int] = mapped_column(primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiaries.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    accessed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    fields: Mapped[str] = mapped_column(String(255))  # comma separated; "" = summary only
    purpose: Mapped[str] = mapped_column(String(100))
    assignment_id: Mapped[int | None]

    user = relationship("User", lazy="joined")

    @property
    def field_list(self) -> list[str]:
        return [f for f in self.fields.split(",") if f]


class Need(db.Model):
    __tablename__ = "needs"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    org_path: Mapped[str] = mapped_column(String(255), index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"))
    beneficiary_id: Mapped[int | None] = mapped_column(ForeignKey("beneficiaries.id"),
                                                       index=True)
    type: Mapped[str] = mapped_column(String(32))
    custom_type: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    required_skills: Mapped[dict] = mapped_column(JSON, default=dict)  # {code: min level}
    required_certifications: Mapped[list] = mapped_column(JSON, default=list)  # [kind]
    volunteers_per_occurrence: Mapped[int] = mapped_column(default=1)
    # One occurrence on first_date, or weekly on `weekdays` from first_date to until.
    first_date: Mapped[date]
    start_minute: Mapped[int]
    end_minute: Mapped[int]
    recurrence: Mapped[str] = mapped_column(String(8), default="none")  # none / weekly
    weekdays: Mapped[list] = mapped_column(JSON, default=list)  # 0 = Monday
    until: Mapped[date | None]
    location_note: Mapped[str | None] = mapped_column(String(200))  # a public place only
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    max_distance_km: Mapped[float | None]
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    same_gender: Mapped[bool] = mapped_column(default=False)
    adults_only: Mapped[bool] = mapped_column(default=False)
    background_check: Mapped[bool] = mapped_column(default=False)
    risk_disclosure: Mapped[str | None] = mapped_column(Text)
    insurance_required: Mapped[bool] = mapped_column(default=False)
    requires_approval: Mapped[bool] = mapped_column(default=False)
    state: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(255))
    state_changed_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    org = relationship("Org", foreign_keys=[org_id], lazy="joined")
    community = relationship("Org", foreign_keys=[community_id], lazy="joined")
    grid = relationship("Org", foreign_keys=[grid_id], lazy="joined")
    beneficiary: Mapped[Beneficiary | None] = relationship(lazy="joined")
    slots: Mapped[list[NeedSlot]] = relationship(
        back_populates="need", cascade="all, delete-orphan",
        order_by="(NeedSlot.start, NeedSlot.position)")


class NeedSlot(db.Model):
    """One volunteer position in one occurrence of a need: the unit the engine assigns."""

    __tablename__ = "need_slots"
    __table_args__ = (UniqueConstraint("need_id", "start", "position"),
                      Index("ix_need_slots_start_status", "start", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id", ondelete="CASCADE"), index=True)
    start: Mapped[datetime]  # local wall clock, see the module docstring
    end: Mapped[datetime]
    position: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(12), default="open")  # open/filled/cancelled/done

    need: Mapped[Need] = relationship(back_populates="slots")
