"""China's working days: the only place that knows which days count as working days.

The national calendar (public holidays and the 调休 make-up working days) comes from the
chinese-calendar package; a deployment adds local extra holidays and extra working days
(WORKDAYS_EXTRA_HOLIDAYS / WORKDAYS_EXTRA_WORKDAYS, ISO dates). For a year the package does
not cover, Monday-Friday counts (plus the local days), and the count says so: an organizer
must know the deadline may be off by the holidays nobody published yet.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from datetime import date, timedelta

import chinese_calendar
from flask import current_app
from flask_babel import lazy_gettext as _l

log = logging.getLogger(__name__)

HOLIDAY_NAMES = {
    chinese_calendar.Holiday.new_years_day.value: _l("New Year's Day"),
    chinese_calendar.Holiday.spring_festival.value: _l("Spring Festival"),
    chinese_calendar.Holiday.tomb_sweeping_day.value: _l("Tomb-sweeping Day"),
    chinese_calendar.Holiday.labour_day.value: _l("Labour Day"),
    chinese_calendar.Holiday.dragon_boat_festival.value: _l("Dragon Boat Festival"),
    chinese_calendar.Holiday.national_day.value: _l("National Day"),
    chinese_calendar.Holiday.mid_autumn_festival.value: _l("Mid-autumn Festival"),
    chinese_calendar.Holiday.anti_fascist_70th_day.value: _l("Victory Day (70th anniversary)"),
}

# Why a day is or is not a working day.
WEEKDAY, WEEKEND, HOLIDAY, MAKEUP, LOCAL_HOLIDAY, LOCAL_WORKDAY = (
    "weekday", "weekend", "holiday", "makeup", "local_holiday", "local_workday")
REASON_LABELS = {
    WEEKDAY: _l("Working day"),
    WEEKEND: _l("Weekend"),
    HOLIDAY: _l("Public holiday"),
    MAKEUP: _l("Make-up working day"),
    LOCAL_HOLIDAY: _l("Local holiday"),
    LOCAL_WORKDAY: _l("Local extra working day"),
}

_warned_years: set[int] = set()


@functools.cache
def covered_years() -> range:
    years = [day.year for day in chinese_calendar.holidays]
    return range(min(years), max(years) + 1)


def is_covered(year: int) -> bool:
    return year in covered_years()


def uncovered_notice(year: int):
    """What the organizer reads when a count used a year without national holiday data."""
    return _l("Holiday data does not cover %(year)d: Monday to Friday were counted.", year=year)


@dataclass(frozen=True)
class Day:
    day: date
    working: bool
    reason: str
    holiday: str | None = None  # the package's holiday key (HOLIDAY_NAMES), if any

    @property
    def label(self):
        if self.holiday is not None and self.reason in (HOLIDAY, MAKEUP):
            name = HOLIDAY_NAMES.get(self.holiday, self.holiday)
            return _l("%(reason)s (%(name)s)", reason=REASON_LABELS[self.reason], name=name)
        return REASON_LABELS[self.reason]


@dataclass(frozen=True)
class Calendar:
    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()

    def day(self, day: date) -> Day:
        if day in self.extra_holidays:
            return Day(day, False, LOCAL_HOLIDAY)
        if day in self.extra_workdays:
            return Day(day, True, LOCAL_WORKDAY)
        if not is_covered(day.year):
            _warn_uncovered(day.year)
            return Day(day, day.weekday() < 5, WEEKDAY if day.weekday() < 5 else WEEKEND)
        holiday, name = chinese_calendar.get_holiday_detail(day)
        if day.weekday() < 5:
            return Day(day, not holiday, HOLIDAY if holiday else WEEKDAY, name)
        if not holiday:  # a Saturday or Sunday worked in exchange for a holiday (调休)
            return Day(day, True, MAKEUP, name)
        return Day(day, False, HOLIDAY if name else WEEKEND, name)

    def is_working_day(self, day: date) -> bool:
        return self.day(day).working

    def count(self, start: date, working_days: int) -> WorkingDayCount:
        """The day `working_days` working days after `start`, and the days on the way."""
        counted: list[date] = []
        skipped: list[Day] = []
        day = start
        while len(counted) < working_days:
            day += timedelta(days=1)
            info = self.day(day)
            (counted.append(day) if info.working else skipped.append(info))
        uncovered = sorted({d.year for d in counted + [s.day for s in skipped]
                            if not is_covered(d.year)})
        return WorkingDayCount(start, day, tuple(counted), tuple(skipped), tuple(uncovered))

    def add_working_days(self, start: date, working_days: int) -> date:
        return self.count(start, working_days).deadline

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (0 when end <= start)."""
        total, day = 0, start
        while day < end:
            day += timedelta(days=1)
            total += self.is_working_day(day)
        return total


@dataclass(frozen=True)
class WorkingDayCount:
    start: date
    deadline: date
    counted: tuple[date, ...]
    skipped: tuple[Day, ...] = field(default=())
    uncovered_years: tuple[int, ...] = field(default=())

    @property
    def notices(self) -> list:
        return [uncovered_notice(year) for year in self.uncovered_years]


def _warn_uncovered(year: int) -> None:
    if year not in _warned_years:
        _warned_years.add(year)
        log.warning("No national holiday data for %d (chinese-calendar covers %s-%s): "
                    "counting Monday to Friday plus WORKDAYS_EXTRA_* only",
                    year, covered_years().start, covered_years().stop - 1)


def _dates(values) -> frozenset[date]:
    if isinstance(values, str):
        values = [v for v in values.replace(";", ",").split(",") if v.strip()]
    return frozenset(v if isinstance(v, date) else date.fromisoformat(str(v).strip())
                     for v in values or ())


def check_settings(config) -> None:
    """At start: a local day nobody can read stops the app, instead of a 500 wherever a
    deadline is computed."""
    for name in ("WORKDAYS_EXTRA_HOLIDAYS", "WORKDAYS_EXTRA_WORKDAYS"):
        try:
            _dates(config.get(name))
        except (TypeError, ValueError) as error:
            raise ValueError(f"{name}={config.get(name)!r}: {error} "
                             "(ISO dates, e.g. [\"2026-11-25\"])") from None


def calendar() -> Calendar:
    """The deployment's calendar: the national one adjusted by the local settings."""
    config = current_app.config
    return Calendar(_dates(config.get("WORKDAYS_EXTRA_HOLIDAYS")),
                    _dates(config.get("WORKDAYS_EXTRA_WORKDAYS")))


def add_working_days(start: date, working_days: int) -> date:
    return calendar().add_working_days(start, working_days)


def count_working_days(start: date, working_days: int) -> WorkingDayCount:
    return calendar().count(start, working_days)
