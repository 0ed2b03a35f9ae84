"""Months and birth cutoffs (pure)."""
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from volunteer_hub.reports.months import Month, MonthError, birth_cutoff, months_between, utc_starts


def test_month_arithmetic_crosses_years():
    assert str(Month(2026, 12).next()) == "2027-01"
    assert str(Month(2026, 1).plus(-1)) == "2025-12"
    assert [str(m) for m in months_between(Month(2025, 11), Month(2026, 2))] == [
        "2025-11", "2025-12", "2026-01", "2026-02"]


@pytest.mark.parametrize("text", ["2026-00", "2026-13", "2026/01", "202601", "abcd-ef", ""])
def test_bad_month_text(text):
    with pytest.raises(MonthError):
        Month.parse(text)


def test_local_month_starts_in_utc():
    edges = utc_starts([Month(2026, 3)], ZoneInfo("Asia/Shanghai"))
    assert edges == [datetime(2026, 2, 28, 16, 0, tzinfo=UTC),
                     datetime(2026, 3, 31, 16, 0, tzinfo=UTC)]


def test_birth_cutoff_on_a_leap_day():
    assert birth_cutoff(date(2026, 11, 23), 60) == date(1966, 11, 23)
    # someone born 28 Feb 1961 is 59 on 29 Feb 2020; born 1 March 1961 is only 58
    assert birth_cutoff(date(2020, 2, 29), 59) == date(1961, 2, 28)
    assert birth_cutoff(date(2020, 2, 29), 60) == date(1960, 2, 29)
