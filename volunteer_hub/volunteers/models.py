"""Volunteer profiles: identity, skills, certifications, availability and consents."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from volunteer_hub.db import db, utcnow
from volunteer_hub.security import decrypt, encrypt


class Volunteer(db.Model):
    __tablename__ = "volunteers"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    volunteer_number: Mapped[str] = mapped_column(String(32), unique=True)
    real_name: Mapped[str] = mapped_column(String(50))
    gender: Mapped[str] = mapped_column(String(8))
    birth_date: Mapped[date]
    id_type: Mapped[str] = mapped_column(String(20))
    # The clear number is never stored: ciphertext for display to those allowed,
    # a keyed hash for "one ID, one account", and the masked form for everyone else.
    id_number_encrypted: Mapped[str] = mapped_column(Text)
    id_number_hash: Mapped[str] = mapped_column(String(64), unique=True)
    id_number_masked: Mapped[str] = mapped_column(String(24))
    phone: Mapped[str] = mapped_column(String(20), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"), index=True)
    org_path: Mapped[str] = mapped_column(String(255), index=True)  # home node's path, for scope
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    # 志愿者编号 in the national volunteer information system (national/), once known.
    national_number: Mapped[str | None] = mapped_column(String(32), unique=True, index=True)
    languages: Mapped[str] = mapped_column(String(100), default="zh")  # comma separated codes
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    status_reason: Mapped[str | None] = mapped_column(String(255))
    status_changed_at: Mapped[datetime | None]
    status_changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    user = relationship("User", back_populates="volunteer", foreign_keys=[user_id])
    community = relationship("Org", foreign_keys=[community_id], lazy="joined")
    grid = relationship("Org", foreign_keys=[grid_id], lazy="joined")
    skills: Mapped[list[VolunteerSkill]] = relationship(
        back_populates="volunteer", cascade="all, delete-orphan",
        order_by="VolunteerSkill.skill_code",
    )
    certifications: Mapped[list[Certification]] = relationship(
        back_populates="volunteer", cascade="all, delete-orphan",
        order_by="Certification.expires_on",
    )
    availability: Mapped[list[AvailabilityWindow]] = relationship(
        back_populates="volunteer", cascade="all, delete-orphan",
        order_by="(AvailabilityWindow.weekday, AvailabilityWindow.start_minute)",
    )
    exceptions: Mapped[list[AvailabilityException]] = relationship(
        back_populates="volunteer", cascade="all, delete-orphan",
        order_by="AvailabilityException.day",
    )
    consents: Mapped[list[Consent]] = relationship(
        back_populates="volunteer", cascade="all, delete-orphan", order_by="Consent.granted_at"
    )
    team_memberships = relationship("TeamMember", back_populates="volunteer")

    @property
    def language_list(self) -> list[str]:
        return [code for code in (self.languages or "").split(",") if code]


class VolunteerSkill(db.Model):
    __tablename__ = "volunteer_skills"
    __table_args__ = (UniqueConstraint("volunteer_id", "skill_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(
        ForeignKey("volunteers.id", ondelete="CASCADE"), index=True
    )
    skill_code: Mapped[str] = mapped_column(String(32), index=True)
    level: Mapped[int]  # declared by the volunteer, 1-3
    confirmed_level: Mapped[int | None]  # set by an organizer; matching trusts this first
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None]

    volunteer: Mapped[Volunteer] = relationship(back_populates="skills")

    @property
    def effective_level(self) -> int:
        return self.confirmed_level if self.confirmed_level is not None else self.level


class Certification(db.Model):
    __tablename__ = "certifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(
        ForeignKey("volunteers.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str | None] = mapped_column(String(100))
    issuer: Mapped[str] = mapped_column(String(100))
    number: Mapped[str | None] = mapped_column(String(60))
    issued_on: Mapped[date]
    expires_on: Mapped[date | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    volunteer: Mapped[Volunteer] = relationship(back_populates="certifications")

    def valid_on(self, day: date) -> bool:
        return self.issued_on <= day and (self.expires_on is None or day <= self.expires_on)


class AvailabilityWindow(db.Model):
    """A weekly window, in minutes after local midnight (Asia/Shanghai)."""

    __tablename__ = "availability_windows"

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(
        ForeignKey("volunteers.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int]  # 0 = Monday
    start_minute: Mapped[int]
    end_minute: Mapped[int]

    volunteer: Mapped[Volunteer] = relationship(back_populates="availability")


class AvailabilityException(db.Model):
    """A dated exception: unavailable that day (or, with available=True, an extra day)."""

    __tablename__ = "availability_exceptions"
    __table_args__ = (UniqueConstraint("volunteer_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(
        ForeignKey("volunteers.id", ondelete="CASCADE"), index=True
    )
    day: Mapped[date]
    available: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str | None] = mapped_column(String(200))

    volunteer: Mapped[Volunteer] = relationship(back_populates="exceptions")


class Consent(db.Model):
    """A consent given (and possibly withdrawn); a minor's carries the guardian's details."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(
        ForeignKey("volunteers.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    text_version: Mapped[str] = mapped_column(String(20))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]
    # The guardian's name and phone are personal data of a third person: ciphertext only.
    guardian_name_encrypted: Mapped[str | None] = mapped_column(Text)
    guardian_phone_encrypted: Mapped[str | None] = mapped_column(Text)
    guardian_relationship: Mapped[str | None] = mapped_column(String(30))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    volunteer: Mapped[Volunteer] = relationship(back_populates="consents")

    @property
    def guardian_name(self) -> str | None:
        return decrypt(self.guardian_name_encrypted)

    @guardian_name.setter
    def guardian_name(self, value: str | None) -> None:
        self.guardian_name_encrypted = encrypt(value or None)

    @property
    def guardian_phone(self) -> str | None:
        return decrypt(self.guardian_phone_encrypted)

    @guardian_phone.setter
    def guardian_phone(self, value: str | None) -> None:
        self.guardian_phone_encrypted = encrypt(value or None)


class HomeLocationChange(db.Model):
    """When a volunteer's home point changed: how often it may change is limited.

    Only the time is kept, never the points (a series of homes would be a location track).
    The limit stops anyone locating a need by moving their home around it.
    """

    __tablename__ = "home_location_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(
        ForeignKey("volunteers.id", ondelete="CASCADE"), index=True
    )
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
