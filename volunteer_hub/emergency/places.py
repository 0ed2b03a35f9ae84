"""Where a call-out happens when nobody types coordinates: a community or grid picked from the
plan's area, the caller's own position, or by default the area itself.

A coordinator at the scene knows the place by name, not by latitude; requiring typed
coordinates kept the demo plan from being called out at all."""
from __future__ import annotations

from sqlalchemy import func, select

from volunteer_hub.db import db
from volunteer_hub.orgs.models import Org

PICKABLE_LEVELS = ("community", "grid")


def org_position(org: Org | None) -> tuple[float, float] | None:
    """The node's own coordinates, else the centre of the places below it that have some (a
    district is drawn as no point, but its communities are)."""
    if org is None:
        return None
    if org.lat is not None and org.lon is not None:
        return org.lat, org.lon
    lat, lon = db.session.execute(
        select(func.avg(Org.lat), func.avg(Org.lon))
        .where(Org.path.startswith(org.path, autoescape=True),
               Org.lat.is_not(None), Org.lon.is_not(None))).one()
    return (float(lat), float(lon)) if lat is not None and lon is not None else None


def default_position(plan, config: dict) -> tuple[float, float] | None:
    """The level's area when it names one, else the plan's organization."""
    area = db.session.get(Org, config["area_org_id"]) if config.get("area_org_id") else None
    return org_position(area) or org_position(plan.org)


def default_place(plan, config: dict) -> Org:
    """The node whose position is the default, to name it on the form."""
    area = db.session.get(Org, config["area_org_id"]) if config.get("area_org_id") else None
    return area if org_position(area) else plan.org


def pickable_places(plan) -> list[Org]:
    """Communities and grids of the plan's organization that have a position, in tree order."""
    return list(db.session.execute(
        select(Org).where(Org.path.startswith(plan.org.path, autoescape=True),
                          Org.level.in_(PICKABLE_LEVELS),
                          Org.lat.is_not(None), Org.lon.is_not(None))
        .order_by(Org.path).limit(500)).scalars())


def picked_place(plan, org_id: int | None) -> Org | None:
    """The community or grid chosen on the form, if it lies in the plan's organization."""
    place = db.session.get(Org, org_id) if org_id else None
    if place is None or not plan.org.contains(place) or org_position(place) is None:
        return None
    return place
