"""Monthly service statistics and the time-bank liability of an organization's subtree.

Every number comes from a GROUP BY in SQL: a handful of queries per report, whatever the
number of volunteers or records. Months are local to the station (see months.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import String, and_, case, cast, func, literal, select

from volunteer_hub.accounts.permissions import path_filter, require, scope_paths
from volunteer_hub.db import db, utcnow
from volunteer_hub.errors import NotFound, ValidationFailed
from volunteer_hub.matching.models import Assignment
from volunteer_hub.needs.models import Need, NeedSlot
from volunteer_hub.orgs.models import Org
from volunteer_hub.records.models import SERVICE_TYPES, Activity, ServiceRecord
from volunteer_hub.reports.months import (
    Month, MonthError, birth_cutoff, local_starts, months_between, utc_starts,
)
from volunteer_hub.timebank.models import Account
from volunteer_hub.volunteers.models import Volunteer

DEFAULT_MAX_MONTHS = 36
DEFAULT_RANGE_MONTHS = 12
# (label, lowest age): holder age bands of the liability report, oldest first.
AGE_BANDS: tuple[tuple[str, int], ...] = (
    ("70+", 70), ("60-69", 60), ("45-59", 45), ("30-44", 30), ("<30", 0))


# --- arguments ---------------------------------------------------------------------------------

def zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai"))


def local_today() -> date:
    return utcnow().astimezone(zone()).date()


def max_months() -> int:
    return int(current_app.config.get("REPORTS_MAX_MONTHS", DEFAULT_MAX_MONTHS))


def _parse_month(text: str | None, name: str) -> Month | None:
    if text is None or not str(text).strip():
        return None
    try:
        return Month.parse(str(text))
    except MonthError:
        raise ValidationFailed(_l("Give a month as YYYY-MM, e.g. 2026-01."),
                               code="REPORT_MONTH_FORMAT", field=name) from None


def month_range(first: str | None, last: str | None) -> list[Month]:
    """The months from `first` to `last` (YYYY-MM); by default the last 12 up to this one."""
    end = _parse_month(last, "to") or Month.of(local_today())
    start = _parse_month(first, "from") or end.plus(1 - DEFAULT_RANGE_MONTHS)
    if start > end:
        raise ValidationFailed(_l("The first month must not be after the last one."),
                               code="REPORT_RANGE_REVERSED", field="from")
    months = months_between(start, end)
    if len(months) > max_months():
        raise ValidationFailed(_l("Choose at most %(num)d months.", num=max_months()),
                               code="REPORT_RANGE_TOO_LONG", field="to")
    return months


def report_org(org_id: int, *, by, permission: str = "reports.read") -> Org:
    """An org the caller may see reports of (organization nodes answer 403, not 404)."""
    org = db.session.get(Org, org_id)
    if org is None:
        raise NotFound()
    require(by, permission, org)
    return org


def set_resident_population(org: Org, population: int | None, *, by) -> Org:
    """The resident population an organizer records for the participation rate."""
    require(by, "reports.manage", org)
    if population is not None and population < 0:
        raise ValidationFailed(_l("The population cannot be negative."),
                               code="POPULATION_NEGATIVE", field="resident_population")
    org.resident_population = population
    db.session.flush()
    return org


# --- the monthly report ------------------------------------------------------------------------

@dataclass
class MonthStats:
    month: Month
    minutes_by_type: dict[str, int]
    active_volunteers: int = 0  # served in the subtree's activities
    new_registrations: int = 0
    registered_volunteers: int = 0  # living in the subtree, registered by the month's end
    active_residents: int = 0  # living in the subtree, served anywhere (通存通兑)
    beneficiaries_served: int = 0
    participation_rate: float | None = None  # active_residents / resident population

    @property
    def total_minutes(self) -> int:
        return sum(self.minutes_by_type.values())


@dataclass
class MonthlyReport:
    org: Org
    months: list[MonthStats]
    service_types: list[str]
    resident_population: int | None
    distinct_active_volunteers: int = 0
    totals_by_type: dict[str, int] = field(default_factory=dict)
    # the latest signed time-bank ledger checkpoint (timebank.checkpoints.summary), published
    # with the report so that readers keep copies and can hold the ledger to it
    ledger_checkpoint: dict | None = None

    @property
    def first(self) -> Month:
        return self.months[0].month

    @property
    def last(self) -> Month:
        return self.months[-1].month

    @property
    def total_minutes(self) -> int:
        return sum(self.totals_by_type.values())

    @property
    def new_registrations(self) -> int:
        return sum(row.new_registrations for row in self.months)

    @property
    def types_with_hours(self) -> list[str]:
        return [code for code in self.service_types if self.totals_by_type.get(code)]


def _bucket(column, edges: list):
    """The index of the month `column` falls in (edges: each month's start, then the end)."""
    return case(*[(column < edge, index) for index, edge in enumerate(edges[1:])])


def _in_edges(column, edges: list):
    return and_(column >= edges[0], column < edges[-1])


def _in_subtree(column, org: Org):
    return column.startswith(org.path, autoescape=True)


def _verified_records(edges: list):
    """Verified records (a replaced record's status is 'corrected') in the months."""
    return (ServiceRecord.status == "verified", ServiceRecord.check_in_at.is_not(None),
            _in_edges(ServiceRecord.check_in_at, edges))


def _minutes_by_month_and_type(org: Org, edges: list) -> dict[tuple[int, str], int]:
    bucket = _bucket(ServiceRecord.check_in_at, edges).label("bucket")
    rows = db.session.execute(
        select(bucket, Activity.service_type,
               func.coalesce(func.sum(ServiceRecord.minutes), 0))
        .join(Activity, Activity.id == ServiceRecord.activity_id)
        .where(*_verified_records(edges), _in_subtree(Activity.org_path, org))
        .group_by(bucket, Activity.service_type))
    return {(index, kind): int(minutes) for index, kind, minutes in rows}


def _active_volunteers_by_month(org: Org, edges: list) -> dict[int, int]:
    bucket = _bucket(ServiceRecord.check_in_at, edges).label("bucket")
    rows = db.session.execute(
        select(bucket, func.count(func.distinct(ServiceRecord.volunteer_id)))
        .join(Activity, Activity.id == ServiceRecord.activity_id)
        .where(*_verified_records(edges), _in_subtree(Activity.org_path, org))
        .group_by(bucket))
    return {index: int(count) for index, count in rows}


def _distinct_active_volunteers(org: Org, edges: list) -> int:
    return int(db.session.execute(
        select(func.count(func.distinct(ServiceRecord.volunteer_id)))
        .join(Activity, Activity.id == ServiceRecord.activity_id)
        .where(*_verified_records(edges), _in_subtree(Activity.org_path, org))).scalar() or 0)


def _active_residents_by_month(org: Org, edges: list) -> dict[int, int]:
    bucket = _bucket(ServiceRecord.check_in_at, edges).label("bucket")
    rows = db.session.execute(
        select(bucket, func.count(func.distinct(ServiceRecord.volunteer_id)))
        .join(Volunteer, Volunteer.id == ServiceRecord.volunteer_id)
        .where(*_verified_records(edges), _in_subtree(Volunteer.org_path, org))
        .group_by(bucket))
    return {index: int(count) for index, count in rows}


def _registrations_by_month(org: Org, naive_utc_edges: list) -> tuple[int, dict[int, int]]:
    """Volunteers registered before the first month, and in each month.

    `volunteers.created_at` is a naive UTC column, hence the naive UTC edges.
    """
    earlier = int(db.session.execute(
        select(func.count(Volunteer.id)).where(
            _in_subtree(Volunteer.org_path, org),
            Volunteer.created_at < naive_utc_edges[0])).scalar() or 0)
    bucket = _bucket(Volunteer.created_at, naive_utc_edges).label("bucket")
    rows = db.session.execute(
        select(bucket, func.count(Volunteer.id))
        .where(_in_subtree(Volunteer.org_path, org), _in_edges(Volunteer.created_at,
                                                                naive_utc_edges))
        .group_by(bucket))
    return earlier, {index: int(count) for index, count in rows}


def _beneficiaries_by_month(org: Org, local_edges: list) -> dict[int, int]:
    """Distinct beneficiaries of needs whose slots took place with an accepted volunteer.

    Service records carry no beneficiary (an activity is not linked to a need), so the
    count comes from matched tasks: a slot of a need for a named beneficiary, not
    cancelled, with an accepted assignment, that has ended. Slot times are local.
    """
    now_local = utcnow().astimezone(zone()).replace(tzinfo=None)
    bucket = _bucket(NeedSlot.start, local_edges).label("bucket")
    rows = db.session.execute(
        select(bucket, func.count(func.distinct(Need.beneficiary_id)))
        .join(Need, Need.id == NeedSlot.need_id)
        .join(Assignment, Assignment.slot_id == NeedSlot.id)
        .where(_in_subtree(Need.org_path, org), Need.beneficiary_id.is_not(None),
               NeedSlot.status != "cancelled", NeedSlot.end <= now_local,
               Assignment.state == "accepted", _in_edges(NeedSlot.start, local_edges))
        .group_by(bucket))
    return {index: int(count) for index, count in rows}


def monthly_report(org: Org, months: list[Month], *, by) -> MonthlyReport:
    """Hours by service type, active volunteers, registrations, beneficiaries served and
    participation, for each month of the range, over the org's subtree."""
    if by is not None:
        require(by, "reports.read", org)
    edges = utc_starts(months, zone())
    naive_utc_edges = [edge.astimezone(UTC).replace(tzinfo=None) for edge in edges]
    minutes = _minutes_by_month_and_type(org, edges)
    active = _active_volunteers_by_month(org, edges)
    residents = _active_residents_by_month(org, edges)
    earlier, registrations = _registrations_by_month(org, naive_utc_edges)
    beneficiaries = _beneficiaries_by_month(org, local_starts(months))
    types = list(SERVICE_TYPES) + sorted({kind for _, kind in minutes} - set(SERVICE_TYPES))
    population = org.resident_population
    rows, registered = [], earlier
    for index, month in enumerate(months):
        registered += registrations.get(index, 0)
        row = MonthStats(
            month=month,
            minutes_by_type={kind: minutes.get((index, kind), 0) for kind in types},
            active_volunteers=active.get(index, 0),
            new_registrations=registrations.get(index, 0),
            registered_volunteers=registered,
            active_residents=residents.get(index, 0),
            beneficiaries_served=beneficiaries.get(index, 0))
        row.participation_rate = (row.active_residents / population) if population else None
        rows.append(row)
    totals = {kind: sum(row.minutes_by_type[kind] for row in rows) for kind in types}
    return MonthlyReport(org=org, months=rows, service_types=types,
                         resident_population=population, totals_by_type=totals,
                         distinct_active_volunteers=_distinct_active_volunteers(org, edges),
                         ledger_checkpoint=_latest_ledger_checkpoint())


def _latest_ledger_checkpoint() -> dict | None:
    from volunteer_hub.timebank import checkpoints

    latest = checkpoints.latest()
    return checkpoints.summary(latest) if latest is not None else None


# --- the liability report ----------------------------------------------------------------------

@dataclass
class BandStats:
    band: str
    holders: int = 0
    redeemable_minutes: int = 0  # individual bucket: the holder may redeem or gift it
    group_minutes: int = 0  # earned as a group: donation only, still owed by the bank

    @property
    def total_minutes(self) -> int:
        return self.redeemable_minutes + self.group_minutes


@dataclass
class LiabilityReport:
    org: Org
    as_of: date
    redemption_age: int
    bands: list[BandStats]
    holders_of_redemption_age: int = 0
    minutes_of_redemption_age: int = 0  # redeemable today by holders of redemption age
    pool_minutes: int = 0  # community donation pools in the subtree

    @property
    def holders(self) -> int:
        return sum(band.holders for band in self.bands)

    @property
    def redeemable_minutes(self) -> int:
        return sum(band.redeemable_minutes for band in self.bands)

    @property
    def group_minutes(self) -> int:
        return sum(band.group_minutes for band in self.bands)

    @property
    def total_minutes(self) -> int:
        return self.redeemable_minutes + self.group_minutes + self.pool_minutes


def _age_band(birth_date, on: date):
    return case(*[(birth_date <= birth_cutoff(on, lowest), literal(label))
                  for label, lowest in AGE_BANDS[:-1]], else_=literal(AGE_BANDS[-1][0]))


def _holder_accounts(org: Org):
    """Volunteer accounts with a positive balance whose holder lives in the subtree."""
    return (select(Account, Volunteer)
            .join(Volunteer, Account.owner_id == cast(Volunteer.id, String))
            .where(Account.kind == "VOLUNTEER", _in_subtree(Volunteer.org_path, org),
                   Account.balance_individual + Account.balance_group > 0))


def _bands(org: Org, on: date) -> list[BandStats]:
    band = _age_band(Volunteer.birth_date, on).label("band")
    query = _holder_accounts(org).with_only_columns(
        band, func.count(Account.id), func.coalesce(func.sum(Account.balance_individual), 0),
        func.coalesce(func.sum(Account.balance_group), 0)).group_by(band)
    found = {label: BandStats(label, int(count), int(individual), int(group))
             for label, count, individual, group in db.session.execute(query)}
    return [found.get(label, BandStats(label)) for label, _ in reversed(AGE_BANDS)]


def _of_redemption_age(org: Org, on: date, age: int) -> tuple[int, int]:
    query = _holder_accounts(org).with_only_columns(
        func.count(Account.id), func.coalesce(func.sum(Account.balance_individual), 0)
    ).where(Volunteer.birth_date <= birth_cutoff(on, age))
    count, minutes = db.session.execute(query).one()
    return int(count), int(minutes)


def _pool_minutes(org: Org) -> int:
    return int(db.session.execute(
        select(func.coalesce(func.sum(Account.balance_individual + Account.balance_group), 0))
        .join(Org, Account.owner_id == cast(Org.id, String))
        .where(Account.kind == "POOL", _in_subtree(Org.path, org))).scalar() or 0)


def liability_report(org: Org, *, by, on: date | None = None) -> LiabilityReport:
    """Hours the time bank owes holders living in the subtree, by the holder's age band."""
    if by is not None:
        require(by, "reports.read", org)
    on = on or local_today()
    age = int(current_app.config.get("TIMEBANK_REDEMPTION_AGE", 60))
    holders, minutes = _of_redemption_age(org, on, age)
    return LiabilityReport(org=org, as_of=on, redemption_age=age, bands=_bands(org, on),
                           holders_of_redemption_age=holders,
                           minutes_of_redemption_age=minutes, pool_minutes=_pool_minutes(org))


def org_choices(user) -> list[Org]:
    """Organizations (down to communities) the user may see reports of."""
    paths = scope_paths(user, "reports.read")
    if not paths:
        return []
    return list(db.session.execute(
        select(Org).where(path_filter(Org.path, paths),
                          Org.level.in_(("city", "district", "street", "community")))
        .order_by(Org.path)).scalars())
