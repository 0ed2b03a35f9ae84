"""The order an organization's people are tried in, and whose order holds for whom.

An organization sets an order (e.g. WeChat, SMS, e-mail, inbox); it holds for everyone whose
volunteer profile is in its subtree, unless an organization deeper down sets its own: the
deepest wins. People without a set order follow the channels' declared fallbacks. The Python
resolver asks `orders_for`; the SQL fan-out builds the same choice with `order_case`.
"""
from __future__ import annotations

from typing import Callable

from sqlalchemy import case, select

from volunteer_hub.db import db
from volunteer_hub.notify import registry
from volunteer_hub.notify.models import ChannelOrder

READ = "volunteers.read"  # staff who can see the organization's people see how they are reached
MANAGE = "orgs.manage"


def configured() -> list[tuple[str, tuple[str, ...]]]:
    """(org path, order) of every organization that set one, deepest first (ties: by path,
    so both resolvers pick the same)."""
    from volunteer_hub.orgs.models import Org

    rows = db.session.execute(select(Org.path, ChannelOrder.channels)
                              .join(Org, Org.id == ChannelOrder.org_id)).all()
    ordered = sorted(rows, key=lambda row: (-len(row.path), row.path))
    return [(row.path, tuple(name for name in row.channels.split(",") if name))
            for row in ordered]


def _order_at(org_path: str | None, known: list[tuple[str, tuple[str, ...]]]):
    if org_path is None:
        return None
    return next((order for path, order in known if org_path.startswith(path)), None)


def orders_for(user_ids: list[int]) -> dict[int, tuple[str, ...]]:
    """The order of each of these people that has one set (others: absent)."""
    known = configured()
    if not known or not user_ids:
        return {}
    from volunteer_hub.volunteers.models import Volunteer

    found = {}
    for start in range(0, len(user_ids), 1000):  # bounded IN lists on both engines
        for user_id, org_path in db.session.execute(
                select(Volunteer.user_id, Volunteer.org_path)
                .where(Volunteer.user_id.in_(user_ids[start:start + 1000]))):
            order = _order_at(org_path, known)
            if order is not None:
                found[user_id] = order
    return found


def orders_in_use() -> set[tuple[str, ...]]:
    return {order for _path, order in configured()}


def order_case(org_path_column, build: Callable[[tuple[str, ...] | None], object]):
    """`build(order)` for the person's order, as SQL: `org_path_column` is their volunteer
    profile's org path (NULL without one)."""
    known = configured()
    if not known:
        return build(None)
    whens = [(org_path_column.startswith(path, autoescape=True), build(order))
             for path, order in known]
    return case(*whens, else_=build(None))


def order_of(org) -> tuple[tuple[str, ...], int | None]:
    """The order that holds for the organization's own people, and the organization that set
    it (itself or an ancestor; None: the channels' declared order)."""
    from volunteer_hub.orgs.models import Org

    rows = db.session.execute(select(Org.id, Org.path, ChannelOrder.channels)
                              .join(Org, Org.id == ChannelOrder.org_id)).all()
    holding = sorted((row for row in rows if org.path.startswith(row.path)),
                     key=lambda row: (-len(row.path), row.path))
    if not holding:
        return registry.default_order(), None
    row = holding[0]
    return tuple(name for name in row.channels.split(",") if name), row.id


def own_order(org) -> ChannelOrder | None:
    return db.session.get(ChannelOrder, org.id)


def set_order(org, names: list[str], *, by) -> ChannelOrder:
    """Store the organization's order (the inbox always ends it)."""
    from flask_babel import lazy_gettext as _l

    from volunteer_hub.accounts.permissions import require
    from volunteer_hub.errors import ValidationFailed

    require(by, MANAGE, org)
    if not names:
        raise ValidationFailed(_l("Choose at least one channel."), field="channels")
    try:
        order = registry.valid_order(names)
    except ValueError:
        raise ValidationFailed(_l("Unknown channel."), field="channels") from None
    row = own_order(org)
    if row is None:
        row = ChannelOrder(org_id=org.id, channels="")
        db.session.add(row)
    row.channels = ",".join(order)
    row.updated_by_id = by.id
    db.session.flush()
    return row


def clear_order(org, *, by) -> None:
    """Back to the parent's order (or the declared one)."""
    from volunteer_hub.accounts.permissions import require

    require(by, MANAGE, org)
    row = own_order(org)
    if row is not None:
        db.session.delete(row)
        db.session.flush()
