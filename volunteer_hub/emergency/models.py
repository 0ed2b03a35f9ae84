"""Mobilization: plans, activations, responders, roll call and the activation's timeline.

A plan is configuration an organization edits: per warning level the roles to fill, the teams to
call, the area and the escalation ladder (validated JSON, because it is always read and written
whole). An activation copies what it needs from the plan at the moment it starts (roles into
`activation_roles`, the level's settings into columns), so editing a plan never rewrites what
happened in an earlier incident or drill.

Times are UTC and timezone-aware (UTCDateTime), like the records and the ledger.
"""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from volunteer_hub.db import db, utcnow
from volunteer_hub.notify.models import partial
from volunteer_hub.timebank.models import UTCDateTime

# 突发事件应对法: the four categories of emergencies.
CATEGORIES = {
    "natural_disaster": _l("Natural disaster"),
    "accident": _l("Accident"),
    "public_health": _l("Public health incident"),
    "social_security": _l("Social security incident"),
}
# Severity I (特别重大, red, highest) to IV (一般, blue).
LEVELS = {
    1: _l("Level I (red): especially serious"),
    2: _l("Level II (orange): serious"),
    3: _l("Level III (yellow): relatively serious"),
    4: _l("Level IV (blue): general"),
}
LEVEL_COLOURS = {1: "red", 2: "orange", 3: "yellow", 4: "blue"}
ESCALATION_ACTIONS = {
    "renotify": _l("Notify the unanswered again"),
    "next_team": _l("Call the next team"),
    "widen_radius": _l("Widen the radius"),
    "lower_level": _l("Accept a lower skill level"),
    "page_coordinator": _l("Page the coordinator"),
}
ACTIVATION_STATUSES = {"active": _l("Active"), "stood_down": _l("Stood down")}
ANSWERS = {"none": _l("No answer yet"), "coming": _l("Coming"), "cannot": _l("Cannot come")}
WELLBEING_STATUSES = {
    "pending": _l("Not yet checked"),
    "safe": _l("Safe"),
    "needs_help": _l("Needs help"),
    "unreachable": _l("Unreachable"),
}


class EmergencyPlan(db.Model):
    """An organization's plan for one category of emergency.

    `levels` maps a level ("1".."4") to
    {"roles": [{"code", "label_zh", "label_en", "count", "skill", "min_level",
                "certification"}],
     "team_ids": [team id, ... in call order], "radius_km": float | None,
     "area_org_id": org id | None, "initial_teams": int,
     "escalation": [{"after_minutes", "action", "value"}]}.
    `assembly_points` is [{"name", "address", "lat", "lon"}]; `templates` maps a locale to
    {"alert", "assigned", "stand_down"} texts with {placeholders}.
    """

    __tablename__ = "emergency_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    org_path: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(120))
    category: Mapped[str] = mapped_column(String(24))
    description: Mapped[str] = mapped_column(Text, default="")
    levels: Mapped[dict] = mapped_column(JSON, default=dict)
    assembly_points: Mapped[list] = mapped_column(JSON, default=list)
    templates: Mapped[dict] = mapped_column(JSON, default=dict)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    org = relationship("Org")


