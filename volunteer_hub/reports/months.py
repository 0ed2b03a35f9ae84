"""Calendar months of a report and their boundaries (pure: no Flask, no SQLAlchemy).

A month is local to the station (Asia/Shanghai by default): service given on 1 March at
07:00 in Beijing is 23:00 UTC on 28 February and belongs to March.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class MonthError(ValueError):
    """A month text that is not YYYY-MM, or a month number outside 1-12."""


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        match = _MONTH.match(text.strip())
        if not match:
            raise MonthError(text)
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12 or year < 1900:
            raise MonthError(text)
        return cls(year, month)

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def plus(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def months_between(first: Month, last: Month) -> list[Month]:
    """Every month from `first` to `last`, both included (empty when first > last)."""
    months, current = [], first
    while current <= last:
        months.append(current)
        current = current.next()
    return months


def local_starts(months: list[Month]) -> list[datetime]:
    """Naive local midnights: each month's start, then the end of the last month."""
    edges = [*months, months[-1].next()]
    return [datetime.combine(m.first_day(), time.min) for m in edges]


def utc_starts(months: list[Month], zone: ZoneInfo) -> list[datetime]:
    """Aware UTC instants of each local month start, then the end of the last month."""
    return [moment.replace(tzinfo=zone).astimezone(UTC) for moment in local_starts(months)]


def birth_cutoff(on: date, age: int) -> date:
    """The latest birth date of someone who is at least `age` years old on `on`."""
    year = on.year - age
    if on.month == 2 and on.day == 29:
        return date(year, 2, 29) if _is_leap(year) else date(year, 2, 28)
    return date(year, on.month, on.day)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
