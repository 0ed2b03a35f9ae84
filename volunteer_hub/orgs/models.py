"""Organizations (city -> district -> street -> community -> grid -> building) and teams."""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from volunteer_hub.db import db, utcnow

ORG_LEVELS = ("city", "district", "street", "community", "grid", "building")
ORG_LEVEL_LABELS = {
    "city": _l("City"),
    "district": _l("District"),
    "street": _l("Street"),
    "community": _l("Community"),
    "grid": _l("Grid"),
    "building": _l("Building"),
}

# Printed on every certificate the org issues; none may be empty at issue time.
ISSUER_FIELDS = ("person_in_charge", "handler", "contact")
ISSUER_FIELD_LABELS = {
    "person_in_charge": _l("Person in charge"),
    "handler": _l("Handler"),
    "contact": _l("Contact"),
    "credit_code": _l("Unified social credit code"),
    "seal": _l("Official seal"),
}

TEAM_TYPES = (
    "professional",
    "earthquake_rescue",
    "forest_fire",
    "mountain_rescue",
    "vehicle_rescue",
    "flood_water",
    "fire",
    "medical",
    "custom",
)
EMERGENCY_TEAM_TYPES = frozenset(TEAM_TYPES) - {"professional", "custom"}
TEAM_TYPE_LABELS = {
    "professional": _l("Professional"),
    "earthquake_rescue": _l("Earthquake rescue"),
    "forest_fire": _l("Forest fire"),
    "mountain_rescue": _l("Mountain rescue"),
    "vehicle_rescue": _l("Vehicle rescue"),
    "flood_water": _l("Flood / water"),
    "fire": _l("Fire"),
    "medical": _l("Medical"),
    "custom": _l("Custom"),
}
TEAM_ROLES = ("leader", "member")
TEAM_ROLE_LABELS = {"leader": _l("Leader"), "member": _l("Member")}


class Org(db.Model):
    """A node of the administrative hierarchy; `path` ("/1/4/9/") makes subtree queries cheap."""

    __tablename__ = "orgs"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"), index=True)
    level: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str | None] = mapped_column(String(100))
    path: Mapped[str] = mapped_column(String(255), index=True, default="")
    requires_approval: Mapped[bool] = mapped_column(default=True)
    resident_population: Mapped[int | None]
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What a certificate this org issues prints (issue 16): set by the org's admins.
    person_in_charge: Mapped[str | None] = mapped_column(String(50))
    handler: Mapped[str | None] = mapped_column(String(50))
    contact: Mapped[str | None] = mapped_column(String(100))
    credit_code: Mapped[str | None] = mapped_column(String(18))
    seal_image: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    seal_mime: Mapped[str | None] = mapped_column(String(16))

    parent: Mapped[Org | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Org]] = relationship(back_populates="parent", order_by="Org.code")
    teams: Mapped[list[Team]] = relationship(back_populates="org", order_by="Team.name")

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" and self.name_en else self.name_zh

    def contains(self, other: Org) -> bool:
        """True when `other` is this node or lies in its subtree."""
        return other.path.startswith(self.path)

    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.strip("/").split("/") if part]

    def community(self) -> Org | None:
        """The community this node belongs to (itself for a community), if any."""
        node: Org | None = self
        while node is not None and node.level != "community":
            node = node.parent
        return node

    def missing_issuer_fields(self) -> list[str]:
        """The certificate fields still empty (a certificate cannot be issued without them)."""
        return [name for name in ISSUER_FIELDS if not (getattr(self, name) or "").strip()]

    def __repr__(self) -> str:
        return f"<Org {self.code} {self.name_zh}>"


class Team(db.Model):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(32))
    custom_type: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    org: Mapped[Org] = relationship(back_populates="teams")
    members: Mapped[list[TeamMember]] = relationship(
        back_populates="team", cascade="all, delete-orphan"
    )

    @property
    def is_emergency(self) -> bool:
        return self.type in EMERGENCY_TEAM_TYPES


class TeamMember(db.Model):
    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("team_id", "volunteer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    role: Mapped[str] = mapped_column(String(16), default="member")
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)

    team: Mapped[Team] = relationship(back_populates="members")
    volunteer = relationship("Volunteer", back_populates="team_memberships")