class Activation(db.Model):
    """One call-out of a plan at a level, for real or as a drill."""

    __tablename__ = "emergency_activations"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("emergency_plans.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    org_path: Mapped[str] = mapped_column(String(255), index=True)
    level: Mapped[int]
    is_drill: Mapped[bool] = mapped_column(default=False, index=True)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    incident_lat: Mapped[float | None]
    incident_lon: Mapped[float | None]
    incident_address: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    # The level's settings as they stand now: escalation may widen, add teams or lower levels.
    radius_km: Mapped[float | None]
    area_org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"))
    team_ids_called: Mapped[list] = mapped_column(JSON, default=list)
    skill_level_relaxed_by: Mapped[int] = mapped_column(default=0)
    escalation_steps_taken: Mapped[int] = mapped_column(default=0)
    # Snapshot of the plan's assembly points, templates and escalation at activation.
    assembly_points: Mapped[list] = mapped_column(JSON, default=list)
    templates: Mapped[dict] = mapped_column(JSON, default=dict)
    escalation: Mapped[list] = mapped_column(JSON, default=list)
    drill_hours_count: Mapped[bool] = mapped_column(default=True)
    activated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    activated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stood_down_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stood_down_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    stand_down_note: Mapped[str] = mapped_column(Text, default="")
    # The activity that records responders' hours (created at stand-down).
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id"))

    plan: Mapped[EmergencyPlan] = relationship()
    org = relationship("Org", foreign_keys=[org_id])
    roles: Mapped[list[ActivationRole]] = relationship(
        back_populates="activation", order_by="ActivationRole.position",
        cascade="all, delete-orphan")


class ActivationRole(db.Model):
    """A role to fill in an activation, copied from the plan's level."""

    __tablename__ = "emergency_activation_roles"
    __table_args__ = (UniqueConstraint("activation_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activation_id: Mapped[int] = mapped_column(
        ForeignKey("emergency_activations.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    code: Mapped[str] = mapped_column(String(40))
    label_zh: Mapped[str] = mapped_column(String(100))
    label_en: Mapped[str] = mapped_column(String(100))
    needed: Mapped[int]
    skill_code: Mapped[str | None] = mapped_column(String(32))
    min_level: Mapped[int] = mapped_column(default=1)
    certification_kind: Mapped[str | None] = mapped_column(String(40))
    filled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # first time full

    activation: Mapped[Activation] = relationship(back_populates="roles")


class Responder(db.Model):
    """One targeted volunteer of an activation: notified, answer, role, arrival, safety.

    A call-out writes 100,000 of these in one statement, so the table has no foreign keys
    and only the indexes that a query needs: each key check cost about as much as writing
    the row (its trigger runs for a NULL too). The statement that writes the rows reads the
    activation, volunteers, users and teams they name in the same transaction; none of
    those is ever deleted (an erasure request pseudonymizes a person; activations are
    records), and roles go only with their activation. The role index holds only rows that
    have one.
    """

    __tablename__ = "emergency_responders"
    __table_args__ = (
        # Also the index of an activation's responders (its leading column): the board's
        # counts read the rows anyway, so an (activation, answer) index only cost writes.
        UniqueConstraint("activation_id", "volunteer_id"),
        Index("ix_emergency_responders_role_id", "role_id", **partial("role_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activation_id: Mapped[int]
    volunteer_id: Mapped[int] = mapped_column(index=True)
    user_id: Mapped[int] = mapped_column(index=True)
    team_id: Mapped[int | None]
    distance_km: Mapped[float | None]
    notified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    notify_round: Mapped[int] = mapped_column(default=1)  # 2, 3 ... after re-notification
    answer: Mapped[str] = mapped_column(String(8), default="none")
    eta_minutes: Mapped[int | None]
    first_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer_channel: Mapped[str | None] = mapped_column(String(8))  # link / sms / app
    role_id: Mapped[int | None]
    assembly_point: Mapped[int | None]  # index into the activation's assembly points
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    arrival_method: Mapped[str | None] = mapped_column(String(12))  # qr / marked
    checked_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    safe_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    safe_confirmed_by_id: Mapped[int | None]

    activation: Mapped[Activation] = relationship(
        primaryjoin="foreign(Responder.activation_id) == Activation.id")
    role: Mapped[ActivationRole | None] = relationship(
        primaryjoin="foreign(Responder.role_id) == ActivationRole.id")
    volunteer = relationship("Volunteer", primaryjoin="foreign(Responder.volunteer_id) == "
                                                      "Volunteer.id")


class ResponseChange(db.Model):
    """Every answer a responder gave, in order: answers can change, the report reads them all."""

    __tablename__ = "emergency_response_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    responder_id: Mapped[int] = mapped_column(
        ForeignKey("emergency_responders.id", ondelete="CASCADE"), index=True)
    answer: Mapped[str] = mapped_column(String(8))
    eta_minutes: Mapped[int | None]
    channel: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ActivationEvent(db.Model):
    """The activation's timeline: activated, escalation steps, assignments, stand-down."""

    __tablename__ = "emergency_activation_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    activation_id: Mapped[int] = mapped_column(
        ForeignKey("emergency_activations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class WellbeingCheck(db.Model):
    """A vulnerable beneficiary in the affected area, checked on by an assigned volunteer.

    The note may describe health: it is encrypted like the beneficiary's own sensitive fields.
    """

    __tablename__ = "emergency_wellbeing_checks"
    __table_args__ = (UniqueConstraint("activation_id", "beneficiary_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activation_id: Mapped[int] = mapped_column(
        ForeignKey("emergency_activations.id", ondelete="CASCADE"), index=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiaries.id"), index=True)
    responder_id: Mapped[int | None] = mapped_column(
        ForeignKey("emergency_responders.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    note_encrypted: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    beneficiary = relationship("Beneficiary")


class EmergencySettings(db.Model):
    """An organization's mobilization settings; unset values come from the nearest ancestor,
    then from the app config (EMERGENCY_*)."""

    __tablename__ = "emergency_settings"

    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), primary_key=True)
    drill_hours_count: Mapped[bool | None]  # do drill hours enter the time bank?
    link_valid_hours: Mapped[int | None]  # how long a one-tap answer link works
    fatigue_window_days: Mapped[int | None]  # recent deployments count against a responder
